//! The peer connections: one per person, opened and closed as the machine decides, and
//! what each reports.

use super::on_screen::show_stream;
use super::*;
use crate::client::error_name;
use crate::mesh::budget::SenderLimits;
use crate::mesh::{ConnectionState, IceState};
use crate::protocol::file::CHANNEL_PREFIX;
use wasm_bindgen::JsValue;
use web_sys::{MediaStream, RtcIceConnectionState, RtcPeerConnectionState};

impl Session {
    pub(super) async fn on_peer(&mut self, id: PeerId, event: PeerEvent) {
        let Some(remote) = self.peers.get_mut(&id) else {
            // From a peer connection already closed.
            return;
        };
        // When it happened: now, or for a message, when it arrived (how long a hand has
        // been up is counted from then).
        let mut at = now();
        let input = match event {
            PeerEvent::Candidate(signal) => PeerInput::LocalSignal(signal),
            PeerEvent::NegotiationNeeded => match remote.peer.negotiate().await {
                Ok(Some(offer)) => PeerInput::LocalSignal(offer),
                Ok(None) => return,
                Err(e) => PeerInput::NegotiationFailed(error_name(&e)),
            },
            PeerEvent::Track(track) => {
                remote.peer.add_remote_track(&track);
                if let Some(video) = self.tiles.get(&id) {
                    show_stream(video, remote.peer.remote_stream(), self.view);
                }
                return;
            }
            // Taken or refused as the machine decides (at most a few at once from anyone).
            PeerEvent::DataChannel(channel) if channel.label().starts_with(CHANNEL_PREFIX) => {
                self.offered_file = Some(channel);
                PeerInput::FileOffered
            }
            PeerEvent::Chat(channel, listeners) => {
                remote.peer.take_chat(channel, listeners);
                return;
            }
            // A second chat channel, or one this version does not know: closed unread.
            PeerEvent::DataChannel(channel) => {
                channel.close();
                return self.warn_once("a data channel this page does not use");
            }
            PeerEvent::Unreadable(why) => PeerInput::Unreadable(why),
            PeerEvent::ChatOpen => PeerInput::ChatOpen,
            PeerEvent::ChatClosed => PeerInput::ChatClosed,
            PeerEvent::Message(text, arrived) => {
                at = arrived;
                PeerInput::Message(text)
            }
            PeerEvent::State(state) => PeerInput::State(match state {
                RtcPeerConnectionState::Connected => ConnectionState::Connected,
                RtcPeerConnectionState::Disconnected => ConnectionState::Disconnected,
                RtcPeerConnectionState::Failed => ConnectionState::Failed,
                _ => ConnectionState::Connecting,
            }),
            PeerEvent::Ice(state) => PeerInput::Ice(match state {
                RtcIceConnectionState::Disconnected => IceState::Disconnected,
                RtcIceConnectionState::Failed => IceState::Failed,
                _ => IceState::Other,
            }),
        };
        let connected = input == PeerInput::State(ConnectionState::Connected);
        self.input_at(Input::Peer(id, input), at).await;
        // Connected (again): the code as it is now, should the certificates have changed.
        if connected {
            if let Ok(code) = self.code_of(id) {
                self.input(Input::Peer(id, PeerInput::Code(code))).await;
            }
        }
    }

    /// Opens a connection to `id`, sending our tracks; with `screen`, the shared screen in
    /// the camera's place.
    pub(super) fn open_peer(&mut self, id: PeerId, polite: bool, screen: bool) -> Option<Input> {
        let name = self.machine.people().find(|p| p.id == id)?.name.clone();
        let terms = self.machine.terms();
        let stream = match self.screen.as_ref().filter(|_| screen) {
            Some(shared) => self.stream_with_screen(&shared.track),
            None => self.media.stream.clone(),
        };
        match Peer::new(
            id,
            name,
            polite,
            &terms.ice_servers,
            terms.ice_policy,
            stream.as_ref(),
            self.peer_events.clone(),
        ) {
            Ok(peer) => {
                if let Some(video) = self.tiles.get(&id) {
                    show_stream(video, peer.remote_stream(), self.view);
                }
                self.peers.insert(
                    id,
                    Remote {
                        peer,
                        last_stats: None,
                    },
                );
                None
            }
            Err(e) => Some(Input::Peer(
                id,
                PeerInput::NegotiationFailed(format!(
                    "the browser refused a connection ({})",
                    error_name(&e)
                )),
            )),
        }
    }

    /// Our tracks as sent: the shared screen in place of the camera.
    pub(super) fn stream_with_screen(&self, screen: &MediaStreamTrack) -> Option<MediaStream> {
        let tracks = js_sys::Array::of1(screen);
        if let Some(stream) = &self.media.stream {
            for track in stream.get_audio_tracks().iter() {
                tracks.push(&track);
            }
        }
        MediaStream::new_with_tracks(&tracks).ok()
    }

    pub(super) fn close_peer(&mut self, id: PeerId) {
        self.speaker.forget(id);
        if let Some(remote) = self.peers.remove(&id) {
            if let Some(video) = self.tiles.get(&id) {
                video.set_src_object(None);
            }
            remote.peer.close();
        }
        self.transfers.retain(|_, transfer| {
            if transfer.peer == id {
                transfer.channel.close();
            }
            transfer.peer != id
        });
        if self.peers.is_empty() {
            self.view.needs_play.set(false);
            self.view.stats.set(None);
        }
    }

    pub(super) async fn limit_senders(&self, limits: SenderLimits) {
        for remote in self.peers.values() {
            if let Err(e) = remote.peer.limit_senders(limits).await {
                leptos::logging::warn!("cannot limit a sender: {}", error_name(&e));
            }
        }
    }

    /// Sends `track` (or nothing) as our `kind` to everyone, without renegotiating.
    pub(super) async fn replace_on_all(
        &self,
        kind: &str,
        track: Option<&MediaStreamTrack>,
    ) -> Result<(), JsValue> {
        for remote in self.peers.values() {
            remote.peer.replace_track(kind, track).await?;
        }
        Ok(())
    }

    /// Notes a peer's misbehaviour in the console once per kind, not once per message.
    pub(super) fn warn_once(&mut self, what: &'static str) {
        if self.warned.insert(what) {
            leptos::logging::warn!("closed {what} (further ones are closed silently)");
        }
    }
}

/// Our connection to one person.
pub(super) struct Remote {
    pub(super) peer: Peer,
    /// The previous statistics sample, to turn counters into rates.
    pub(super) last_stats: Option<StatsSample>,
}
