//! This side's media: the microphone and camera switches, devices, and a shared screen
//! in place of the camera.

use super::*;
use crate::call_state::Sound;
use crate::client::error_name;
use crate::client::muted_speech::MutedListener;
use crate::mesh::notice::Notice;
use crate::mesh::switches::{Switches, TrackKind};
use crate::mesh::MediaState;
use web_sys::MediaStream;

impl Session {
    /// Enables or disables the local tracks as the switches say (the machine decides: no
    /// renegotiation, a disabled track sends silence or black).
    pub(super) fn enable_tracks(&mut self, switches: Switches) {
        // A copy of the microphone is listened to while muted, for "You are muted".
        if self.muted_listener.is_none() {
            self.muted_listener = self.microphone_track().map(|microphone| {
                MutedListener::start(
                    &microphone,
                    self.view.microphone_on,
                    self.view.speaking_while_muted,
                )
            });
        }
        if let Some(stream) = &self.media.stream {
            for track in stream.get_tracks().iter() {
                let track = track.unchecked_into::<MediaStreamTrack>();
                track.set_enabled(if track.kind() == "audio" {
                    switches.microphone
                } else {
                    switches.camera
                });
            }
        }
    }

    /// Tells the machine which tracks we have (it tells everyone what we send).
    pub(super) async fn announce(&mut self) {
        let has = |kind: &str| {
            self.media.stream.as_ref().is_some_and(|s| {
                s.get_tracks()
                    .iter()
                    .any(|t| t.unchecked_into::<MediaStreamTrack>().kind() == kind)
            })
        };
        let tracks = MediaState {
            audio: has("audio"),
            video: has("video"),
            screen: self.screen.is_some(),
        };
        self.input(Input::LocalTracks(tracks)).await;
    }

    /// Refreshes the camera and microphone lists, and which ones are in use.
    pub(super) async fn list_devices(&self) {
        match media::devices().await {
            Ok((cameras, microphones)) => {
                // Only on a real change: re-rendering the options would reset the choice.
                if self.view.cameras.try_with_untracked(|c| *c != cameras) == Some(true) {
                    self.view.cameras.set(cameras);
                }
                if self
                    .view
                    .microphones
                    .try_with_untracked(|m| *m != microphones)
                    == Some(true)
                {
                    self.view.microphones.set(microphones);
                }
            }
            Err(why) => leptos::logging::warn!("cannot list devices: {why}"),
        }
        let in_use = |kind: &str| media::device_id(&self.local_track(kind)?);
        self.view.camera_id.set(in_use("video"));
        self.view.microphone_id.set(in_use("audio"));
    }

    /// Our camera's (`"video"`) or microphone's (`"audio"`) track, if we have one.
    fn local_track(&self, kind: &str) -> Option<MediaStreamTrack> {
        self.media.stream.as_ref().and_then(|stream| {
            stream
                .get_tracks()
                .iter()
                .map(|t| t.unchecked_into::<MediaStreamTrack>())
                .find(|t| t.kind() == kind)
        })
    }

    fn microphone_track(&self) -> Option<MediaStreamTrack> {
        self.local_track("audio")
    }

    /// Switches the microphone's processing. The live track is asked first; where the
    /// browser takes the constraints but keeps processing as before (Chromium), the same
    /// microphone is closed, opened again with them and put on the wire in its place,
    /// which needs no renegotiation either.
    pub(super) async fn set_sound(&mut self, sound: Sound) {
        self.view.sound.set(sound);
        let Some(track) = self.microphone_track() else {
            return;
        };
        if let Err(why) = media::apply_sound(&track, sound).await {
            leptos::logging::warn!("the microphone refused the sound settings: {why}");
        }
        if !media::sound_applied(&track).matches(sound) {
            if let Some(id) = media::device_id(&track) {
                // Chromium processes a microphone as its first open track asks: the old
                // track (and the muted listener's copy) must end before the new one opens.
                // The others hear a moment of silence.
                self.muted_listener = None;
                track.stop();
                let opened = media::open_device(DeviceKind::Microphone, &id, sound).await;
                self.use_device(DeviceKind::Microphone, opened).await;
            }
        }
        self.show_sound();
    }

    /// Shows what the browser applies to the microphone now.
    pub(super) fn show_sound(&self) {
        let applied = self.microphone_track().map(|t| media::sound_applied(&t));
        if self.view.sound_applied.try_get_untracked() != Some(applied) {
            self.view.sound_applied.set(applied);
        }
    }

