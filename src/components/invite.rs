use crate::browser;
use leptos::html::Input;
use leptos::prelude::*;

/// "Copy invite link": puts a link to this room on the clipboard. Where the browser
/// refuses the clipboard, the link is shown selected, ready for Ctrl+C.
#[component]
pub fn InviteButton(room: String) -> impl IntoView {
    let copied = RwSignal::new(false);
    let shown = RwSignal::new(None::<String>);
    let field = NodeRef::<Input>::new();
    let copy = move |_| browser::copy_invite_link(&room, copied, shown, field);
    view! {
        <div class="invite">
            <button on:click=copy>"Copy invite link"</button>
            <span class="copied" aria-live="polite">
                {move || copied.get().then_some("Invite link copied")}
            </span>
            <Show when=move || shown.with(Option::is_some)>
                <label class="invite-fallback">
                    "Invite link (copy it with Ctrl+C)"
                    <input node_ref=field readonly prop:value=move || shown.get().unwrap_or_default()/>
                </label>
            </Show>
        </div>
    }
}
