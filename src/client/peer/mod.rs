//! One `RTCPeerConnection` to one other person, and its chat data channel. A group call
//! holds one of these per person (a full mesh).
//!
//! Browser callbacks do no work themselves: each turns its event into a [`PeerEvent`] for
//! the session, which handles events one at a time. The closures live in this struct and
//! are dropped with it, so joining and leaving many times leaks nothing.
//!
//! Negotiation follows the W3C "perfect negotiation" example: every change goes through
//! `negotiationneeded`, and when both sides offer at once the polite side yields (rolls
//! back and answers) while the impolite side ignores the other offer. The example's
//! `makingOffer` and `isSettingRemoteAnswerPending` flags guard against a remote message
//! being handled *while* a local description is still being set; here the session
//! handles one event at a time, to completion, so that window never opens and the
//! signaling state alone tells whether an offer collides.

mod chat;
mod senders;

use crate::protocol::peer::PeerMessageError;
use crate::protocol::signaling::{IceServer, IceTransportPolicy, PeerId, Signal};
use futures::channel::mpsc::UnboundedSender;
use js_sys::Array;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    MediaStream, MediaStreamTrack, RtcConfiguration, RtcDataChannel, RtcDataChannelEvent,
    RtcIceCandidateInit, RtcIceConnectionState, RtcIceServer, RtcIceTransportPolicy,
    RtcPeerConnection, RtcPeerConnectionIceEvent, RtcPeerConnectionState,
    RtcRtpTransceiverDirection, RtcRtpTransceiverInit, RtcSdpType, RtcSessionDescriptionInit,
    RtcSignalingState, RtcTrackEvent,
};

// web-sys 0.3.107 has neither of these, and perfect negotiation needs both. They are
// declared on a local view of the same JavaScript object.
#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    type PeerConnectionExt;

    /// `setLocalDescription()` with no argument: the browser makes the offer or answer
    /// that fits the current state.
    #[wasm_bindgen(method, js_name = setLocalDescription)]
    fn set_local_description_implicit(this: &PeerConnectionExt) -> js_sys::Promise;

    #[wasm_bindgen(method, js_name = restartIce)]
    fn restart_ice(this: &PeerConnectionExt);
}

/// What the browser reported about this connection.
pub enum PeerEvent {
    /// A local ICE candidate to trickle to the other side.
    Candidate(Signal),
    Track(MediaStreamTrack),
    /// The other side opened the chat channel (the first labelled `chat`), listened to
    /// since.
    Chat(RtcDataChannel, chat::ChatListeners),
    /// The other side opened another data channel (a file's, or one not used).
    DataChannel(RtcDataChannel),
    ChatOpen,
    ChatClosed,
    /// A [`PeerMessage`] from the other side, still encoded, and when it arrived (ms since
    /// the epoch: a message may wait in the queue while the session is busy).
    Message(String, crate::mesh::Millis),
    /// A frame on the chat channel refused unread: binary, or too large.
    Unreadable(PeerMessageError),
    State(RtcPeerConnectionState),
    /// Something changed that the other side must agree to: make an offer.
    NegotiationNeeded,
    Ice(RtcIceConnectionState),
}

/// Where a peer's events go, tagged with whom they are about.
pub type PeerEvents = UnboundedSender<(PeerId, PeerEvent)>;

type Handler = Closure<dyn FnMut(JsValue)>;

/// A listener that turns a browser event into a [`PeerEvent`] about `id`.
fn handler_for(
    events: &PeerEvents,
    id: PeerId,
    map: impl Fn(JsValue) -> Option<PeerEvent> + 'static,
) -> Handler {
    let events = events.clone();
    Closure::new(move |event: JsValue| {
        if let Some(event) = map(event) {
            let _ = events.unbounded_send((id, event));
        }
    })
}

pub struct Peer {
    pub id: PeerId,
    pub name: String,
    /// Yields when both sides offer at once. The server makes the newcomer polite.
    polite: bool,
    /// The last offer from the other side collided with ours and was ignored; candidates
    /// that belonged to it may fail and do not matter.
    ignore_offer: bool,
    pc: RtcPeerConnection,
    chat: Option<RtcDataChannel>,
    remote_stream: MediaStream,
    /// Candidates that arrived before the remote description, applied right after it.
    early_candidates: Vec<RtcIceCandidateInit>,
    events: PeerEvents,
    handlers: Vec<Handler>,
}

