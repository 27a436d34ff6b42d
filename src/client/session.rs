//! The call session: one task that owns the socket, the media and the peer connection,
//! and handles every event (from the server, the browser and the person) in order.
//!
//! Handling events one at a time is what keeps WebRTC's asynchronous steps from
//! interleaving: a candidate can't race the remote description it belongs to, and a hang
//! up can't land in the middle of an answer.
//!
//! The call survives the network: when the signaling socket drops, the session reconnects
//! with backoff and resumes its seat (media and chat meanwhile flow peer to peer); when
//! ICE fails, or stays disconnected past a short grace period, it restarts ICE.

use super::error_name;
use super::media::{self, LocalMedia};
use super::peer::{Peer, PeerEvent};
use super::signaling::SignalingSocket;
use super::stats as client_stats;
use super::transfer as client_transfer;
use crate::call::{reconnect_delay_ms, CallStatus, CallView, ChatLine, DeviceKind, UiCommand};
use crate::peer_protocol::PeerMessage;
use crate::protocol::{
    ClientMessage, ErrorCode, IceServer, IceTransportPolicy, PeerId, PeerInfo, ServerMessage,
    Signal,
};
use crate::stats::{compare, StatsSample};
use crate::transfer::CHANNEL_PREFIX;
use futures::channel::mpsc::{self, UnboundedReceiver, UnboundedSender};
use futures::StreamExt;
use gloo_timers::future::TimeoutFuture;
use leptos::html::Video;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    MediaStream, MediaStreamTrack, RtcDataChannel, RtcIceConnectionState, RtcPeerConnectionState,
};

/// The client pings the server this often…
const HEARTBEAT_MS: u32 = 5_000;
/// …and counts it gone after this long without hearing anything.
const SERVER_SILENCE_MS: f64 = 12_000.0;
/// How often the stats panel's figures are refreshed.
const STATS_MS: u32 = 1_000;
/// How long ICE may stay `disconnected` before it is restarted.
const ICE_GRACE_MS: u32 = 3_000;

/// Everything the session reacts to.
pub enum Event {
    Ui(UiCommand),
    /// From the signaling socket of that generation.
    Server(u32, ServerMessage),
    SignalingClosed(u32),
    /// Time to try the server again.
    Reconnect,
    /// Time to ping the server, or notice that it went silent.
    Heartbeat,
    /// Time to read the call statistics.
    StatsTick,
    /// The person picked a screen to share (or declined).
    ScreenPicked(Result<MediaStreamTrack, String>),
    /// A newly chosen camera or microphone is open (or could not be).
    DeviceOpened(DeviceKind, Result<MediaStreamTrack, String>),
    /// Devices were plugged in or out.
    DevicesChanged,
    Peer(PeerId, PeerEvent),
}

/// Runs the call in the background until it ends or the call screen goes away.
pub fn start(user: String, room: String, view: CallView, ui: UnboundedReceiver<UiCommand>) {
    spawn_local(run(user, room, view, ui));
}

/// Starts the remote video's sound after a click, where autoplay was refused.
pub fn play_remote(view: CallView) {
    view.needs_play.set(false);
    if let Some(video) = element(view.remote_video) {
        play(video, view);
    }
}

async fn run(user: String, room: String, view: CallView, ui: UnboundedReceiver<UiCommand>) {
    let (events, internal) = mpsc::unbounded();
    let mut queue = futures::stream::select(ui.map(Event::Ui), internal);

    let mut session = Session {
        user,
        room,
        view,
        events: events.clone(),
        media: LocalMedia::none(),
        socket: None,
        generation: 0,
        seat: None,
        reconnects: 0,
        last_heard: now_ms(),
        ice_servers: Vec::new(),
        ice_policy: IceTransportPolicy::All,
        expected: None,
        peer: None,
        screen: None,
        last_stats: None,
        transfers: HashMap::new(),
        received: Rc::default(),
        next_transfer: 1,
        max_file_bytes: crate::transfer::DEFAULT_MAX_FILE_BYTES,
    };
    // The socket opens and the join goes out while the camera starts (or the person
    // answers the browser's prompt); what the server says meanwhile waits in the queue,
    // and is handled with the camera's tracks at hand.
    session.connect();
    session.media = media::acquire().await;
    view.media_note.set(session.media.note.clone());
    if let (Some(video), Some(stream)) = (element(view.local_video), &session.media.stream) {
        video.set_src_object(Some(stream));
    }
    view.status.set(CallStatus::Joining);
    let on_device_change = watch_devices(&events);
    spawn_local(tick(events.clone(), HEARTBEAT_MS, || Event::Heartbeat));
    spawn_local(tick(events, STATS_MS, || Event::StatsTick));
    session.list_devices().await;
    while let Some(event) = queue.next().await {
        if session.handle(event).await == Flow::Stop {
            break;
        }
    }
    session.end();
    if let (Some(devices), Some(_)) = (media::media_devices().ok(), on_device_change) {
        devices.set_ondevicechange(None);
    }
}

