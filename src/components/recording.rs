//! Recording: the person's own controls (Record, Pause, Stop, with the running time and
//! size), who is recording (said on every page), and the files made, offered for saving.

use crate::call_state::{CallState, UiCommand};
use crate::components::words;
use crate::i18n::*;
use leptos::prelude::*;

/// Record, or while recording: the time and size so far, Pause/Resume, Stop recording.
#[component]
pub fn RecordingControls(call: CallState, send: Callback<UiCommand>) -> AnyView {
    let i18n = use_i18n();
    let recording = move || call.recording.get();
    view! {
        <Show
            when=move || recording().is_some()
            fallback=move || {
                view! {
                    <button
                        title=move || td_string!(i18n.get_locale(), controls.record_title)
                        on:click=move |_| send.run(UiCommand::StartRecording)
                    >
                        {move || td_string!(i18n.get_locale(), controls.record)}
                    </button>
                }
            }
        >
            <span class="recording-controls" role="group" aria-label=move || td_string!(i18n.get_locale(), controls.recording)>
                <span class="recording-time" aria-live="off">
                    {move || {
                        recording()
                            .map(|r| running(i18n.get_locale(), r.elapsed_ms, r.bytes))
                            .unwrap_or_default()
                    }}
                </span>
                <button
                    class="toggle"
                    aria-pressed=move || recording().is_some_and(|r| r.paused).to_string()
                    on:click=move |_| {
                        let paused = call.recording.get_untracked().is_some_and(|r| r.paused);
                        send.run(if paused { UiCommand::ResumeRecording } else { UiCommand::PauseRecording });
                    }
                >
                    {move || {
                        if recording().is_some_and(|r| r.paused) {
                            td_string!(i18n.get_locale(), controls.resume)
                        } else {
                            td_string!(i18n.get_locale(), controls.pause)
                        }
                    }}
                </button>
                <button class="danger" on:click=move |_| send.run(UiCommand::StopRecording)>
                    {move || td_string!(i18n.get_locale(), controls.stop_recording)}
                </button>
            </span>
        </Show>
    }
    .into_any()
}

/// "● 1:05 · 3.2 MiB"
fn running(locale: Locale, elapsed_ms: f64, bytes: u64) -> String {
    let seconds = (elapsed_ms / 1000.0).floor() as u64;
    format!(
        "● {}:{:02} · {}",
        seconds / 60,
        seconds % 60,
        words::bytes(locale, bytes)
    )
}

/// "Alice is recording", "You and Bob are recording": beside the status line on every
/// page, from the moment a recording starts until it stops or its maker leaves.
#[component]
pub fn RecordingNote(call: CallState) -> AnyView {
    let i18n = use_i18n();
    let said = move || {
        let me = call.recording.with(Option::is_some);
        let others: Vec<String> = call.people.with(|people| {
            people
                .iter()
                .filter(|p| p.recording)
                .map(|p| p.name.clone())
                .collect()
        });
        who_records(i18n.get_locale(), me, others)
    };
    view! {
        <p class="recording-note" aria-live="polite">
            {move || said().map(|text| view! { <span class="recording-dot" aria-hidden="true">"●"</span> {text} })}
        </p>
    }
    .into_any()
}

/// Who is recording, said in `locale`: the person themselves (`me`) and the others by
/// name. Nobody: `None`.
fn who_records(locale: Locale, me: bool, others: Vec<String>) -> Option<String> {
    let text = match (me, others.as_slice()) {
        (false, []) => return None,
        (true, []) => td_string!(locale, controls.you_recording).to_owned(),
        (false, [name]) => td_string!(locale, controls.one_recording, name).to_string(),
        (false, _) => td_string!(locale, controls.many_recording, names = others).to_string(),
        (true, _) => {
            // "You, Bob and Carol": the person first, in their language's word.
            let names: Vec<String> = std::iter::once(td_string!(locale, controls.you).to_owned())
                .chain(others)
                .collect();
            td_string!(locale, controls.you_and_others_recording, names).to_string()
        }
    };
    Some(text)
}

/// The recordings made in this call, each a link that saves it.
#[component]
pub fn SavedRecordings(call: CallState) -> AnyView {
    let i18n = use_i18n();
    view! {
        <Show when=move || call.recordings.with(|r| !r.is_empty())>
            <ul class="recordings" aria-label=move || td_string!(i18n.get_locale(), controls.recordings)>
                <For each=move || call.recordings.get() key=|r| r.url.clone() let(saved)>
                    <li>
                        {td!(
                            i18n.get_locale(),
                            controls.recording_ready,
                            name = saved.name.clone(),
                            size = words::bytes(i18n.get_locale(), saved.bytes),
                            <save> = <a href=saved.url.clone() download=saved.name.clone() type="video/webm" />
                        )}
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
        assert_eq!(
            running(Locale::en_GB, 65_400.0, 3_355_443),
            "● 1:05 · 3.2 MiB"
        );
        assert_eq!(running(Locale::en_GB, 0.0, 0), "● 0:00 · 0 bytes");
        assert_eq!(running(Locale::de, 0.0, 1), "● 0:00 · 1 Byte");
    }

    #[test]
    fn who_records_is_said_in_the_language_of_the_page() {
        let names = |list: &[&str]| list.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let en = Locale::en_GB;
        assert_eq!(who_records(en, false, vec![]), None);
        assert_eq!(
            who_records(en, true, vec![]).as_deref(),
            Some("You are recording")
        );
        assert_eq!(
            who_records(en, false, names(&["Alice"])).as_deref(),
            Some("Alice is recording")
        );
        assert_eq!(
            who_records(en, false, names(&["Bob", "Carol", "Dave"])).as_deref(),
            Some("Bob, Carol and Dave are recording")
        );
        assert_eq!(
            who_records(en, true, names(&["Bob"])).as_deref(),
            Some("You and Bob are recording")
        );
        assert_eq!(
            who_records(en, true, names(&["Bob", "Carol"])).as_deref(),
            Some("You, Bob and Carol are recording")
        );
        assert_eq!(
            who_records(Locale::de, true, names(&["Bob"])).as_deref(),
            Some("Sie und Bob nehmen auf")
        );
        assert_eq!(
            who_records(Locale::fr, true, names(&["Bob", "Carol"])).as_deref(),
            Some("Vous, Bob et Carol enregistrez")
        );
        assert_eq!(
            who_records(Locale::es, false, names(&["Bob", "Carol"])).as_deref(),
            Some("Bob y Carol están grabando")
        );
    }
}
