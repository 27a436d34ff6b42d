//! Check my connection: before a call, whether this network allows direct calls and
//! whether the server's relay answers, in plain words. The gathering is the browser's
//! (`client/network_check.rs`), the verdict the model's (`mesh/network_check.rs`).

use crate::components::words;
use crate::i18n::*;
use crate::mesh::network_check::{CheckFailed, Report};
use leptos::prelude::*;

/// Where the check stands (the server renders only the first; the browser runs it).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
enum Check {
    NotRun,
    Running,
    Done(Report),
    Failed(CheckFailed),
}

/// The button, and what the last check found.
#[component]
pub fn ConnectionCheck() -> impl IntoView {
    let i18n = use_i18n();
    let check = RwSignal::new(Check::NotRun);
    let run = move |_| {
        if check.with(|c| *c == Check::Running) {
            return;
        }
        check.set(Check::Running);
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            let outcome = match crate::client::network_check::gather().await {
                Ok(findings) => Check::Done(Report::from(&findings)),
                Err(why) => Check::Failed(why),
            };
            check.set(outcome);
        });
    };
    let result = move || match check.get() {
        Check::NotRun => ().into_any(),
        Check::Running => {
            view! { <p>{move || td_string!(i18n.get_locale(), home.checking)}</p> }.into_any()
        }
        Check::Failed(why) => {
            view! { <p class="check-bad">{words::check_failed(i18n.get_locale(), why)}</p> }
                .into_any()
        }
        Check::Done(report) => {
            let verdict = if report.calls_work() {
                "check-good"
            } else {
                "check-bad"
            };
            view! {
                <ul class=format!("check-findings {verdict}")>
                    <li class="check-direct">{words::direct(i18n.get_locale(), report.direct)}</li>
                    <li class="check-relay">{words::relay(i18n.get_locale(), report.relay)}</li>
                    {report
                        .advice()
                        .map(|advice| {
                            view! {
                                <li class="check-advice">{words::advice(i18n.get_locale(), advice)}</li>
                            }
                        })}
                </ul>
            }
            .into_any()
        }
    };
    view! {
        <div class="connection-check">
            <button
                type="button"
                class="secondary"
                on:click=run
                aria-busy=move || (check.get() == Check::Running).to_string()
            >
                {move || td_string!(i18n.get_locale(), home.check)}
            </button>
            <div class="check-result" role="status" aria-live="polite">{result}</div>
        </div>
    }
}
