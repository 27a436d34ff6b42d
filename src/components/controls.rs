use crate::call_state::{CallState, UiCommand};
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

/// `m` toggles the microphone and `v` the camera, except while typing.
pub fn shortcut(key: &str, typing: bool, modified: bool) -> Option<UiCommand> {
    if typing || modified {
        return None;
    }
    match key {
        "m" | "M" => Some(UiCommand::ToggleMicrophone),
        "v" | "V" => Some(UiCommand::ToggleCamera),
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
        assert!(shortcut("m", true, false).is_none());
        assert!(shortcut("m", false, true).is_none());
        assert!(shortcut("x", false, false).is_none());
    }
}
