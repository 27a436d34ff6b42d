//! Recording: the person's own controls (Record, Pause, Stop, with the running time and
//! size), who is recording (said on every page), and the files made, offered for saving.

use crate::call_state::{CallState, UiCommand};
use crate::mesh;
use crate::protocol::file::human_bytes;
use leptos::prelude::*;

/// Record, or while recording: the time and size so far, Pause/Resume, Stop recording.
#[component]
pub fn RecordingControls(call: CallState, send: Callback<UiCommand>) -> AnyView {
    let recording = move || call.recording.get();
    view! {
        <Show
            when=move || recording().is_some()
            fallback=move || {
                view! {
                    <button
                        title="Record the call as you see it; everyone is told"
                        on:click=move |_| send.run(UiCommand::StartRecording)
                    >
                        "Record"
                    </button>
                }
            }
        >
            <span class="recording-controls" role="group" aria-label="Recording">
                <span class="recording-time" aria-live="off">
                    {move || recording().map(|r| running(r.elapsed_ms, r.bytes)).unwrap_or_default()}
                </span>
                <button
                    class="toggle"
                    aria-pressed=move || recording().is_some_and(|r| r.paused).to_string()
                    on:click=move |_| {
                        let paused = call.recording.get_untracked().is_some_and(|r| r.paused);
                        send.run(if paused { UiCommand::ResumeRecording } else { UiCommand::PauseRecording });
                    }
                >
                    {move || if recording().is_some_and(|r| r.paused) { "Resume" } else { "Pause" }}
                </button>
                <button class="danger" on:click=move |_| send.run(UiCommand::StopRecording)>
                    "Stop recording"
                </button>
            </span>
        </Show>
    }
    .into_any()
}

/// "● 1:05 · 3.2 MiB"
fn running(elapsed_ms: f64, bytes: u64) -> String {
    let seconds = (elapsed_ms / 1000.0).floor() as u64;
    format!(
        "● {}:{:02} · {}",
        seconds / 60,
        seconds % 60,
        human_bytes(bytes)
    )
}

/// "Alice is recording", "You and Bob are recording": beside the status line on every
/// page, from the moment a recording starts until it stops or its maker leaves.
#[component]
pub fn RecordingNote(call: CallState) -> AnyView {
    let said = move || {
        let mut names: Vec<String> = Vec::new();
        if call.recording.with(Option::is_some) {
            names.push("You".to_owned());
        }
        call.people.with(|people| {
            names.extend(
                people
                    .iter()
                    .filter(|p| p.recording)
                    .map(|p| p.name.clone()),
            );
        });
        match names.len() {
            0 => None,
            1 if names[0] == "You" => Some("You are recording".to_owned()),
            1 => Some(format!("{} is recording", names[0])),
            _ => Some(format!("{} are recording", mesh::list(&names))),
        }
    };
    view! {
        <p class="recording-note" aria-live="polite">
            {move || said().map(|text| view! { <span class="recording-dot" aria-hidden="true">"●"</span> {text} })}
        </p>
    }
    .into_any()
}

/// The recordings made in this call, each a link that saves it.
#[component]
pub fn SavedRecordings(call: CallState) -> AnyView {
    view! {
        <Show when=move || call.recordings.with(|r| !r.is_empty())>
            <ul class="recordings" aria-label="Recordings">
                <For each=move || call.recordings.get() key=|r| r.url.clone() let(saved)>
                    <li>
                        "Recording ready: "
                        <a href=saved.url.clone() download=saved.name.clone() type="video/webm">
                            {format!("Save {}", saved.name)}
                        </a>
                        {format!(" ({})", human_bytes(saved.bytes))}
                    </li>
                </For>
            </ul>
        </Show>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_running_time_reads_as_minutes_and_seconds_with_the_size() {
        assert_eq!(running(65_400.0, 3_355_443), "● 1:05 · 3.2 MiB");
        assert_eq!(running(0.0, 0), "● 0:00 · 0 bytes");
    }
}
