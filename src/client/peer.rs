//! One `RTCPeerConnection` to the other person, and its chat data channel.
//!
//! Browser callbacks do no work themselves: each turns its event into a [`PeerEvent`] for
//! the session, which handles events one at a time. The closures live in this struct and
//! are dropped with it, so joining and leaving many times leaks nothing.

use super::session::Event;
use crate::protocol::{IceServer, PeerId, Signal};
use futures::channel::mpsc::UnboundedSender;
use js_sys::{Array, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    MediaStream, MediaStreamTrack, RtcConfiguration, RtcDataChannel, RtcDataChannelEvent,
    RtcDataChannelState, RtcIceCandidateInit, RtcIceServer, RtcPeerConnection,
    RtcPeerConnectionIceEvent, RtcPeerConnectionState, RtcRtpTransceiverDirection,
    RtcRtpTransceiverInit, RtcSdpType, RtcSessionDescriptionInit, RtcTrackEvent,
};

/// What the browser reported about this connection.
pub enum PeerEvent {
    /// A local ICE candidate to trickle to the other side.
    Candidate(Signal),
    Track(MediaStreamTrack),
    /// The other side opened the chat channel.
    DataChannel(RtcDataChannel),
    ChatOpen,
    ChatClosed,
    ChatMessage(String),
    State(RtcPeerConnectionState),
}

type Handler = Closure<dyn FnMut(JsValue)>;

pub struct Peer {
    pub id: PeerId,
    pub name: String,
    pc: RtcPeerConnection,
    chat: Option<RtcDataChannel>,
    remote_stream: MediaStream,
    /// Candidates that arrived before the remote description, applied right after it.
    early_candidates: Vec<RtcIceCandidateInit>,
    events: UnboundedSender<Event>,
    handlers: Vec<Handler>,
}

impl Peer {
    /// A connection to `id`, sending the local tracks (if any).
    pub fn new(
        id: PeerId,
        name: String,
        ice_servers: &[IceServer],
        local: Option<&MediaStream>,
        events: UnboundedSender<Event>,
    ) -> Result<Peer, JsValue> {
        let config = RtcConfiguration::new();
        config.set_ice_servers(&ice_server_list(ice_servers));
        let pc = RtcPeerConnection::new_with_configuration(&config)?;
        let mut peer = Peer {
            id,
            name,
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
        Ok(peer)
    }

    /// Makes the offer. The offerer also opens the chat channel, and asks to receive
    /// audio and video even when it has none to send.
    pub async fn offer(&mut self) -> Result<Signal, JsValue> {
        let channel = self.pc.create_data_channel("chat");
        self.attach_chat(channel);
        for kind in ["audio", "video"] {
            if !self.sends(kind) {
                let init = RtcRtpTransceiverInit::new();
                init.set_direction(RtcRtpTransceiverDirection::Recvonly);
                self.pc.add_transceiver_with_str_and_init(kind, &init);
            }
        }
        let offer = JsFuture::from(self.pc.create_offer()).await?;
        let sdp = self.set_local(RtcSdpType::Offer, &offer).await?;
        Ok(Signal::Offer { sdp })
    }

    /// Applies a signal from the other side; an offer yields the answer to send back.
    pub async fn apply(&mut self, signal: Signal) -> Result<Option<Signal>, JsValue> {
        match signal {
            Signal::Offer { sdp } => {
                self.set_remote(RtcSdpType::Offer, &sdp).await?;
                let answer = JsFuture::from(self.pc.create_answer()).await?;
                let sdp = self.set_local(RtcSdpType::Answer, &answer).await?;
                Ok(Some(Signal::Answer { sdp }))
            }
            Signal::Answer { sdp } => {
                self.set_remote(RtcSdpType::Answer, &sdp).await?;
                Ok(None)
            }
            Signal::Candidate {
                candidate,
                sdp_mid,
                sdp_m_line_index,
            } => {
                let init = RtcIceCandidateInit::new(&candidate);
                init.set_sdp_mid(sdp_mid.as_deref());
                init.set_sdp_m_line_index(sdp_m_line_index);
                if self.pc.remote_description().is_some() {
                    self.add_candidate(&init).await?;
                } else {
                    self.early_candidates.push(init);
                }
                Ok(None)
            }
        }
    }

    /// Adds a remote track to the stream shown in the remote video, and returns it.
    pub fn add_remote_track(&self, track: &MediaStreamTrack) -> &MediaStream {
        self.remote_stream.add_track(track);
        &self.remote_stream
    }

    /// Takes over the chat channel the other side opened.
    pub fn attach_chat(&mut self, channel: RtcDataChannel) {
        let on_open = self.handler(|_| Some(PeerEvent::ChatOpen));
        let on_close = self.handler(|_| Some(PeerEvent::ChatClosed));
        let on_message = self.handler(|event| {
            let text = event
                .unchecked_into::<web_sys::MessageEvent>()
                .data()
                .as_string()?;
            Some(PeerEvent::ChatMessage(text))
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

    pub fn send_chat(&self, text: &str) -> Result<(), JsValue> {
        match &self.chat {
            Some(channel) if channel.ready_state() == RtcDataChannelState::Open => {
                channel.send_with_str(text)
            }
            _ => Err("the chat is not connected".into()),
        }
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
        self.pc
            .set_onicecandidate(Some(on_candidate.as_ref().unchecked_ref()));
        self.pc.set_ontrack(Some(on_track.as_ref().unchecked_ref()));
        self.pc
            .set_ondatachannel(Some(on_channel.as_ref().unchecked_ref()));
        self.pc
            .set_onconnectionstatechange(Some(on_state.as_ref().unchecked_ref()));
        self.handlers
            .extend([on_candidate, on_track, on_channel, on_state]);
    }

    /// A browser callback that forwards `map(event)` to the session, tagged with this peer.
    fn handler(&self, map: impl Fn(JsValue) -> Option<PeerEvent> + 'static) -> Handler {
        let (events, id) = (self.events.clone(), self.id);
        Closure::new(move |event: JsValue| {
            if let Some(event) = map(event) {
                let _ = events.unbounded_send(Event::Peer(id, event));
            }
        })
    }

    fn emit(&self, event: PeerEvent) {
        let _ = self.events.unbounded_send(Event::Peer(self.id, event));
    }

    fn sends(&self, kind: &str) -> bool {
        self.pc.get_senders().iter().any(|sender| {
            sender
                .unchecked_into::<web_sys::RtcRtpSender>()
                .track()
                .is_some_and(|track| track.kind() == kind)
        })
    }

    /// Sets a description made by create_offer/create_answer; returns its SDP.
    async fn set_local(&self, kind: RtcSdpType, made: &JsValue) -> Result<String, JsValue> {
        let sdp = Reflect::get(made, &"sdp".into())?
            .as_string()
            .ok_or("the browser made a description without SDP")?;
        let init = RtcSessionDescriptionInit::new(kind);
        init.set_sdp(&sdp);
        JsFuture::from(self.pc.set_local_description(&init)).await?;
        Ok(sdp)
    }

    async fn set_remote(&mut self, kind: RtcSdpType, sdp: &str) -> Result<(), JsValue> {
        let init = RtcSessionDescriptionInit::new(kind);
        init.set_sdp(sdp);
        JsFuture::from(self.pc.set_remote_description(&init)).await?;
        for candidate in std::mem::take(&mut self.early_candidates) {
            self.add_candidate(&candidate).await?;
        }
        Ok(())
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