impl Peer {
    /// A connection to `id`, sending the local tracks (if any). The side that was in the
    /// room first (`polite == false`) also opens the chat channel and asks to receive
    /// audio and video even when it has none to send; that makes its first offer.
    pub fn new(
        id: PeerId,
        name: String,
        polite: bool,
        ice_servers: &[IceServer],
        ice_policy: IceTransportPolicy,
        local: Option<&MediaStream>,
        events: PeerEvents,
    ) -> Result<Peer, JsValue> {
        let config = RtcConfiguration::new();
        config.set_ice_servers(&ice_server_list(ice_servers));
        config.set_ice_transport_policy(match ice_policy {
            IceTransportPolicy::All => RtcIceTransportPolicy::All,
            IceTransportPolicy::Relay => RtcIceTransportPolicy::Relay,
        });
        let pc = RtcPeerConnection::new_with_configuration(&config)?;
        let mut peer = Peer {
            id,
            name,
            polite,
            ignore_offer: false,
            pc,
            chat: None,
            remote_stream: MediaStream::new()?,
            early_candidates: Vec::new(),
            events,
            handlers: Vec::new(),
        };
        peer.listen();
        if let Some(stream) = local {
            for track in stream.get_tracks().iter() {
                peer.pc
                    .add_track_0(&track.unchecked_into::<MediaStreamTrack>(), stream);
            }
        }
        if !polite {
            peer.open_chat();
            for kind in ["audio", "video"] {
                if !peer.sends(kind) {
                    let init = RtcRtpTransceiverInit::new();
                    init.set_direction(RtcRtpTransceiverDirection::Recvonly);
                    peer.pc.add_transceiver_with_str_and_init(kind, &init);
                }
            }
        }
        Ok(peer)
    }

    /// Answers `negotiationneeded` with an offer, if the connection is stable (a queued
    /// event may arrive after a remote offer changed that; the browser asks again later if
    /// the change is still pending).
    pub async fn negotiate(&mut self) -> Result<Option<Signal>, JsValue> {
        if self.pc.signaling_state() != RtcSignalingState::Stable {
            return Ok(None);
        }
        JsFuture::from(self.ext().set_local_description_implicit()).await?;
        Ok(Some(Signal::Offer {
            sdp: self.local_sdp()?,
        }))
    }

    /// Applies a signal from the other side; an offer we accept yields the answer.
    pub async fn apply(&mut self, signal: Signal) -> Result<Option<Signal>, JsValue> {
        let (kind, sdp) = match signal {
            Signal::Offer { sdp } => (RtcSdpType::Offer, sdp),
            Signal::Answer { sdp } => (RtcSdpType::Answer, sdp),
            Signal::Candidate {
                candidate,
                sdp_mid,
                sdp_m_line_index,
            } => {
                let init = RtcIceCandidateInit::new(&candidate);
                init.set_sdp_mid(sdp_mid.as_deref());
                init.set_sdp_m_line_index(sdp_m_line_index);
                if self.pc.remote_description().is_none() {
                    self.early_candidates.push(init);
                } else if let Err(e) = self.add_candidate(&init).await {
                    if !self.ignore_offer {
                        return Err(e);
                    }
                }
                return Ok(None);
            }
        };
        let collision =
            kind == RtcSdpType::Offer && self.pc.signaling_state() != RtcSignalingState::Stable;
        self.ignore_offer = !self.polite && collision;
        if self.ignore_offer {
            return Ok(None);
        }
        // For the polite side, a colliding offer rolls our own offer back implicitly.
        let init = RtcSessionDescriptionInit::new(kind);
        init.set_sdp(&sdp);
        JsFuture::from(self.pc.set_remote_description(&init)).await?;
        for candidate in std::mem::take(&mut self.early_candidates) {
            self.add_candidate(&candidate).await?;
        }
        if kind != RtcSdpType::Offer {
            return Ok(None);
        }
        JsFuture::from(self.ext().set_local_description_implicit()).await?;
        Ok(Some(Signal::Answer {
            sdp: self.local_sdp()?,
        }))
    }

    /// Starts an ICE restart (a new offer follows through `negotiationneeded`).
    pub fn restart_ice(&self) {
        self.ext().restart_ice();
    }

    /// The connection itself, for reading statistics.
    pub fn connection(&self) -> &RtcPeerConnection {
        &self.pc
    }

    pub fn is_connected(&self) -> bool {
        self.pc.connection_state() == RtcPeerConnectionState::Connected
    }

    /// Adds a remote track to the stream shown in this person's video.
    pub fn add_remote_track(&self, track: &MediaStreamTrack) {
        self.remote_stream.add_track(track);
    }

    /// Their audio and video, as one stream.
    pub fn remote_stream(&self) -> &MediaStream {
        &self.remote_stream
    }