#[derive(PartialEq)]
enum Flow {
    Continue,
    Stop,
}

/// Our place in the room, once the server has given us one.
struct SeatTicket {
    /// Resumes the seat after a dropped connection.
    token: String,
    /// Whether we yield in an offer collision, towards the people already there.
    polite: bool,
}

struct Session {
    user: String,
    room: String,
    view: CallView,
    events: UnboundedSender<Event>,
    media: LocalMedia,
    /// `None` while the server connection is down.
    socket: Option<SignalingSocket>,
    /// Counts sockets opened, to ignore news from earlier ones.
    generation: u32,
    seat: Option<SeatTicket>,
    /// Failed connection attempts in a row, for the backoff.
    reconnects: u32,
    /// When the server last said anything (ms since the epoch).
    last_heard: f64,
    ice_servers: Vec<IceServer>,
    ice_policy: IceTransportPolicy,
    /// Someone already in the room, whose offer we are waiting for.
    expected: Option<PeerInfo>,
    peer: Option<Peer>,
    /// The screen being shared instead of the camera.
    screen: Option<ScreenShare>,
    /// The previous statistics sample, to turn counters into rates.
    last_stats: Option<StatsSample>,
    /// Open file transfers by id, to cancel them.
    transfers: HashMap<u32, RtcDataChannel>,
    /// Download links of received files, released when the call ends.
    received: Rc<RefCell<Vec<String>>>,
    next_transfer: u32,
    max_file_bytes: u64,
}

struct ScreenShare {
    track: MediaStreamTrack,
    /// Stopping from the browser's own "Stop sharing" bar ends the track.
    _on_ended: Closure<dyn FnMut()>,
}

impl Session {
    async fn handle(&mut self, event: Event) -> Flow {
        match event {
            Event::Ui(command) => return self.on_command(command).await,
            Event::Server(generation, message) if generation == self.generation => {
                self.last_heard = now_ms();
                return self.on_server(message).await;
            }
            Event::SignalingClosed(generation)
                if generation == self.generation && self.socket.is_some() =>
            {
                self.lost_server()
            }
            // From a socket already replaced or given up.
            Event::Server(..) | Event::SignalingClosed(_) => {}
            Event::Reconnect => self.connect(),
            Event::Heartbeat => self.heartbeat(),
            Event::StatsTick => self.read_stats().await,
            Event::ScreenPicked(picked) => self.start_sharing(picked).await,
            Event::DeviceOpened(kind, opened) => self.use_device(kind, opened).await,
            Event::DevicesChanged => self.list_devices().await,
            Event::Peer(id, event) if self.peer.as_ref().is_some_and(|p| p.id == id) => {
                self.on_peer(event).await;
            }
            // From a peer connection already closed.
            Event::Peer(..) => {}
        }
        Flow::Continue
    }

