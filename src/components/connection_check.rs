//! Check my connection: before a call, whether this network allows direct calls and
//! whether the server's relay answers, in plain words. The gathering is the browser's
//! (`client/network_check.rs`), the verdict the model's (`mesh/network_check.rs`).

use crate::mesh::network_check::Report;
use leptos::prelude::*;

/// Where the check stands (the server renders only the first; the browser runs it).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
enum Check {
    NotRun,
    Running,
    Done(Report),
    Failed(String),
}

/// The button, and what the last check found.
#[component]
pub fn ConnectionCheck() -> impl IntoView {
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
        Check::Running => view! { <p>"Checking…"</p> }.into_any(),
        Check::Failed(why) => view! { <p class="check-bad">{why}</p> }.into_any(),
        Check::Done(report) => {
            let verdict = if report.calls_work() {
                "check-good"
            } else {
                "check-bad"
            };
            view! {
                <ul class=format!("check-findings {verdict}")>
                    <li class="check-direct">{report.direct_text()}</li>
                    <li class="check-relay">{report.relay_text()}</li>
                    {report.advice().map(|advice| view! { <li class="check-advice">{advice}</li> })}
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
                "Check my connection"
            </button>
            <div class="check-result" role="status" aria-live="polite">{result}</div>
        </div>
    }
}
