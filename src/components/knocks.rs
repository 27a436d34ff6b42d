//! The host's prompts for the people waiting at the locked room's door.

use crate::call_state::{CallState, UiCommand};
use crate::i18n::*;
use crate::protocol::signaling::HostCommand;
use leptos::prelude::*;

/// "Dave is asking to join", with **Admit** and **Deny**, for each person waiting, in the
/// order they came. While anyone waits, the tab's title says so too, for a host whose
/// page is in the background (a chime sounds as each one knocks).
#[component]
pub fn KnockPrompts(call: CallState, send: Callback<UiCommand>) -> AnyView {
    // The title the page had before anyone knocked, put back once nobody waits.
    let original = StoredValue::new(None::<String>);
    let i18n = use_i18n();
    Effect::new(move || {
        let knocks = call.knocks.get();
        let locale = i18n.get_locale();
        let document = document();
        let before = original.get_value().unwrap_or_else(|| document.title());
        match knocks.first() {
            Some((_, name)) => {
                original.set_value(Some(before));
                let more = knocks.len() - 1;
                let title = if more == 0 {
                    td_string!(locale, people.asking_to_join, name).to_string()
                } else {
                    td_string!(locale, people.asking_to_join_more, name, count = more).to_string()
                };
                document.set_title(&title);
            }
            None => {
                if let Some(title) = original.get_value() {
                    document.set_title(&title);
                    original.set_value(None);
                }
            }
        }
    });
    view! {
        <For
            each=move || call.knocks.get()
            key=|(knock, _)| *knock
            children=move |(knock, name)| {
                view! {
                    <p class="knock" role="alert">
                        {move || td_string!(i18n.get_locale(), people.knock, name = &name)}
                        " "
                        <button class="primary" on:click=move |_| send.run(UiCommand::Host(HostCommand::Admit(knock)))>
                            {move || td_string!(i18n.get_locale(), people.admit)}
                        </button>
                        <button on:click=move |_| send.run(UiCommand::Host(HostCommand::Deny(knock)))>{move || td_string!(i18n.get_locale(), people.deny)}</button>
                    </p>
                }
            }
        />
    }
    .into_any()
}