    /// Closes the connection and the channel and silences every callback.
    pub fn close(self) {
        if let Some(channel) = &self.chat {
            channel.set_onopen(None);
            channel.set_onclose(None);
            channel.set_onmessage(None);
            channel.close();
        }
        self.pc.set_onicecandidate(None);
        self.pc.set_ontrack(None);
        self.pc.set_ondatachannel(None);
        self.pc.set_onconnectionstatechange(None);
        self.pc.set_oniceconnectionstatechange(None);
        self.pc.set_onnegotiationneeded(None);
        self.pc.close();
        for track in self.remote_stream.get_tracks().iter() {
            track.unchecked_into::<MediaStreamTrack>().stop();
        }
    }

    fn listen(&mut self) {
        let on_candidate = self.handler(|event| {
            // A null candidate only marks the end of gathering: nothing to send.
            let candidate = event
                .unchecked_into::<RtcPeerConnectionIceEvent>()
                .candidate()?;
            Some(PeerEvent::Candidate(Signal::Candidate {
                candidate: candidate.candidate(),
                sdp_mid: candidate.sdp_mid(),
                sdp_m_line_index: candidate.sdp_m_line_index(),
            }))
        });
        let on_track = self.handler(|event| {
            Some(PeerEvent::Track(
                event.unchecked_into::<RtcTrackEvent>().track(),
            ))
        });
        // The side seated first opens the chat channel itself; the other takes the first
        // one labelled `chat` and listens to it at once.
        let chat_taken = std::cell::Cell::new(!self.polite);
        let (events, id) = (self.events.clone(), self.id);
        let on_channel = self.handler(move |event| {
            let channel = event.unchecked_into::<RtcDataChannelEvent>().channel();
            if channel.label() == "chat" && !chat_taken.replace(true) {
                let listeners = chat::listen_to_chat(&channel, &events, id);
                // An announced channel may be open already: said after it is taken.
                let open = channel.ready_state() == web_sys::RtcDataChannelState::Open;
                let _ = events.unbounded_send((id, PeerEvent::Chat(channel, listeners)));
                return open.then_some(PeerEvent::ChatOpen);
            }
            Some(PeerEvent::DataChannel(channel))
        });
        let pc = self.pc.clone();
        let on_state = self.handler(move |_| Some(PeerEvent::State(pc.connection_state())));
        let pc = self.pc.clone();
        let on_ice = self.handler(move |_| Some(PeerEvent::Ice(pc.ice_connection_state())));
        let on_negotiation = self.handler(|_| Some(PeerEvent::NegotiationNeeded));
        self.pc
            .set_oniceconnectionstatechange(Some(on_ice.as_ref().unchecked_ref()));
        self.pc
            .set_onnegotiationneeded(Some(on_negotiation.as_ref().unchecked_ref()));
        self.pc
            .set_onicecandidate(Some(on_candidate.as_ref().unchecked_ref()));
        self.pc.set_ontrack(Some(on_track.as_ref().unchecked_ref()));
        self.pc
            .set_ondatachannel(Some(on_channel.as_ref().unchecked_ref()));
        self.pc
            .set_onconnectionstatechange(Some(on_state.as_ref().unchecked_ref()));
        self.handlers.extend([
            on_candidate,
            on_track,
            on_channel,
            on_state,
            on_ice,
            on_negotiation,
        ]);
    }

    /// A browser callback that forwards `map(event)` to the session, tagged with this peer.
    fn handler(&self, map: impl Fn(JsValue) -> Option<PeerEvent> + 'static) -> Handler {
        handler_for(&self.events, self.id, map)
    }

    fn ext(&self) -> &PeerConnectionExt {
        self.pc.unchecked_ref()
    }

    fn local_sdp(&self) -> Result<String, JsValue> {
        self.pc
            .local_description()
            .map(|description| description.sdp())
            .ok_or_else(|| "no local description after setting it".into())
    }

    async fn add_candidate(&self, candidate: &RtcIceCandidateInit) -> Result<(), JsValue> {
        JsFuture::from(
            self.pc
                .add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(candidate)),
        )
        .await
        .map(drop)
    }
}

pub(crate) fn ice_server_list(servers: &[IceServer]) -> Array {
    servers
        .iter()
        .map(|server| {
            let ice = RtcIceServer::new();
            let urls: Array = server.urls.iter().map(|u| JsValue::from_str(u)).collect();
            ice.set_urls(&urls);
            if let Some(username) = &server.username {
                ice.set_username(username);
            }
            if let Some(credential) = &server.credential {
                ice.set_credential(credential);
            }
            JsValue::from(ice)
        })
        .collect()
}
