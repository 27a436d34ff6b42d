use crate::call::CallStatus;
use leptos::prelude::*;

/// The one-line call status, announced to screen readers as it changes.
#[component]
pub fn StatusLine(status: RwSignal<CallStatus>) -> impl IntoView {
    let state = move || match status.get() {
        CallStatus::Connected { .. } => "connected",
        CallStatus::Failed(_) | CallStatus::RoomFull => "problem",
        CallStatus::Ended => "ended",
        _ => "pending",
    };
    view! {
        <p class="status" data-state=state role="status" aria-live="polite">
            {move || status.get().text()}
        </p>
    }
}
