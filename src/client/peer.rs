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

use crate::mesh::budget::SenderLimits;
use crate::protocol::peer::{
    PeerMessage, PeerMessageError, MAX_PEER_MESSAGES_PER_SECOND, MAX_PEER_MESSAGE_BYTES,
};
use crate::protocol::signaling::{IceServer, IceTransportPolicy, PeerId, Signal};
use futures::channel::mpsc::UnboundedSender;
use js_sys::Array;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    MediaStream, MediaStreamTrack, RtcConfiguration, RtcDataChannel, RtcDataChannelEvent,
    RtcDataChannelState, RtcIceCandidateInit, RtcIceConnectionState, RtcIceServer,
    RtcIceTransportPolicy, RtcPeerConnection, RtcPeerConnectionIceEvent, RtcPeerConnectionState,
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
    /// The other side opened the chat channel.
    DataChannel(RtcDataChannel),
    ChatOpen,
    ChatClosed,
    /// A [`PeerMessage`] from the other side, still encoded.
    Message(String),
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
            let channel = peer.pc.create_data_channel("chat");
            peer.attach_chat(channel);
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

    /// Caps what our video sender to this person may use; audio is never limited, and
    /// goes first when the link is short. The fields are set on the object
    /// `getParameters()` returned, as `setParameters()` requires.
    pub async fn limit_senders(&self, limits: SenderLimits) -> Result<(), JsValue> {
        use js_sys::Reflect;
        for sender in self.pc.get_senders().iter() {
            let sender = sender.unchecked_into::<web_sys::RtcRtpSender>();
            let Some(kind) = sender.track().map(|t| t.kind()) else {
                continue;
            };
            let params = sender.get_parameters();
            let encodings = Reflect::get(&params, &"encodings".into())?;
            let Some(encodings) = encodings.dyn_ref::<Array>().filter(|e| e.length() > 0) else {
                // Not negotiated yet: the limits are applied again once connected.
                continue;
            };
            let fields: [(&str, JsValue); 2] = if kind == "video" {
                [
                    ("maxBitrate", (limits.max_bitrate as f64).into()),
                    ("scaleResolutionDownBy", limits.scale_down_by.into()),
                ]
            } else {
                [
                    ("priority", "high".into()),
                    ("networkPriority", "high".into()),
                ]
            };
            for encoding in encodings.iter() {
                for (name, value) in &fields {
                    Reflect::set(&encoding, &JsValue::from_str(name), value)?;
                }
            }
            JsFuture::from(sender.set_parameters_with_parameters(&params)).await?;
        }
        Ok(())
    }

    /// Takes over the chat channel the other side opened.
    pub fn attach_chat(&mut self, channel: RtcDataChannel) {
        let on_open = self.handler(|_| Some(PeerEvent::ChatOpen));
        let on_close = self.handler(|_| Some(PeerEvent::ChatClosed));
        // Frames past the per-second limit are dropped here, before they are copied out
        // of JavaScript or queued: a flood costs the page almost nothing. The first one
        // dropped in each second is reported, so the session counts it.
        let window = std::cell::Cell::new((0.0_f64, 0_u32));
        let on_message = self.handler(move |event| {
            let now = js_sys::Date::now();
            let (start, count) = window.get();
            let (start, count) = if now - start >= 1000.0 {
                (now, 1)
            } else {
                (start, count + 1)
            };
            window.set((start, count));
            if count > MAX_PEER_MESSAGES_PER_SECOND {
                return (count == MAX_PEER_MESSAGES_PER_SECOND + 1)
                    .then_some(PeerEvent::Unreadable(PeerMessageError::TooFast));
            }
            let data = event.unchecked_into::<web_sys::MessageEvent>().data();
            // Sized before it is copied out of JavaScript: a UTF-16 unit is at least one
            // byte of UTF-8, so a string this long is surely too large.
            Some(match data.dyn_ref::<js_sys::JsString>() {
                Some(text) if text.length() as usize > MAX_PEER_MESSAGE_BYTES => {
                    PeerEvent::Unreadable(PeerMessageError::TooLarge)
                }
                Some(text) => PeerEvent::Message(String::from(text)),
                None => PeerEvent::Unreadable(PeerMessageError::Binary),
            })
        });
        channel.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        channel.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        self.handlers.extend([on_open, on_close, on_message]);
        // An announced channel may already be open by the time the session gets to it.
        if channel.ready_state() == RtcDataChannelState::Open {
            self.emit(PeerEvent::ChatOpen);
        }
        self.chat = Some(channel);
    }

    /// Whether the chat channel is already there (a second one is refused).
    pub fn has_chat(&self) -> bool {
        self.chat.is_some()
    }

    /// Sends over the data channel, if it is open.
    pub fn send(&self, message: &PeerMessage) -> Result<(), JsValue> {
        match &self.chat {
            Some(channel) if channel.ready_state() == RtcDataChannelState::Open => {
                channel.send_with_str(&message.encode())
            }
            _ => Err("the data channel is not open".into()),
        }
    }

    /// Sends `track` (or nothing) as our `kind` ("audio" or "video"), without
    /// renegotiating when a sender exists; with none (we had no such device), the
    /// transceiver starts sending and the change is negotiated via `negotiationneeded`.
    pub async fn replace_track(
        &self,
        kind: &str,
        track: Option<&MediaStreamTrack>,
    ) -> Result<(), JsValue> {
        let transceiver = self
            .pc
            .get_transceivers()
            .iter()
            .map(|t| t.unchecked_into::<web_sys::RtcRtpTransceiver>())
            .find(|t| t.receiver().track().kind() == kind)
            .ok_or_else(|| format!("no {kind} in this call"))?;
        if track.is_some() && transceiver.direction() == RtcRtpTransceiverDirection::Recvonly {
            transceiver.set_direction(RtcRtpTransceiverDirection::Sendrecv);
        }
        JsFuture::from(transceiver.sender().replace_track(track))
            .await
            .map(drop)
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
        let on_channel = self.handler(|event| {
            Some(PeerEvent::DataChannel(
                event.unchecked_into::<RtcDataChannelEvent>().channel(),
            ))
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
        let (events, id) = (self.events.clone(), self.id);
        Closure::new(move |event: JsValue| {
            if let Some(event) = map(event) {
                let _ = events.unbounded_send((id, event));
            }
        })
    }

    fn emit(&self, event: PeerEvent) {
        let _ = self.events.unbounded_send((self.id, event));
    }

    fn sends(&self, kind: &str) -> bool {
        self.pc.get_senders().iter().any(|sender| {
            sender
                .unchecked_into::<web_sys::RtcRtpSender>()
                .track()
                .is_some_and(|track| track.kind() == kind)
        })
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

fn ice_server_list(servers: &[IceServer]) -> Array {
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
