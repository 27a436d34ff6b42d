use crate::i18n::*;
use crate::mesh::ChatLine;
use crate::protocol::peer::MAX_CHAT_CHARS;
use leptos::prelude::*;

/// Text chat. Lines travel over the peer-to-peer data channel, never through the server;
/// they are rendered as text, so markup in a message stays markup-free.
#[component]
pub fn ChatPanel(
    lines: RwSignal<Vec<ChatLine>>,
    /// The data channel is open.
    ready: RwSignal<bool>,
    on_send: Callback<String>,
) -> AnyView {
    let i18n = use_i18n();
    let draft = RwSignal::new(String::new());
    let too_long = move || draft.with(|text| text.chars().count() > MAX_CHAT_CHARS);
    let send = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let text = draft.get_untracked();
        if ready.get_untracked() && !text.trim().is_empty() && !too_long() {
            on_send.run(text);
            draft.set(String::new());
        }
    };
    view! {
        <aside class="chat" aria-label=move || td_string!(i18n.get_locale(), controls.chat)>
            <p class="chat-note">
                {move || td_string!(i18n.get_locale(), controls.chat_note)}
            </p>
            <ol class="chat-lines" aria-live="polite">
                <For
                    each=move || lines.get()
                    // Keyed by the line's own id: when old lines scroll away for good,
                    // the rest are not drawn again.
                    key=|line| line.id
                    children=|line| {
                        view! {
                            <li class:mine=line.mine>
                                <span class="who">{line.from}</span>
                                <span class="text">{line.text}</span>
                            </li>
                        }
                    }
                />
            </ol>
            <form class="chat-form" on:submit=send>
                <label for="chat-message" class="visually-hidden">{move || td_string!(i18n.get_locale(), controls.message)}</label>
                <input
                    id="chat-message"
                    autocomplete="off"
                    placeholder=move || {
                        if ready.get() {
                            td_string!(i18n.get_locale(), controls.message)
                        } else {
                            td_string!(i18n.get_locale(), controls.chat_closed)
                        }
                    }
                    bind:value=draft
                />
                <button type="submit" disabled=move || !ready.get() || too_long()>{move || td_string!(i18n.get_locale(), controls.send)}</button>
            </form>
            <p class="field-error" role="alert">
                {move || {
                    let max = MAX_CHAT_CHARS;
                    too_long().then(|| td_string!(i18n.get_locale(), controls.chat_too_long, max).to_string())
                }}
            </p>
        </aside>
    }
    .into_any()
}
