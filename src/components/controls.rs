use crate::call_state::{CallState, PopOutWords, UiCommand};
use crate::components::recording::RecordingControls;
use crate::i18n::*;
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
    let i18n = use_i18n();
    let sharing = call.sharing_screen;
    let hand_up = move || {
        call.hands
            .with(|hands| hands.iter().any(|h| h.who.is_none()))
    };
    // The reactions picker is open.
    let picking = RwSignal::new(false);
    view! {
        <div class="controls" role="toolbar" aria-label=move || td_string!(i18n.get_locale(), controls.call_controls)>
            <button
                class="toggle"
                aria-pressed=move || (!call.microphone_on.get()).to_string()
                aria-keyshortcuts="M"
                title=move || td_string!(i18n.get_locale(), controls.mute_title)
                on:click=move |_| send.run(UiCommand::ToggleMicrophone)
            >
                {move || td_string!(i18n.get_locale(), controls.mute)}
            </button>
            <span class="muted-hint-slot" aria-live="polite">
                <Show when=move || call.speaking_while_muted.get() && !call.microphone_on.get()>
                    <span class="muted-hint">{move || td_string!(i18n.get_locale(), controls.muted_hint)}</span>
                </Show>
            </span>
            <button
                class="toggle"
                aria-pressed=move || (!call.camera_on.get()).to_string()
                aria-keyshortcuts="V"
                title=move || td_string!(i18n.get_locale(), controls.camera_off_title)
                on:click=move |_| send.run(UiCommand::ToggleCamera)
            >
                {move || td_string!(i18n.get_locale(), controls.camera_off)}
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
                {move || {
                    if sharing.get() {
                        td_string!(i18n.get_locale(), controls.stop_sharing)
                    } else {
                        td_string!(i18n.get_locale(), controls.share_screen)
                    }
                }}
            </button>
            <button
                class="toggle"
                aria-pressed=move || hand_up().to_string()
                aria-keyshortcuts="H"
                title=move || td_string!(i18n.get_locale(), controls.hand_title)
                on:click=move |_| send.run(UiCommand::ToggleHand)
            >
                {move || {
                    if hand_up() {
                        td_string!(i18n.get_locale(), controls.lower_hand)
                    } else {
                        td_string!(i18n.get_locale(), controls.raise_hand)
                    }
                }}
            </button>
            <span class="react">
                <button
                    aria-expanded=move || picking.get().to_string()
                    aria-controls="reactions"
                    on:click=move |_| picking.update(|open| *open = !*open)
                >
                    {move || td_string!(i18n.get_locale(), controls.react)}
                </button>
                <Show when=move || picking.get()>
                    <span
                        id="reactions"
                        class="reactions-picker"
                        role="group"
                        aria-label=move || td_string!(i18n.get_locale(), controls.reactions)
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
                                        aria-label=move || reaction_label(i18n.get_locale(), reaction)
                                        title=move || reaction_label(i18n.get_locale(), reaction)
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
                title=move || td_string!(i18n.get_locale(), controls.pop_out_title)
                on:click=move |_| {
                    let words = PopOutWords {
                        title: td_string!(i18n.get_locale(), call.pop_out_title).to_owned(),
                        mute: td_string!(i18n.get_locale(), controls.mute).to_owned(),
                        hang_up: td_string!(i18n.get_locale(), controls.hang_up).to_owned(),
                    };
                    crate::browser::pop_out(call, send, words)
                }
            >
                {move || td_string!(i18n.get_locale(), controls.pop_out)}
            </button>
            <button
                class="toggle"
                aria-pressed=move || show_stats.get().to_string()
                on:click=move |_| show_stats.update(|on| *on = !*on)
            >
                {move || td_string!(i18n.get_locale(), controls.stats)}
            </button>
            <button class="danger" on:click=move |_| send.run(UiCommand::HangUp)>
                {move || td_string!(i18n.get_locale(), controls.hang_up)}
            </button>
        </div>
    }
    .into_any()
}

/// What a reaction is called in `locale`, for its button and for screen readers.
pub fn reaction_label(locale: Locale, reaction: Reaction) -> &'static str {
    match reaction {
        Reaction::ThumbsUp => td_string!(locale, controls.reaction_thumbs_up),
        Reaction::Clap => td_string!(locale, controls.reaction_clap),
        Reaction::Laugh => td_string!(locale, controls.reaction_laugh),
        Reaction::Heart => td_string!(locale, controls.reaction_heart),
        Reaction::Party => td_string!(locale, controls.reaction_party),
        Reaction::Surprised => td_string!(locale, controls.reaction_surprised),
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

    #[test]
    fn reactions_are_named_in_the_language_of_the_page() {
        assert_eq!(
            reaction_label(Locale::en_GB, Reaction::ThumbsUp),
            "Thumbs up"
        );
        assert_eq!(reaction_label(Locale::en_GB, Reaction::Heart), "Love");
        assert_eq!(reaction_label(Locale::de, Reaction::Clap), "Applaus");
    }
}
