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
        <aside class="chat" aria-label="Chat">
            <p class="chat-note">
                "Messages go to everyone in the call. You see what is written after you joined."
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
                <label for="chat-message" class="visually-hidden">"Message"</label>
                <input
                    id="chat-message"
                    autocomplete="off"
                    placeholder=move || {
                        if ready.get() { "Message" } else { "Chat opens when you are connected" }
                    }
                    bind:value=draft
                />
                <button type="submit" disabled=move || !ready.get() || too_long()>"Send"</button>
            </form>
            <p class="field-error" role="alert">
                {move || {
                    too_long()
                        .then(|| format!("Messages can be at most {MAX_CHAT_CHARS} characters."))
                }}
            </p>
        </aside>
    }
    .into_any()
}
