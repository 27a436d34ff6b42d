//! What the page shows of the call: the machine's view copied into the screen's signals
//! (at most once a frame), and the video elements streams play in.

use super::*;
use crate::client::error_name;
use leptos::html::Video;
use wasm_bindgen_futures::JsFuture;
use web_sys::MediaStream;

impl Session {
    /// Asks for the screen to follow the machine at the next animation frame: a peer
    /// flooding media-state hints costs one redraw a frame, not one per message.
    pub(super) fn schedule_redraw(&mut self) {
        if self.redraw_pending {
            return;
        }
        let events = self.events.clone();
        let redraw = Closure::once_into_js(move || {
            let _ = events.unbounded_send(Event::Redraw);
        });
        let asked = web_sys::window()
            .map(|w| w.request_animation_frame(redraw.unchecked_ref()).is_ok())
            .unwrap_or(false);
        if asked {
            self.redraw_pending = true;
        } else {
            self.show_state();
        }
    }

    /// Copies the machine's view of the call into the screen's signals (each only on a
    /// real change, so nothing re-renders for nothing).
    pub(super) fn show_state(&self) {
        let seated_as = self.machine.seated_as().map(str::to_owned);
        if self.view.seated_as.try_with_untracked(|s| *s != seated_as) == Some(true) {
            self.view.seated_as.set(seated_as);
        }
        let status = self.machine.status();
        if self.view.status.try_with_untracked(|s| *s != status) == Some(true) {
            self.view.status.set(status);
        }
        let people: Vec<mesh::Person> = self.machine.people().cloned().collect();
        // A recipient or stats choice naming someone who left falls back to the default.
        let here = |id: &PeerId| people.iter().any(|p| p.id == *id);
        if let Some(Some(gone)) = self.view.send_to.try_get_untracked() {
            if !here(&gone) {
                self.view.send_to.set(None);
            }
        }
        if let Some(Some(gone)) = self.view.stats_of.try_get_untracked() {
            if !here(&gone) {
                self.view.stats_of.set(None);
            }
        }
        if self.view.people.try_with_untracked(|p| *p != people) == Some(true) {
            self.view.people.set(people);
        }
        let hands = self.machine.hands();
        if self.view.hands.try_with_untracked(|h| *h != hands) == Some(true) {
            self.view.hands.set(hands);
        }
        let shown = |r: &Vec<mesh::meeting::ShownReaction>| r.iter().eq(self.machine.reactions());
        if self.view.reactions.try_with_untracked(shown) == Some(false) {
            self.view
                .reactions
                .set(self.machine.reactions().cloned().collect());
        }
        let chat_open = self.machine.people().any(|p| p.chat_open);
        if self.view.chat_open.try_get_untracked() != Some(chat_open) {
            self.view.chat_open.set(chat_open);
        }
        let lost = self.machine.server_lost();
        if self.view.server_lost.try_get_untracked() != Some(lost) {
            self.view.server_lost.set(lost);
        }
        let budget = self.machine.upload_budget();
        if self.view.upload_budget.try_get_untracked() != Some(budget) {
            self.view.upload_budget.set(budget);
        }
        let host = self.machine.host();
        if self.view.host.try_get_untracked() != Some(host) {
            self.view.host.set(host);
        }
        let is_host = self.machine.is_host();
        if self.view.is_host.try_get_untracked() != Some(is_host) {
            self.view.is_host.set(is_host);
        }
        let locked = self.machine.locked();
        if self.view.locked.try_get_untracked() != Some(locked) {
            self.view.locked.set(locked);
        }
        let knocks = self.machine.knocks();
        if self.view.knocks.try_with_untracked(|k| k != knocks) == Some(true) {
            self.view.knocks.set(knocks.to_vec());
        }
        let switches = self.machine.switches();
        if self.view.microphone_on.try_get_untracked() != Some(switches.microphone) {
            self.view.microphone_on.set(switches.microphone);
        }
        if self.view.camera_on.try_get_untracked() != Some(switches.camera) {
            self.view.camera_on.set(switches.camera);
        }
        let max_file_bytes = self.machine.terms().max_file_bytes;
        if self.view.max_file_bytes.try_get_untracked() != Some(max_file_bytes) {
            self.view.max_file_bytes.set(max_file_bytes);
        }
    }
}

/// The element behind `node`, if the call screen still shows it. The session outlives the
/// screen (it tears down after navigation), so it must never assume the view is there:
/// reads of the view use `try_` forms (writes to a disposed signal are already no-ops).
pub(super) fn element(node: NodeRef<Video>) -> Option<HtmlVideoElement> {
    node.try_get_untracked().flatten()
}

/// Shows `stream` in `video` (once) and starts it playing.
pub(super) fn show_stream(video: &HtmlVideoElement, stream: &MediaStream, view: CallState) {
    if video.src_object().as_ref() != Some(stream) {
        video.set_src_object(Some(stream));
        play(video.clone(), view);
    }
}

/// Starts playback; if the browser wants a click first, the call screen offers a button.
pub(super) fn play(video: HtmlVideoElement, view: CallState) {
    let Ok(promise) = video.play() else {
        return;
    };
    spawn_local(async move {
        if let Err(e) = JsFuture::from(promise).await {
            if error_name(&e) == "NotAllowedError" {
                view.needs_play.set(true);
            }
        }
    });
}