    /// Puts a newly opened device's track in place of the old one, locally and towards
    /// the other side, without dropping the call.
    pub(super) async fn use_device(
        &mut self,
        kind: DeviceKind,
        opened: Result<MediaStreamTrack, String>,
    ) {
        let track = match opened {
            Ok(track) => track,
            Err(why) => {
                self.view.notice.set(Some(Notice::DeviceFailed(why)));
                return;
            }
        };
        self.view.notice.set(None);
        let wire_kind = track.kind();
        // `Clone::clone`, not `.clone()`: MediaStream has an inherent JS `clone()` that
        // copies the stream and its tracks.
        let stream = match &self.media.stream {
            Some(stream) => Clone::clone(stream),
            None => match MediaStream::new() {
                Ok(stream) => {
                    self.media.stream = Some(Clone::clone(&stream));
                    stream
                }
                Err(_) => return,
            },
        };
        for old in stream.get_tracks().iter() {
            let old = old.unchecked_into::<MediaStreamTrack>();
            if old.kind() == wire_kind {
                stream.remove_track(&old);
                old.stop();
            }
        }
        stream.add_track(&track);
        if wire_kind == "audio" {
            // Listened to again (if muted) when the machine switches the new track.
            self.muted_listener = None;
        }
        if self.screen.is_none() {
            self.show_preview(Some(&stream));
        }
        // Whether it goes on the wire now, and on or off, is the machine's to say.
        let kind = match kind {
            DeviceKind::Microphone => TrackKind::Audio,
            DeviceKind::Camera => TrackKind::Video,
        };
        self.input(Input::NewTrack(kind)).await;
        self.announce().await;
        self.list_devices().await;
        self.show_sound();
    }

    /// Sends our local track of `kind` to everyone, in place of what goes now.
    pub(super) async fn put_on_wire(&self, kind: TrackKind) {
        let track = self.local_track(kind.name());
        if let Err(e) = self.replace_on_all(kind.name(), track.as_ref()).await {
            leptos::logging::warn!("switching device failed: {}", error_name(&e));
        }
    }

    /// Opens the browser's screen picker. The person may take their time, so the answer
    /// comes back as an event and the call goes on meanwhile.
    pub(super) fn pick_screen(&self) {
        if self.screen.is_some() {
            return;
        }
        self.view.notice.set(None);
        let events = self.events.clone();
        spawn_local(async move {
            let _ = events.unbounded_send(Event::ScreenPicked(media::display().await));
        });
    }

    pub(super) async fn start_sharing(&mut self, picked: Result<MediaStreamTrack, String>) {
        if self.screen.is_some() {
            if let Ok(track) = picked {
                track.stop();
            }
            return;
        }
        let track = match picked {
            Ok(track) => track,
            Err(why) => {
                self.view.notice.set(Some(Notice::ShareNotStarted(why)));
                return;
            }
        };
        let events = self.events.clone();
        let on_ended = Closure::<dyn FnMut()>::new(move || {
            let _ = events.unbounded_send(Event::Ui(UiCommand::StopSharing));
        });
        track.set_onended(Some(on_ended.as_ref().unchecked_ref()));
        if let Err(e) = self.replace_on_all("video", Some(&track)).await {
            track.stop();
            self.view
                .notice
                .set(Some(Notice::ShareFailed(error_name(&e))));
            return;
        }
        self.show_preview(
            MediaStream::new_with_tracks(&js_sys::Array::of1(&track))
                .ok()
                .as_ref(),
        );
        self.screen = Some(ScreenShare {
            track,
            _on_ended: on_ended,
        });
        self.view.sharing_screen.set(true);
        self.announce().await;
    }

    pub(super) async fn stop_sharing(&mut self) {
        let Some(screen) = self.screen.take() else {
            return;
        };
        screen.track.set_onended(None);
        screen.track.stop();
        let camera = self.camera_track();
        if let Err(e) = self.replace_on_all("video", camera.as_ref()).await {
            leptos::logging::warn!("back to the camera failed: {}", error_name(&e));
        }
        self.show_preview(self.media.stream.as_ref());
        self.view.sharing_screen.set(false);
        self.announce().await;
    }

    pub(super) fn camera_track(&self) -> Option<MediaStreamTrack> {
        self.local_track("video")
    }

    pub(super) fn show_preview(&self, stream: Option<&MediaStream>) {
        if let Some(video) = element(self.view.local_video) {
            video.set_src_object(stream);
        }
    }
}

/// Asks the browser to say when devices come and go. The closure must live as long as
/// the session; the caller keeps it and unregisters it at the end.
pub(super) fn watch_devices(events: &UnboundedSender<Event>) -> Option<Closure<dyn FnMut()>> {
    let devices = media::media_devices().ok()?;
    let events = events.clone();
    let closure = Closure::<dyn FnMut()>::new(move || {
        let _ = events.unbounded_send(Event::DevicesChanged);
    });
    devices.set_ondevicechange(Some(closure.as_ref().unchecked_ref()));
    Some(closure)
}

pub(super) struct ScreenShare {
    pub(super) track: MediaStreamTrack,
    /// Stopping from the browser's own "Stop sharing" bar ends the track.
    pub(super) _on_ended: Closure<dyn FnMut()>,
}
