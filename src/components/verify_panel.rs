//! The code of one connection, shown while its panel is open ("Verify Bob").

use crate::call_state::{CallState, UiCommand};
use leptos::prelude::*;

/// Both people open it and read their codes to each other: the same code means their
/// browsers are connected to each other, not to someone in the middle.
#[component]
pub fn VerifyPanel(call: CallState, send: Callback<UiCommand>) -> impl IntoView {
    let shown = move || call.verifying.get();
    view! {
        <Show when=move || call.verifying.with(Option::is_some)>
            <section class="verify-panel" role="dialog" aria-label="Verification code">
                {move || {
                    shown()
                        .map(|v| match v.code {
                            Ok(code) => {
                                view! {
                                    <p>{format!("Your code with {}:", v.name)}</p>
                                    <p class="verify-code" aria-label="Code">{code}</p>
                                    <p class="verify-hint">
                                        {format!(
                                            "Read it to {} by voice. If {} sees the same code, nobody is in the middle of your call.",
                                            v.name, v.name,
                                        )}
                                    </p>
                                    <button
                                        class="primary"
                                        on:click=move |_| send.run(UiCommand::MarkVerified(v.id))
                                    >
                                        {format!("Mark {} as verified", v.name)}
                                    </button>
                                }
                                    .into_any()
                            }
                            Err(why) => {
                                view! {
                                    <p>{format!("No code with {} yet: {why}.", v.name)}</p>
                                }
                                    .into_any()
                            }
                        })
                }}
                <button on:click=move |_| call.verifying.set(None)>"Close"</button>
            </section>
        </Show>
    }
}
