use crate::mesh::CallStatus;
use leptos::prelude::*;

/// The one-line call status, announced to screen readers as it changes.
#[component]
pub fn StatusLine(status: RwSignal<CallStatus>) -> impl IntoView {
    let state = move || match status.get() {
        CallStatus::InCall {
            connecting,
            interrupted,
            failed,
            ..
        } if connecting.is_empty() && interrupted.is_empty() && failed.is_empty() => "connected",
        CallStatus::Failed(_) | CallStatus::RoomFull | CallStatus::NotLetIn(_) => "problem",
        CallStatus::Ended | CallStatus::Removed(_) => "ended",
        _ => "pending",
    };
    view! {
        <p class="status" data-state=state role="status" aria-live="polite">
            {move || status.get().text()}
        </p>
    }
}
