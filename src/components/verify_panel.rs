//! The code of one connection, shown while its panel is open ("Verify Bob").

use crate::call_state::{CallState, UiCommand};
use crate::components::words;
use crate::i18n::*;
use leptos::prelude::*;

/// Both people open it and read their codes to each other: the same code means their
/// browsers are connected to each other, not to someone in the middle.
#[component]
pub fn VerifyPanel(call: CallState, send: Callback<UiCommand>) -> impl IntoView {
    let shown = move || call.verifying.get();
    let i18n = use_i18n();
    view! {
        <Show when=move || call.verifying.with(Option::is_some)>
            <section class="verify-panel" role="dialog" aria-label=move || td_string!(i18n.get_locale(), people.verification_code)>
                {move || {
                    shown()
                        .map(|v| {
                            let name = v.name;
                            match v.code {
                                Ok(code) => {
                                    view! {
                                        <p>{let name = name.clone(); move || td_string!(i18n.get_locale(), people.your_code_with, name = &name)}</p>
                                        <p class="verify-code" aria-label=move || td_string!(i18n.get_locale(), people.code)>
                                            {code}
                                        </p>
                                        <p class="verify-hint">
                                            {let name = name.clone(); move || td_string!(i18n.get_locale(), people.verify_hint, name = &name)}
                                        </p>
                                        <button
                                            class="primary"
                                            on:click=move |_| send.run(UiCommand::MarkVerified(v.id))
                                        >
                                            {move || td_string!(i18n.get_locale(), people.mark_verified, name = &name)}
                                        </button>
                                    }
                                        .into_any()
                                }
                                Err(why) => {
                                    let why = words::no_code(i18n.get_locale(), &why);
                                    view! { <p>{move || td_string!(i18n.get_locale(), people.no_code_yet, name = &name, why = &why)}</p> }.into_any()
                                }
                            }
                        })
                }}
                <button on:click=move |_| call.verifying.set(None)>{move || td_string!(i18n.get_locale(), people.close)}</button>
            </section>
        </Show>
    }
}
