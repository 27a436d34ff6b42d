use crate::call_state::{CallState, UiCommand};
use crate::components::recording::RecordingControls;
use crate::protocol::peer::Reaction;
use leptos::prelude::*;

/// The call's buttons. Toggles are real toggle buttons (`aria-pressed`), so screen readers
/// say "Mute, pressed".
#[component]
pub fn CallControls(
    call: CallState,
    send: Callback<UiCommand>,
    /// The stats panel is open.
    show_stats: RwSignal<bool>,
) -> AnyView {
    let sharing = call.sharing_screen;
    let hand_up = move || {
        call.hands
            .with(|hands| hands.iter().any(|h| h.who.is_none()))
    };
    // The reactions picker is open.
    let picking = RwSignal::new(false);
    view! {
        <div class="controls" role="toolbar" aria-label="Call controls">
            <button
                class="toggle"
                aria-pressed=move || (!call.microphone_on.get()).to_string()
                aria-keyshortcuts="M"
                title="Mute (M)"
                on:click=move |_| send.run(UiCommand::ToggleMicrophone)
            >
                "Mute"
            </button>
            <span class="muted-hint-slot" aria-live="polite">
                <Show when=move || call.speaking_while_muted.get() && !call.microphone_on.get()>
                    <span class="muted-hint">"You are muted: unmute to be heard"</span>
                </Show>
            </span>
            <button
                class="toggle"
                aria-pressed=move || (!call.camera_on.get()).to_string()
                aria-keyshortcuts="V"
                title="Camera off (V)"
                on:click=move |_| send.run(UiCommand::ToggleCamera)
            >
                "Camera off"
            </button>
            <button
                class="toggle"
                aria-pressed=move || sharing.get().to_string()
                on:click=move |_| {
                    send.run(if sharing.get_untracked() {
                        UiCommand::StopSharing
                    } else {
                        UiCommand::ShareScreen
                    })
                }
            >
                {move || if sharing.get() { "Stop sharing" } else { "Share screen" }}
            </button>
            <button
                class="toggle"
                aria-pressed=move || hand_up().to_string()
                aria-keyshortcuts="H"
                title="Raise or lower your hand (H)"
                on:click=move |_| send.run(UiCommand::ToggleHand)
            >
                {move || if hand_up() { "Lower hand" } else { "Raise hand" }}
            </button>
            <span class="react">
                <button
                    aria-expanded=move || picking.get().to_string()
                    aria-controls="reactions"
                    on:click=move |_| picking.update(|open| *open = !*open)
                >
                    "React"
                </button>
                <Show when=move || picking.get()>
                    <span
                        id="reactions"
                        class="reactions-picker"
                        role="group"
                        aria-label="Reactions"
                        on:keydown=move |ev| {
                            if ev.key() == "Escape" {
                                picking.set(false);
                            }
                        }
                    >
                        {Reaction::ALL
                            .into_iter()
                            .map(|reaction| {
                                view! {
                                    <button
                                        aria-label=reaction_name(reaction)
                                        title=reaction_name(reaction)
                                        on:click=move |_| send.run(UiCommand::React(reaction))
                                    >
                                        {reaction.emoji()}
                                    </button>
                                }
                            })
                            .collect_view()}
                    </span>
                </Show>
            </span>
            <RecordingControls call send/>
            <button
                title="Keep the call in a small window over your other windows"
                on:click=move |_| crate::browser::pop_out(call, send)
            >
                "Pop out"
            </button>
            <button
                class="toggle"
                aria-pressed=move || show_stats.get().to_string()
                on:click=move |_| show_stats.update(|on| *on = !*on)
            >
                "Stats"
            </button>
            <button class="danger" on:click=move |_| send.run(UiCommand::HangUp)>
                "Hang up"
            </button>
        </div>
    }
    .into_any()
}

/// What a reaction is called, for its button and for screen readers.
pub fn reaction_name(reaction: Reaction) -> &'static str {
    match reaction {
        Reaction::ThumbsUp => "Thumbs up",
        Reaction::Clap => "Applause",
        Reaction::Laugh => "Laughing",
        Reaction::Heart => "Love",
        Reaction::Party => "Celebration",
        Reaction::Surprised => "Surprised",
    }
}

/// `m` toggles the microphone, `v` the camera and `h` the hand, except while typing.
pub fn shortcut(key: &str, typing: bool, modified: bool) -> Option<UiCommand> {
    if typing || modified {
        return None;
    }
    match key {
        "m" | "M" => Some(UiCommand::ToggleMicrophone),
        "v" | "V" => Some(UiCommand::ToggleCamera),
        "h" | "H" => Some(UiCommand::ToggleHand),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortcuts_stay_out_of_the_way_of_typing() {
        assert!(matches!(
            shortcut("m", false, false),
            Some(UiCommand::ToggleMicrophone)
        ));
        assert!(matches!(
            shortcut("V", false, false),
            Some(UiCommand::ToggleCamera)
        ));
        assert!(matches!(
            shortcut("h", false, false),
            Some(UiCommand::ToggleHand)
        ));
        assert!(shortcut("h", true, false).is_none());
        assert!(shortcut("m", true, false).is_none());
        assert!(shortcut("m", false, true).is_none());
        assert!(shortcut("x", false, false).is_none());
    }
}
