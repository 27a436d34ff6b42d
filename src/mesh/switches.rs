//! What this side sends: the person's microphone and camera switches (on the join card,
//! then Mute and Camera off), and the tracks the browser has (a microphone, a camera, a
//! shared screen). What the others are told (`media`) and which local tracks are enabled
//! follow from both, decided here.

use super::MediaState;

/// A kind of local track.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrackKind {
    /// The microphone's.
    Audio,
    /// The camera's.
    Video,
}

impl TrackKind {
    /// The browser's name for it (`MediaStreamTrack.kind`).
    pub fn name(self) -> &'static str {
        match self {
            TrackKind::Audio => "audio",
            TrackKind::Video => "video",
        }
    }
}

/// The person's switches: on unless they turned them off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Switches {
    pub microphone: bool,
    pub camera: bool,
}

impl Default for Switches {
    fn default() -> Self {
        Switches {
            microphone: true,
            camera: true,
        }
    }
}

impl Switches {
    /// What the others are told we send, with `tracks` at hand (`audio`: a microphone
    /// track, `video`: a camera track, `screen`: a shared screen in the camera's place).
    /// A shared screen is sent whatever the camera's switch says.
    pub fn sending(self, tracks: MediaState) -> MediaState {
        MediaState {
            audio: tracks.audio && self.microphone,
            video: tracks.screen || (tracks.video && self.camera),
            screen: tracks.screen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: MediaState = MediaState {
        audio: true,
        video: true,
        screen: false,
    };

    #[test]
    fn a_switch_turned_off_is_what_the_others_are_told() {
        let off = Switches {
            microphone: false,
            camera: false,
        };
        assert_eq!(
            off.sending(ALL),
            MediaState {
                audio: false,
                video: false,
                screen: false
            }
        );
        assert_eq!(Switches::default().sending(ALL), ALL);
    }

    #[test]
    fn no_track_is_nothing_sent_whatever_the_switch_and_a_shared_screen_is_always_video() {
        let none = MediaState {
            audio: false,
            video: false,
            screen: false,
        };
        assert_eq!(Switches::default().sending(none), none);
        let screen = MediaState {
            screen: true,
            ..none
        };
        let camera_off = Switches {
            microphone: true,
            camera: false,
        };
        assert!(camera_off.sending(screen).video);
    }
}