    async fn on_command(&mut self, command: UiCommand) -> Flow {
        match command {
            UiCommand::ToggleMicrophone => {
                self.view.microphone_on.update(|on| *on = !*on);
                self.apply_mutes();
            }
            UiCommand::ToggleCamera => {
                self.view.camera_on.update(|on| *on = !*on);
                self.apply_mutes();
            }
            UiCommand::ShareScreen => self.pick_screen(),
            UiCommand::StopSharing => self.stop_sharing().await,
            UiCommand::SendFile(file) => self.send_file(file.take()),
            UiCommand::CancelTransfer(id) => {
                if let Some(channel) = self.transfers.remove(&id) {
                    channel.close();
                }
            }
            UiCommand::UseDevice(kind, id) => {
                let events = self.events.clone();
                spawn_local(async move {
                    let opened = media::open_device(kind, &id).await;
                    let _ = events.unbounded_send(Event::DeviceOpened(kind, opened));
                });
            }
            UiCommand::SendChat(text) => {
                let message = PeerMessage::Chat { text: text.clone() };
                let sent = self.peer.as_ref().map(|peer| peer.send(&message));
                match sent {
                    Some(Ok(())) => self.view.chat.update(|lines| {
                        lines.push(ChatLine {
                            from: self.user.clone(),
                            text,
                            mine: true,
                        })
                    }),
                    Some(Err(e)) => {
                        leptos::logging::warn!("chat message not sent: {}", error_name(&e))
                    }
                    None => {}
                }
            }
            UiCommand::HangUp => {
                self.view.status.set(CallStatus::Ended);
                return Flow::Stop;
            }
            UiCommand::Leave => return Flow::Stop,
        }
        Flow::Continue
    }

    /// Enables or disables the local tracks as the toggles say (no renegotiation: a
    /// disabled track sends silence or black), and tells the other side.
    fn apply_mutes(&self) {
        if let Some(stream) = &self.media.stream {
            let microphone = self.view.microphone_on.try_get_untracked().unwrap_or(true);
            let camera = self.view.camera_on.try_get_untracked().unwrap_or(true);
            for track in stream.get_tracks().iter() {
                let track = track.unchecked_into::<MediaStreamTrack>();
                track.set_enabled(if track.kind() == "audio" {
                    microphone
                } else {
                    camera
                });
            }
        }
        self.announce();
    }

    fn send_file(&mut self, file: web_sys::File) {
        if !self.peer.as_ref().is_some_and(Peer::is_connected) {
            self.view
                .notice
                .set(Some("Files can be sent once you are connected.".into()));
            return;
        }
        let id = self.take_transfer_id();
        let Some(peer) = self.peer.as_ref() else {
            return;
        };
        match client_transfer::send(peer.connection(), id, file, self.max_file_bytes, self.view) {
            Ok(channel) => {
                self.view.notice.set(None);
                self.transfers.insert(id, channel);
            }
            Err(why) => self.view.notice.set(Some(why)),
        }
    }

    fn take_transfer_id(&mut self) -> u32 {
        self.next_transfer += 1;
        self.next_transfer - 1
    }

    /// Refreshes the camera and microphone lists, and which ones are in use.
    async fn list_devices(&self) {
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
        let in_use = |kind: &str| {
            let stream = self.media.stream.as_ref()?;
            let track = stream
                .get_tracks()
                .iter()
                .map(|t| t.unchecked_into::<MediaStreamTrack>())
                .find(|t| t.kind() == kind)?;
            media::device_id(&track)
        };
        self.view.camera_id.set(in_use("video"));
        self.view.microphone_id.set(in_use("audio"));
    }

