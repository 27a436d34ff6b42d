use crate::browser;
use crate::i18n::*;
use leptos::html::Input;
use leptos::prelude::*;

/// "Copy invite link": puts a link to this room on the clipboard. Where the browser
/// refuses the clipboard, the link is shown selected, ready for Ctrl+C.
#[component]
pub fn InviteButton(room: String) -> impl IntoView {
    let i18n = use_i18n();
    let copied = RwSignal::new(false);
    let shown = RwSignal::new(None::<String>);
    let field = NodeRef::<Input>::new();
    let copy = move |_| browser::copy_invite_link(&room, copied, shown, field);
    view! {
        <div class="invite">
            <button on:click=copy>{move || td_string!(i18n.get_locale(), controls.copy_invite)}</button>
            <span class="copied" aria-live="polite">
                {move || copied.get().then(|| td_string!(i18n.get_locale(), controls.invite_copied))}
            </span>
            <Show when=move || shown.with(Option::is_some)>
                <label class="invite-fallback">
                    {move || td_string!(i18n.get_locale(), controls.invite_fallback)}
                    <input node_ref=field readonly prop:value=move || shown.get().unwrap_or_default()/>
                </label>
            </Show>
        </div>
    }
}
