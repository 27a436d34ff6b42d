//! The notes above the call: the server out of reach, the call open elsewhere, waiting
//! at a locked room's door, someone knocking, a verification code, the host asking to
//! mute, and what the page has to say.

use crate::call_state::{CallState, UiCommand};
use crate::components::knocks::KnockPrompts;
use crate::components::recording::SavedRecordings;
use crate::components::verify_panel::VerifyPanel;
use crate::components::words;
use crate::i18n::*;
use crate::mesh::CallStatus;
use leptos::prelude::*;

/// Everything said above the call's stage, each only while it holds. (Its own component,
/// type-erased: kept inline, the call screen's type outgrows the compiler's depth limit.)
#[component]
pub fn CallNotes(call: CallState, send: Callback<UiCommand>) -> AnyView {
    let status = call.status;
    let i18n = use_i18n();
    view! {
        <div class="notes">
            <Show when=move || call.server_lost.get()>
                <p class="server-note" role="note">
                    {move || td_string!(i18n.get_locale(), people.server_lost)}
                </p>
            </Show>
            <Show when=move || status.with(|s| *s == CallStatus::OpenElsewhere)>
                <p class="elsewhere-note" role="alert">
                    {move || td_string!(i18n.get_locale(), people.open_elsewhere)}
                    " "
                    <button class="primary" on:click=move |_| send.run(UiCommand::TakeBack)>
                        {move || td_string!(i18n.get_locale(), people.use_here)}
                    </button>
                </p>
            </Show>
            <Show when=move || status.with(|s| matches!(s, CallStatus::Knocking(_)))>
                <p class="knocking" role="note">
                    {move || td_string!(i18n.get_locale(), people.knocking)}
                    " "
                    <button on:click=move |_| send.run(UiCommand::HangUp)>{move || td_string!(i18n.get_locale(), people.cancel)}</button>
                </p>
            </Show>
            <KnockPrompts call send/>
            <SavedRecordings call/>
            <VerifyPanel call send/>
            <Show when=move || call.mute_request.with(Option::is_some)>
                <p class="mute-request" role="alert">
                    {move || td_string!(i18n.get_locale(), people.asks_you_to_mute, name = call.mute_request.get().unwrap_or_default())}
                    " "
                    <button
                        class="primary"
                        on:click=move |_| {
                            if call.microphone_on.get_untracked() {
                                send.run(UiCommand::ToggleMicrophone);
                            }
                            call.mute_request.set(None);
                        }
                    >
                        {move || td_string!(i18n.get_locale(), people.mute)}
                    </button>
                    <button on:click=move |_| call.mute_request.set(None)>{move || td_string!(i18n.get_locale(), people.not_now)}</button>
                </p>
            </Show>
            <Show when=move || call.notice.with(Option::is_some)>
                <p class="media-note" role="alert">
                    {move || call.notice.with(|n| n.as_ref().map(|n| words::notice(i18n.get_locale(), n)))}
                </p>
            </Show>
            <Show when=move || call.media_note.with(Option::is_some)>
                <p class="media-note" role="note">
                    {move || {
                        call.media_note.with(|n| n.as_ref().map(|n| words::media_note(i18n.get_locale(), n)))
                    }}
                </p>
            </Show>
        </div>
    }
    .into_any()
}
