//! The notes above the call: the server out of reach, the call open elsewhere, waiting
//! at a locked room's door, someone knocking, a verification code, the host asking to
//! mute, and what the page has to say.

use crate::call_state::{CallState, UiCommand};
use crate::components::knocks::KnockPrompts;
use crate::components::recording::SavedRecordings;
use crate::components::verify_panel::VerifyPanel;
use crate::mesh::CallStatus;
use leptos::prelude::*;

/// Everything said above the call's stage, each only while it holds. (Its own component,
/// type-erased: kept inline, the call screen's type outgrows the compiler's depth limit.)
#[component]
pub fn CallNotes(call: CallState, send: Callback<UiCommand>) -> AnyView {
    let status = call.status;
    view! {
        <div class="notes">
            <Show when=move || call.server_lost.get()>
                <p class="server-note" role="note">
                    "Lost the connection to the server; reconnecting… The call goes on meanwhile."
                </p>
            </Show>
            <Show when=move || status.with(|s| *s == CallStatus::OpenElsewhere)>
                <p class="elsewhere-note" role="alert">
                    "This call is open in another tab or device. "
                    <button class="primary" on:click=move |_| send.run(UiCommand::TakeBack)>
                        "Use here"
                    </button>
                </p>
            </Show>
            <Show when=move || status.with(|s| matches!(s, CallStatus::Knocking(_)))>
                <p class="knocking" role="note">
                    "The room is locked: you take no seat, and nobody in the call sees or hears you until the host lets you in. "
                    <button on:click=move |_| send.run(UiCommand::HangUp)>"Cancel"</button>
                </p>
            </Show>
            <KnockPrompts call send/>
            <SavedRecordings call/>
            <VerifyPanel call send/>
            <Show when=move || call.mute_request.with(Option::is_some)>
                <p class="mute-request" role="alert">
                    {move || {
                        format!(
                            "{} asks you to mute. Your sound goes straight to the others, so only you can switch it off. ",
                            call.mute_request.get().unwrap_or_default(),
                        )
                    }}
                    <button
                        class="primary"
                        on:click=move |_| {
                            if call.microphone_on.get_untracked() {
                                send.run(UiCommand::ToggleMicrophone);
                            }
                            call.mute_request.set(None);
                        }
                    >
                        "Mute"
                    </button>
                    <button on:click=move |_| call.mute_request.set(None)>"Not now"</button>
                </p>
            </Show>
            <Show when=move || call.notice.with(Option::is_some)>
                <p class="media-note" role="alert">{move || call.notice.get()}</p>
            </Show>
            <Show when=move || call.media_note.with(Option::is_some)>
                <p class="media-note" role="note">{move || call.media_note.get()}</p>
            </Show>
        </div>
    }
    .into_any()
}