    /// Puts a newly opened device's track in place of the old one, locally and towards
    /// the other side, without dropping the call.
    async fn use_device(&mut self, kind: DeviceKind, opened: Result<MediaStreamTrack, String>) {
        let track = match opened {
            Ok(track) => track,
            Err(why) => {
                self.view
                    .notice
                    .set(Some(format!("That device could not be opened ({why}).")));
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
        // A shared screen stays on the wire until sharing stops.
        let sending = kind == DeviceKind::Microphone || self.screen.is_none();
        if let (Some(peer), true) = (&self.peer, sending) {
            if let Err(e) = peer.replace_track(&wire_kind, Some(&track)).await {
                leptos::logging::warn!("switching device failed: {}", error_name(&e));
            }
        }
        if self.screen.is_none() {
            self.show_preview(Some(&stream));
        }
        self.apply_mutes();
        self.list_devices().await;
    }

    /// Samples the connection's statistics and updates the panel's figures.
    async fn read_stats(&mut self) {
        let Some(peer) = self.peer.as_ref().filter(|p| p.is_connected()) else {
            self.last_stats = None;
            return;
        };
        let now = match client_stats::sample(peer.connection()).await {
            Ok(now) => now,
            Err(e) => return leptos::logging::warn!("getStats failed: {}", error_name(&e)),
        };
        if let Some(before) = self.last_stats.replace(now.clone()) {
            let stats = compare(&before, &now);
            self.view.stats_history.update(|h| h.push(&stats));
            self.view.stats.set(Some(stats));
        }
    }

    /// Tells the other side what we send, so it can show "muted" or a placeholder.
    fn announce(&self) {
        let Some(peer) = &self.peer else { return };
        let has = |kind: &str| {
            self.media.stream.as_ref().is_some_and(|s| {
                s.get_tracks()
                    .iter()
                    .any(|t| t.unchecked_into::<MediaStreamTrack>().kind() == kind)
            })
        };
        let screen = self.screen.is_some();
        let message = PeerMessage::Media {
            audio: has("audio") && self.view.microphone_on.try_get_untracked().unwrap_or(true),
            video: screen
                || (has("video") && self.view.camera_on.try_get_untracked().unwrap_or(true)),
            screen,
        };
        // Before the channel opens this fails; the state goes out when it opens.
        let _ = peer.send(&message);
    }

    /// Opens the browser's screen picker. The person may take their time, so the answer
    /// comes back as an event and the call goes on meanwhile.
    fn pick_screen(&self) {
        if self.screen.is_some() {
            return;
        }
        self.view.notice.set(None);
        let events = self.events.clone();
        spawn_local(async move {
            let _ = events.unbounded_send(Event::ScreenPicked(media::display().await));
        });
    }

    async fn start_sharing(&mut self, picked: Result<MediaStreamTrack, String>) {
        if self.screen.is_some() {
            if let Ok(track) = picked {
                track.stop();
            }
            return;
        }
        let track = match picked {
            Ok(track) => track,
            Err(why) => {
                self.view.notice.set(Some(format!(
                    "Screen sharing did not start ({why}); still showing your camera."
                )));
                return;
            }
        };
        let events = self.events.clone();
        let on_ended = Closure::<dyn FnMut()>::new(move || {
            let _ = events.unbounded_send(Event::Ui(UiCommand::StopSharing));
        });
        track.set_onended(Some(on_ended.as_ref().unchecked_ref()));
        if let Some(peer) = &self.peer {
            if let Err(e) = peer.replace_track("video", Some(&track)).await {
                track.stop();
                self.view
                    .notice
                    .set(Some(format!("Screen sharing failed ({}).", error_name(&e))));
                return;
            }
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
        self.announce();
    }

    async fn stop_sharing(&mut self) {
        let Some(screen) = self.screen.take() else {
            return;
        };
        screen.track.set_onended(None);
        screen.track.stop();
        let camera = self.camera_track();
        if let Some(peer) = &self.peer {
            if let Err(e) = peer.replace_track("video", camera.as_ref()).await {
                leptos::logging::warn!("back to the camera failed: {}", error_name(&e));
            }
        }
        self.show_preview(self.media.stream.as_ref());
        self.view.sharing_screen.set(false);
        self.announce();
    }

    fn camera_track(&self) -> Option<MediaStreamTrack> {
        self.media.stream.as_ref().and_then(|stream| {
            stream
                .get_video_tracks()
                .iter()
                .next()
                .map(|t| t.unchecked_into::<MediaStreamTrack>())
        })
    }

    fn show_preview(&self, stream: Option<&MediaStream>) {
        if let Some(video) = element(self.view.local_video) {
            video.set_src_object(stream);
        }
    }

    async fn on_server(&mut self, message: ServerMessage) -> Flow {
        match message {
            ServerMessage::Joined {
                peers,
                polite,
                token,
                ice_servers,
                ice_transport_policy,
                max_file_bytes,
                ..
            } => {
                self.back_online();
                self.seat = Some(SeatTicket { token, polite });
                self.ice_servers = ice_servers;
                self.ice_policy = ice_transport_policy;
                self.max_file_bytes = max_file_bytes;
                self.view.max_file_bytes.set(max_file_bytes);
                match peers.into_iter().next() {
                    // Whoever was there first makes the offer; we wait for it.
                    Some(peer) => {
                        self.view.remote_name.set(Some(peer.name.clone()));
                        self.view.status.set(CallStatus::Connecting {
                            with: peer.name.clone(),
                        });
                        self.expected = Some(peer);
                    }
                    None => self.view.status.set(CallStatus::Waiting),
                }
            }
            ServerMessage::Resumed {
                ice_servers,
                ice_transport_policy,
                ..
            } => {
                // Same seat, same peer: the call goes on as it was.
                self.back_online();
                self.ice_servers = ice_servers;
                self.ice_policy = ice_transport_policy;
            }
            ServerMessage::PeerJoined { peer, polite } => {
                self.open_peer(peer, polite);
            }
            ServerMessage::Signal { from, signal } => self.on_signal(from, signal).await,
            ServerMessage::PeerLeft { peer } => {
                if self.peer.as_ref().is_some_and(|p| p.id == peer)
                    || self.expected.as_ref().is_some_and(|p| p.id == peer)
                {
                    self.peer_gone();
                }
            }
            ServerMessage::Pong => {}
            ServerMessage::Error { code, message } => match code {
                ErrorCode::RoomFull => {
                    self.view.status.set(CallStatus::RoomFull);
                    return Flow::Stop;
                }
                ErrorCode::InvalidRoom | ErrorCode::InvalidName => {
                    self.fail(message);
                    return Flow::Stop;
                }
                ErrorCode::InvalidToken | ErrorCode::ResumeExpired => {
                    // The seat is gone (the server forgot it, or held it too long): the
                    // other side was told we left. Start over with a fresh join.
                    self.seat = None;
                    self.peer_gone();
                    self.view.status.set(CallStatus::Joining);
                    self.send_join();
                }
                // Our signal went to someone no longer in the room.
                ErrorCode::UnknownPeer if self.peer.is_some() => self.peer_gone(),
                _ => leptos::logging::warn!("server refused a message: {message}"),
            },
        }
        Flow::Continue
    }

    async fn on_signal(&mut self, from: PeerId, signal: Signal) {
        if self.peer.is_none() {
            // The first offer from the person we are waiting for: now we connect.
            if let Some(info) = self.expected.take().filter(|p| p.id == from) {
                let polite = self.seat.as_ref().is_none_or(|s| s.polite);
                self.open_peer(info, polite);
            }
        }
        let Some(peer) = self.peer.as_mut().filter(|p| p.id == from) else {
            return;
        };
        match peer.apply(signal).await {
            Ok(Some(answer)) => self.signal(answer),
            Ok(None) => {}
            Err(e) => self.negotiation_failed(&e),
        }
    }

    async fn on_peer(&mut self, event: PeerEvent) {
        let view = self.view;
        let Some(peer) = self.peer.as_mut() else {
            return;
        };
        match event {
            PeerEvent::Candidate(signal) => self.signal(signal),
            PeerEvent::NegotiationNeeded => match peer.negotiate().await {
                Ok(Some(offer)) => self.signal(offer),
                Ok(None) => {}
                Err(e) => self.negotiation_failed(&e),
            },
            PeerEvent::Track(track) => {
                let stream = peer.add_remote_track(&track);
                if let Some(video) = element(view.remote_video) {
                    if video.src_object().as_ref() != Some(stream) {
                        video.set_src_object(Some(stream));
                        play(video, view);
                    }
                }
            }
            PeerEvent::DataChannel(channel) if channel.label().starts_with(CHANNEL_PREFIX) => {
                let id = self.take_transfer_id();
                let limit = self.max_file_bytes;
                let received = self.received.clone();
                client_transfer::receive(channel.clone(), id, limit, view, received);
                self.transfers.insert(id, channel);
            }
            PeerEvent::DataChannel(channel) => peer.attach_chat(channel),
            PeerEvent::ChatOpen => {
                view.chat_open.set(true);
                self.announce();
            }
            PeerEvent::ChatClosed => view.chat_open.set(false),
            PeerEvent::Message(text) => match PeerMessage::decode(&text) {
                Ok(PeerMessage::Chat { text }) => view.chat.update(|lines| {
                    lines.push(ChatLine {
                        from: peer.name.clone(),
                        text,
                        mine: false,
                    })
                }),
                Ok(PeerMessage::Media {
                    audio,
                    video,
                    screen,
                }) => {
                    view.remote_sends_audio.set(audio);
                    view.remote_sends_video.set(video);
                    view.remote_shares_screen.set(screen);
                }
                Err(e) => leptos::logging::warn!("unreadable message from the peer: {e}"),
            },
            PeerEvent::State(state) => {
                let with = peer.name.clone();
                match state {
                    RtcPeerConnectionState::Connected => {
                        view.status.set(CallStatus::Connected { with })
                    }
                    RtcPeerConnectionState::Disconnected | RtcPeerConnectionState::Failed => {
                        view.status.set(CallStatus::Interrupted { with })
                    }
                    _ => {}
                }
            }
            PeerEvent::Ice(RtcIceConnectionState::Failed) => peer.restart_ice(),
            PeerEvent::Ice(RtcIceConnectionState::Disconnected) => {
                // Often a blip that heals by itself; restart only if it lasts.
                let (events, id) = (self.events.clone(), peer.id);
                spawn_local(async move {
                    TimeoutFuture::new(ICE_GRACE_MS).await;
                    let _ = events.unbounded_send(Event::Peer(id, PeerEvent::IceGraceOver));
                });
            }
            PeerEvent::Ice(_) => {}
            PeerEvent::IceGraceOver => {
                if peer.ice_state() == RtcIceConnectionState::Disconnected {
                    peer.restart_ice();
                }
            }
        }
    }

    fn open_peer(&mut self, info: PeerInfo, polite: bool) {
        if self.peer.is_some() {
            self.close_peer();
        }
        self.expected = None;
        let stream = self.media.stream.as_ref();
        match Peer::new(
            info.id,
            info.name.clone(),
            polite,
            &self.ice_servers,
            self.ice_policy,
            stream,
            self.events.clone(),
        ) {
            Ok(peer) => {
                self.view.remote_name.set(Some(info.name.clone()));
                self.view
                    .status
                    .set(CallStatus::Connecting { with: info.name });
                self.peer = Some(peer);
            }
            Err(e) => self.fail(format!(
                "the browser refused a connection ({})",
                error_name(&e)
            )),
        }
    }

    /// The other person left: close their connection and wait for someone new.
    fn peer_gone(&mut self) {
        let name = match (self.peer.as_ref(), self.expected.take()) {
            (Some(peer), _) => peer.name.clone(),
            (None, Some(expected)) => expected.name,
            (None, None) => return,
        };
        self.close_peer();
        self.view.status.set(CallStatus::PeerLeft { name });
    }

    fn close_peer(&mut self) {
        self.last_stats = None;
        self.view.stats.set(None);
        self.view.chat_open.set(false);
        self.view.remote_sends_audio.set(true);
        self.view.remote_sends_video.set(true);
        self.view.remote_shares_screen.set(false);
        self.view.remote_name.set(None);
        self.view.needs_play.set(false);
        if let Some(video) = element(self.view.remote_video) {
            video.set_src_object(None);
        }
        if let Some(peer) = self.peer.take() {
            peer.close();
        }
    }

    /// A description or candidate was refused. Before the first connection nothing works
    /// without it; once connected, a failed renegotiation leaves the call as it was.
    fn negotiation_failed(&self, error: &JsValue) {
        let connected = self.peer.as_ref().is_some_and(Peer::is_connected);
        if connected {
            leptos::logging::warn!("renegotiation failed: {}", error_name(error));
        } else {
            self.fail(format!("could not connect ({})", error_name(error)));
        }
    }

    /// Opens the signaling socket and asks for our seat: back, if we had one.
    fn connect(&mut self) {
        self.generation += 1;
        match SignalingSocket::connect(self.events.clone(), self.generation) {
            Ok(socket) => {
                self.socket = Some(socket);
                self.last_heard = now_ms();
                match self.seat.as_ref().map(|seat| seat.token.clone()) {
                    Some(token) => self.send(ClientMessage::Resume { token }),
                    None => self.send_join(),
                }
            }
            Err(e) => {
                leptos::logging::warn!("cannot open the signaling socket: {e}");
                self.lost_server();
            }
        }
    }

    fn send_join(&self) {
        self.send(ClientMessage::Join {
            room: self.room.clone(),
            name: self.user.clone(),
        });
    }

    /// The socket is gone: say so, and try again after a backoff with jitter.
    fn lost_server(&mut self) {
        self.socket = None;
        self.view.server_lost.set(true);
        if self.seat.is_none() && self.peer.is_none() {
            self.view.status.set(CallStatus::Joining);
        }
        let delay = reconnect_delay_ms(self.reconnects, js_sys::Math::random());
        self.reconnects += 1;
        let events = self.events.clone();
        spawn_local(async move {
            TimeoutFuture::new(delay as u32).await;
            let _ = events.unbounded_send(Event::Reconnect);
        });
    }

    fn back_online(&mut self) {
        self.reconnects = 0;
        self.view.server_lost.set(false);
    }

    /// Pings the server, or gives up on it if it has been silent too long.
    fn heartbeat(&mut self) {
        if self.socket.is_none() {
            return;
        }
        if now_ms() - self.last_heard > SERVER_SILENCE_MS {
            leptos::logging::warn!("the server went silent; reconnecting");
            // Dropping the socket closes it.
            self.socket = None;
            self.lost_server();
        } else {
            self.send(ClientMessage::Ping);
        }
    }

    fn signal(&self, signal: Signal) {
        if let Some(to) = self.peer.as_ref().map(|p| p.id) {
            self.send(ClientMessage::Signal { to, signal });
        }
    }

    /// Sends if the server is there. While it is not, signals are dropped: media keeps
    /// flowing, and a renegotiation is made again after the resume if still needed.
    fn send(&self, message: ClientMessage) {
        if let Some(socket) = &self.socket {
            socket.send(message);
        }
    }

    fn fail(&self, why: String) {
        self.view.status.set(CallStatus::Failed(why));
    }

    /// Hangs up: peer connection, camera, and our seat on the server.
    fn end(mut self) {
        for channel in self.transfers.values() {
            channel.close();
        }
        for url in self.received.borrow_mut().drain(..) {
            client_transfer::forget(&url);
        }
        self.close_peer();
        if let Some(screen) = self.screen.take() {
            screen.track.set_onended(None);
            screen.track.stop();
        }
        self.media.stop();
        if let Some(video) = element(self.view.local_video) {
            video.set_src_object(None);
        }
        if self.seat.is_some() {
            self.send(ClientMessage::Leave);
        }
        // Dropping the socket closes it, after the queued `leave`.
        self.socket = None;
    }
}

/// Asks the browser to say when devices come and go. The closure must live as long as
/// the session; the caller keeps it and unregisters it at the end.
fn watch_devices(events: &UnboundedSender<Event>) -> Option<Closure<dyn FnMut()>> {
    let devices = media::media_devices().ok()?;
    let events = events.clone();
    let closure = Closure::<dyn FnMut()>::new(move || {
        let _ = events.unbounded_send(Event::DevicesChanged);
    });
    devices.set_ondevicechange(Some(closure.as_ref().unchecked_ref()));
    Some(closure)
}

/// Sends `event()` every `period_ms` until the session is gone.
async fn tick(events: UnboundedSender<Event>, period_ms: u32, event: fn() -> Event) {
    loop {
        TimeoutFuture::new(period_ms).await;
        if events.unbounded_send(event()).is_err() {
            return;
        }
    }
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// The element behind `node`, if the call screen still shows it. The session outlives the
/// screen (it tears down after navigation), so it must never assume the view is there:
/// reads of the view use `try_` forms (writes to a disposed signal are already no-ops).
fn element(node: NodeRef<Video>) -> Option<web_sys::HtmlVideoElement> {
    node.try_get_untracked().flatten()
}

/// Starts playback; if the browser wants a click first, the call screen offers a button.
fn play(video: web_sys::HtmlVideoElement, view: CallView) {
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
