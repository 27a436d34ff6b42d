use crate::components::words;
use crate::i18n::*;
use crate::mesh::CallStatus;
use leptos::prelude::*;

/// The one-line call status, announced to screen readers as it changes.
#[component]
pub fn StatusLine(status: RwSignal<CallStatus>) -> impl IntoView {
    let i18n = use_i18n();
    let state = move || match status.get() {
        CallStatus::InCall {
            connecting,
            interrupted,
            failed,
            ..
        } if connecting.is_empty() && interrupted.is_empty() && failed.is_empty() => "connected",
        CallStatus::Failed(_) | CallStatus::RoomFull | CallStatus::NotLetIn { .. } => "problem",
        CallStatus::Ended | CallStatus::Removed(_) => "ended",
        _ => "pending",
    };
    view! {
        <p class="status" data-state=state role="status" aria-live="polite">
            {move || status.with(|s| words::status(i18n.get_locale(), s))}
        </p>
    }
}
