//! The browser side of a call: carries out what the call's state machine
//! ([`crate::mesh::Session`]) decides, and tells it what the browser reports.
//!
//! One task owns the socket, the media and one peer connection per person, and handles
//! every event (from the server, the browsers and the person) in order. Handling events
//! one at a time is what keeps WebRTC's asynchronous steps from interleaving: a candidate
//! can't race the remote description it belongs to, and a hang up can't land in the
//! middle of an answer. Decisions (who offers, when to restart ICE, reconnecting to the
//! server, what the status says, how upload is shared) live in the state machine; this
//! layer only touches the browser.

use super::error_name;
use super::file_channel;
use super::media::{self, LocalMedia};
use super::peer::{Peer, PeerEvent};
use super::signaling::{SignalingSocket, SocketEvent};
use super::stats_report;
use crate::call_state::{CallState, DeviceKind, UiCommand, Verifying};
use crate::mesh::budget::SenderLimits;
use crate::mesh::speaker::ActiveSpeaker;
use crate::mesh::verify::verification_code;
use crate::mesh::{
    self, Command, ConnectionState, Effect, IceState, Input, MediaState, PeerInput, Timer,
};
use crate::protocol::file::{CHANNEL_PREFIX, MAX_INCOMING_TRANSFERS};
use crate::protocol::peer::MAX_CHAT_LINES;
use crate::protocol::signaling::PeerId;
use crate::stats::{compare, describe_sending, StatsSample};
use futures::channel::mpsc::{self, UnboundedReceiver, UnboundedSender};
use futures::{FutureExt, StreamExt};
use gloo_timers::future::TimeoutFuture;
use leptos::html::Video;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    HtmlVideoElement, MediaStream, MediaStreamTrack, RtcDataChannel, RtcDataChannelState,
    RtcIceConnectionState, RtcPeerConnectionState,
};

/// How often the stats panel's figures and the upload estimate are refreshed.
const STATS_MS: u32 = 1_000;

/// Everything the session reacts to.
enum Event {
    Ui(UiCommand),
    Socket(SocketEvent),
    Peer(PeerId, PeerEvent),
    Timer(Timer),
    /// Time to read the call statistics.
    StatsTick,
    /// The statistics asked for at the last tick, one sample per connection read.
    StatsRead(Vec<StatsRead>),
    /// The person picked a screen to share (or declined).
    ScreenPicked(Result<MediaStreamTrack, String>),
    /// A newly chosen camera or microphone is open (or could not be).
    DeviceOpened(DeviceKind, Result<MediaStreamTrack, String>),
    /// Devices were plugged in or out.
    DevicesChanged,
    /// Time to bring the screen up to date (an animation frame).
    Redraw,
}

impl Event {
    /// What the event is, for the console's note on a slow one.
    fn name(&self) -> &'static str {
        match self {
            Event::Ui(_) => "a control",
            Event::Socket(_) => "news from the server",
            Event::Peer(..) => "news from a peer connection",
            Event::Timer(_) => "a timer",
            Event::StatsTick => "the stats tick",
            Event::StatsRead(_) => "the stats read",
            Event::ScreenPicked(_) => "a picked screen",
            Event::DeviceOpened(..) => "an opened device",
            Event::DevicesChanged => "the device list",
            Event::Redraw => "a redraw",
        }
    }
}

/// One connection's statistics, read off the event loop.
struct StatsRead {
    peer: PeerId,
    /// The connection read: a sample of a connection since replaced is not compared with
    /// its successor's.
    connection: web_sys::RtcPeerConnection,
    sample: Result<StatsSample, JsValue>,
}

/// How long the event loop works through a backlog before it gives the browser a turn.
const SLICE_MS: f64 = 8.0;

/// An event handled for longer than this kept the person's controls waiting, and is
/// noted in the console (the controls go first, but not in the middle of an event).
const SLOW_EVENT_MS: f64 = 100.0;

/// Runs the call in the background until it ends or the call screen goes away.
pub fn start(user: String, room: String, view: CallState, ui: UnboundedReceiver<UiCommand>) {
    spawn_local(run(user, room, view, ui));
}

async fn run(user: String, room: String, view: CallState, ui: UnboundedReceiver<UiCommand>) {
    let (events, internal) = mpsc::unbounded();
    let (socket_events, from_sockets) = mpsc::unbounded();
    let (peer_events, from_peers) = mpsc::unbounded();
    // The person's own controls go first: a peer flooding us with candidates or messages
    // delays a click by one event at most, not by the whole backlog.
    let mut queue = futures::stream::select_with_strategy(
        ui.map(Event::Ui),
        futures::stream::select(
            internal,
            futures::stream::select(
                from_sockets.map(Event::Socket),
                from_peers.map(|(id, event)| Event::Peer(id, event)),
            ),
        ),
        |_: &mut ()| futures::stream::PollNext::Left,
    );
    let seed = (js_sys::Math::random() * u64::MAX as f64) as u64;
    let seat_key = seat_key(&user, &room);
    let mut machine = mesh::Session::new(user, room, seed);
    // Reloaded, or opened in a tab that copied this one's storage: ask for the seat back.
    if let Some(token) = session_storage().and_then(|s| s.get_item(&seat_key).ok().flatten()) {
        machine.resume_with(token);
    }
    let mut session = Session {
        machine,
        seat_key,
        view,
        events: events.clone(),
        socket_events,
        peer_events,
        media: LocalMedia::none(),
        socket: None,
        peers: HashMap::new(),
        tiles: HashMap::new(),
        screen: None,
        transfers: HashMap::new(),
        received: Rc::default(),
        next_transfer: 1,
        stats_shown: None,
        stats_reading: false,
        speaker: ActiveSpeaker::default(),
        warned: HashSet::new(),
        redraw_pending: false,
        stop: false,
    };
    // The socket opens and the join goes out while the camera starts (or the person
    // answers the browser's prompt); what the server says meanwhile waits in the queue,
    // and is handled with the camera's tracks at hand.
    let effects = session.machine.start(now_ms());
    session.carry_out(effects).await;
    session.media = media::acquire().await;
    view.media_note.set(session.media.note.clone());
    if let (Some(video), Some(stream)) = (element(view.local_video), &session.media.stream) {
        video.set_src_object(Some(stream));
    }
    // Off from the start where the person switched it off before joining.
    session.enable_tracks();
    session.input(Input::MediaReady).await;
    session.announce().await;
    let on_device_change = watch_devices(&events);
    spawn_local(tick(events, STATS_MS, || Event::StatsTick));
    session.list_devices().await;
    // Events that queued up while an event was awaited are handled one after another
    // without a turn for the browser; past a slice of such work, the loop gives it one (so
    // a click is seen, Mute shows as pressed and the screen paints) before it goes on.
    let mut slice_started = now_ms();
    while !session.stop {
        let next = match queue.next().now_or_never() {
            Some(queued) => queued,
            None => {
                let next = queue.next().await;
                slice_started = now_ms();
                next
            }
        };
        let Some(event) = next else {
            break;
        };
        let (what, started) = (event.name(), now_ms());
        session.handle(event).await;
        let done = now_ms();
        if done - started > SLOW_EVENT_MS {
            leptos::logging::warn!("slow event: {what} took {:.0} ms", done - started);
        }
        if done - slice_started > SLICE_MS {
            TimeoutFuture::new(0).await;
            slice_started = now_ms();
        }
    }
    // The last word (e.g. "Call ended.") is shown now, not at a frame that never comes.
    session.show_state();
    session.end();
    if let (Some(devices), Some(_)) = (media::media_devices().ok(), on_device_change) {
        devices.set_ondevicechange(None);
    }
}

/// Our connection to one person.
struct Remote {
    peer: Peer,
    /// The previous statistics sample, to turn counters into rates.
    last_stats: Option<StatsSample>,
}

struct Session {
    machine: mesh::Session,
    /// Where the seat's resume token is kept for a reload.
    seat_key: String,
    view: CallState,
    events: UnboundedSender<Event>,
    socket_events: UnboundedSender<SocketEvent>,
    peer_events: UnboundedSender<(PeerId, PeerEvent)>,
    media: LocalMedia,
    /// `None` while the server connection is down.
    socket: Option<SignalingSocket>,
    peers: HashMap<PeerId, Remote>,
    /// Each person's video element, once their tile is on screen. A tile can come before
    /// the connection (it shows as soon as they are in the room), and outlives a
    /// connection replaced by a new one.
    tiles: HashMap<PeerId, HtmlVideoElement>,
    /// The screen being shared instead of the camera.
    screen: Option<ScreenShare>,
    /// File transfers by id, to cancel them and to count what one person sends at once.
    transfers: HashMap<u32, FileChannel>,
    /// Download links of received files, released when the call ends.
    received: Rc<RefCell<Vec<String>>>,
    next_transfer: u32,
    /// Whose figures the stats panel shows.
    stats_shown: Option<PeerId>,
    /// A stats read is under way (a slow one is not joined by another).
    stats_reading: bool,
    speaker: ActiveSpeaker,
    /// Kinds of peer misbehaviour already noted in the console.
    warned: HashSet<&'static str>,
    /// The screen is redrawn at most once a frame, however fast peers send news.
    redraw_pending: bool,
    /// The state machine said the call is over.
    stop: bool,
}

struct FileChannel {
    peer: PeerId,
    channel: RtcDataChannel,
    incoming: bool,
}

struct ScreenShare {
    track: MediaStreamTrack,
    /// Stopping from the browser's own "Stop sharing" bar ends the track.
    _on_ended: Closure<dyn FnMut()>,
}

impl Session {
    async fn handle(&mut self, event: Event) {
        match event {
            Event::Ui(command) => self.on_command(command).await,
            Event::Socket(SocketEvent::Message(generation, message)) => {
                self.input(Input::Server(generation, message)).await
            }
            Event::Socket(SocketEvent::Closed(generation)) => {
                self.input(Input::SocketClosed(generation)).await
            }
            Event::Peer(id, event) => self.on_peer(id, event).await,
            Event::Timer(timer) => self.input(Input::Timer(timer)).await,
            Event::StatsTick => self.read_stats(),
            Event::StatsRead(reads) => self.show_stats(reads).await,
            Event::ScreenPicked(picked) => self.start_sharing(picked).await,
            Event::DeviceOpened(kind, opened) => self.use_device(kind, opened).await,
            Event::DevicesChanged => self.list_devices().await,
            Event::Redraw => {
                self.redraw_pending = false;
                self.show_state();
            }
        }
    }

    /// Hands one input to the state machine and carries out what it decides.
    async fn input(&mut self, input: Input) {
        let effects = self.machine.handle(input, now_ms());
        self.carry_out(effects).await;
    }

    /// Carries out effects in order. An effect can produce a new input (an answer made
    /// for an offer); its effects join the end of the queue.
    async fn carry_out(&mut self, effects: Vec<Effect>) {
        let mut queue = VecDeque::from(effects);
        while let Some(effect) = queue.pop_front() {
            if let Some(input) = self.carry_out_one(effect).await {
                queue.extend(self.machine.handle(input, now_ms()));
            }
        }
        self.schedule_redraw();
        // Tiles of people no longer in the room are gone from the screen.
        let machine = &self.machine;
        self.tiles
            .retain(|id, _| machine.people().any(|p| p.id == *id));
    }

    async fn carry_out_one(&mut self, effect: Effect) -> Option<Input> {
        match effect {
            Effect::OpenSocket { generation } => {
                match SignalingSocket::connect(
                    self.socket_events.clone(),
                    generation,
                    self.machine.room(),
                ) {
                    Ok(socket) => self.socket = Some(socket),
                    Err(e) => {
                        leptos::logging::warn!("cannot open the signaling socket: {e}");
                        self.socket = None;
                        return Some(Input::SocketClosed(generation));
                    }
                }
            }
            // Dropping the socket closes it, after anything already queued.
            Effect::CloseSocket => self.socket = None,
            Effect::Send(message) => {
                // While the server is away, messages are dropped: media keeps flowing,
                // and a renegotiation is made again after the resume if still needed.
                if let Some(socket) = &self.socket {
                    socket.send(message);
                }
            }
            Effect::OpenPeer { peer, polite } => return self.open_peer(peer, polite),
            Effect::ClosePeer { peer } => self.close_peer(peer),
            Effect::ApplySignal { peer, signal } => {
                let remote = self.peers.get_mut(&peer)?;
                return match remote.peer.apply(signal).await {
                    Ok(Some(answer)) => Some(Input::Peer(peer, PeerInput::LocalSignal(answer))),
                    Ok(None) => None,
                    Err(e) => Some(Input::Peer(
                        peer,
                        PeerInput::NegotiationFailed(error_name(&e)),
                    )),
                };
            }
            Effect::RestartIce { peer } => {
                if let Some(remote) = self.peers.get(&peer) {
                    remote.peer.restart_ice();
                }
            }
            Effect::SendToPeer { peer, message } => {
                if let Some(remote) = self.peers.get(&peer) {
                    // Before the channel opens this fails; the state goes out when it opens.
                    if let Err(e) = remote.peer.send(&message) {
                        leptos::logging::warn!("not sent to a peer: {}", error_name(&e));
                    }
                }
            }
            Effect::StartTimer { timer, after_ms } => {
                let events = self.events.clone();
                spawn_local(async move {
                    TimeoutFuture::new(after_ms).await;
                    let _ = events.unbounded_send(Event::Timer(timer));
                });
            }
            Effect::LimitSenders(limits) => self.limit_senders(limits).await,
            Effect::ShowChat(line) => self.view.chat.update(|lines| {
                lines.push(line);
                let over = lines.len().saturating_sub(MAX_CHAT_LINES);
                lines.drain(..over);
            }),
            Effect::Notice(text) => self.view.notice.set(Some(text)),
            Effect::MuteRequest(host) => self.view.mute_request.set(Some(host)),
            Effect::Knocked(_) => media::knock_cue(),
            Effect::Warn(text) => leptos::logging::warn!("{text}"),
            Effect::KeepToken(token) => {
                if let Some(storage) = session_storage() {
                    // A full or refused storage only costs the seat on a reload.
                    let _ = match token {
                        Some(token) => storage.set_item(&self.seat_key, &token),
                        None => storage.remove_item(&self.seat_key),
                    };
                }
            }
            Effect::Stop => self.stop = true,
        }
        None
    }

    /// Asks for the screen to follow the machine at the next animation frame: a peer
    /// flooding media-state hints costs one redraw a frame, not one per message.
    fn schedule_redraw(&mut self) {
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
    fn show_state(&self) {
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
        let max_file_bytes = self.machine.terms().max_file_bytes;
        if self.view.max_file_bytes.try_get_untracked() != Some(max_file_bytes) {
            self.view.max_file_bytes.set(max_file_bytes);
        }
    }

    async fn on_command(&mut self, command: UiCommand) {
        match command {
            UiCommand::ToggleMicrophone => {
                self.view.microphone_on.update(|on| *on = !*on);
                self.apply_mutes().await;
            }
            UiCommand::ToggleCamera => {
                self.view.camera_on.update(|on| *on = !*on);
                self.apply_mutes().await;
            }
            UiCommand::ShareScreen => self.pick_screen(),
            UiCommand::StopSharing => self.stop_sharing().await,
            UiCommand::SendFile(file) => self.send_file(file.take()),
            UiCommand::CancelTransfer(id) => {
                if let Some(transfer) = self.transfers.remove(&id) {
                    transfer.channel.close();
                }
            }
            UiCommand::UseDevice(kind, id) => {
                let events = self.events.clone();
                spawn_local(async move {
                    let opened = media::open_device(kind, &id).await;
                    let _ = events.unbounded_send(Event::DeviceOpened(kind, opened));
                });
            }
            UiCommand::ShowVideo(id, video) => {
                let video = video.take();
                if let Some(remote) = self.peers.get(&id) {
                    show_stream(&video, remote.peer.remote_stream(), self.view);
                }
                self.tiles.insert(id, video);
            }
            UiCommand::PlayAudio => {
                self.view.needs_play.set(false);
                for video in self.tiles.values() {
                    play(video.clone(), self.view);
                }
            }
            UiCommand::SendChat(text) => self.input(Input::Command(Command::SendChat(text))).await,
            UiCommand::HangUp => self.input(Input::Command(Command::HangUp)).await,
            UiCommand::Leave => self.input(Input::Command(Command::Leave)).await,
            UiCommand::TakeBack => self.input(Input::Command(Command::TakeBack)).await,
            UiCommand::Verify(id) => self.show_code(id).await,
            UiCommand::MarkVerified(id) => {
                self.input(Input::Command(Command::MarkVerified(id))).await;
                self.view.verifying.set(None);
            }
            UiCommand::Host(command) => self.input(Input::Command(Command::Host(command))).await,
        }
    }

    /// Shows the verification code of the connection to `id`, and tells the machine (a
    /// mark of verification holds only while the code does).
    async fn show_code(&mut self, id: PeerId) {
        let name = self
            .view
            .people
            .with_untracked(|people| people.iter().find(|p| p.id == id).map(|p| p.name.clone()))
            .unwrap_or_default();
        let code = self.code_of(id);
        self.view.verifying.set(Some(Verifying {
            id,
            name,
            code: code.clone(),
        }));
        if let Ok(code) = code {
            self.input(Input::Peer(id, PeerInput::Code(code))).await;
        }
    }

    /// The verification code of the connection to `id`, from the descriptions it was
    /// negotiated with.
    fn code_of(&self, id: PeerId) -> Result<String, String> {
        let remote = self.peers.get(&id).ok_or("not connected yet")?;
        let pc = remote.peer.connection();
        match (
            pc.current_local_description(),
            pc.current_remote_description(),
        ) {
            (Some(local), Some(remote)) => verification_code(&local.sdp(), &remote.sdp())
                .map(|code| code.to_string())
                .map_err(|e| e.to_string()),
            _ => Err("the connection is still being set up".to_owned()),
        }
    }

    async fn on_peer(&mut self, id: PeerId, event: PeerEvent) {
        let Some(remote) = self.peers.get_mut(&id) else {
            // From a peer connection already closed.
            return;
        };
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
            PeerEvent::DataChannel(channel) if channel.label().starts_with(CHANNEL_PREFIX) => {
                // A finished transfer closes its channel, which is "closing" until the other
                // side's stream reset arrives: only channels still connecting or open are in
                // flight, so a slow (or unwilling) sender cannot keep a place it has finished.
                let receiving = self
                    .transfers
                    .values()
                    .filter(|t| t.peer == id && t.incoming)
                    .filter(|t| {
                        matches!(
                            t.channel.ready_state(),
                            RtcDataChannelState::Connecting | RtcDataChannelState::Open
                        )
                    })
                    .count();
                if receiving >= MAX_INCOMING_TRANSFERS {
                    channel.close();
                    return self
                        .warn_once("a file beyond the transfers one person may send at once");
                }
                let peer = remote.peer.name.clone();
                let transfer = self.take_transfer_id();
                let limit = self.machine.terms().max_file_bytes;
                let received = self.received.clone();
                file_channel::receive(channel.clone(), transfer, peer, limit, self.view, received);
                self.transfers.insert(
                    transfer,
                    FileChannel {
                        peer: id,
                        channel,
                        incoming: true,
                    },
                );
                return;
            }
            PeerEvent::DataChannel(channel)
                if channel.label() == "chat" && !remote.peer.has_chat() =>
            {
                remote.peer.attach_chat(channel);
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
            PeerEvent::Message(text) => PeerInput::Message(text),
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
        self.input(Input::Peer(id, input)).await;
        // Connected (again): the code as it is now, should the certificates have changed.
        if connected {
            if let Ok(code) = self.code_of(id) {
                self.input(Input::Peer(id, PeerInput::Code(code))).await;
            }
        }
    }

    fn open_peer(&mut self, id: PeerId, polite: bool) -> Option<Input> {
        let name = self.machine.people().find(|p| p.id == id)?.name.clone();
        let terms = self.machine.terms();
        // A shared screen goes to newcomers too, in place of the camera.
        let stream = match &self.screen {
            Some(screen) => self.stream_with_screen(&screen.track),
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
    fn stream_with_screen(&self, screen: &MediaStreamTrack) -> Option<MediaStream> {
        let tracks = js_sys::Array::of1(screen);
        if let Some(stream) = &self.media.stream {
            for track in stream.get_audio_tracks().iter() {
                tracks.push(&track);
            }
        }
        MediaStream::new_with_tracks(&tracks).ok()
    }

    fn close_peer(&mut self, id: PeerId) {
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

    async fn limit_senders(&self, limits: SenderLimits) {
        for remote in self.peers.values() {
            if let Err(e) = remote.peer.limit_senders(limits).await {
                leptos::logging::warn!("cannot limit a sender: {}", error_name(&e));
            }
        }
    }

    /// Sends `track` (or nothing) as our `kind` to everyone, without renegotiating.
    async fn replace_on_all(
        &self,
        kind: &str,
        track: Option<&MediaStreamTrack>,
    ) -> Result<(), JsValue> {
        for remote in self.peers.values() {
            remote.peer.replace_track(kind, track).await?;
        }
        Ok(())
    }

    /// Enables or disables the local tracks as the toggles say (no renegotiation: a
    /// disabled track sends silence or black), and tells everyone.
    async fn apply_mutes(&mut self) {
        self.enable_tracks();
        self.announce().await;
    }

    /// Enables or disables the local tracks as the toggles say.
    fn enable_tracks(&self) {
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
    }

    /// Tells everyone what we send, so they can show "muted" or a placeholder.
    async fn announce(&mut self) {
        let has = |kind: &str| {
            self.media.stream.as_ref().is_some_and(|s| {
                s.get_tracks()
                    .iter()
                    .any(|t| t.unchecked_into::<MediaStreamTrack>().kind() == kind)
            })
        };
        let screen = self.screen.is_some();
        let media = MediaState {
            audio: has("audio") && self.view.microphone_on.try_get_untracked().unwrap_or(true),
            video: screen
                || (has("video") && self.view.camera_on.try_get_untracked().unwrap_or(true)),
            screen,
        };
        self.input(Input::LocalMedia(media)).await;
    }

    /// Sends a file to the person picked, or to everyone connected: one transfer per
    /// person, each with its own progress row, each cancellable on its own.
    fn send_file(&mut self, file: web_sys::File) {
        let to = self.view.send_to.try_get_untracked().flatten();
        // In the order people arrived, so the progress rows read like the tiles.
        let connected: Vec<PeerId> = self
            .machine
            .people()
            .map(|p| p.id)
            .filter(|id| to.is_none_or(|to| to == *id))
            .filter(|id| self.peers.get(id).is_some_and(|r| r.peer.is_connected()))
            .collect();
        if connected.is_empty() {
            self.view
                .notice
                .set(Some("Files can be sent once you are connected.".into()));
            return;
        }
        let limit = self.machine.terms().max_file_bytes;
        for id in connected {
            let transfer = self.take_transfer_id();
            let Some(remote) = self.peers.get(&id) else {
                continue;
            };
            let peer = remote.peer.name.clone();
            let connection = remote.peer.connection();
            match file_channel::send(connection, transfer, peer, file.clone(), limit, self.view) {
                Ok(channel) => {
                    self.view.notice.set(None);
                    self.transfers.insert(
                        transfer,
                        FileChannel {
                            peer: id,
                            channel,
                            incoming: false,
                        },
                    );
                }
                Err(why) => return self.view.notice.set(Some(why)),
            }
        }
    }

    /// Notes a peer's misbehaviour in the console once per kind, not once per message.
    fn warn_once(&mut self, what: &'static str) {
        if self.warned.insert(what) {
            leptos::logging::warn!("closed {what} (further ones are closed silently)");
        }
    }

    fn take_transfer_id(&mut self) -> u32 {
        self.next_transfer += 1;
        self.next_transfer - 1
    }

    /// Asks every connected peer connection for its statistics, off the event loop:
    /// `getStats()` can take hundreds of milliseconds on a loaded machine, and a click
    /// on Mute must not wait for it.
    fn read_stats(&mut self) {
        if self.stats_reading {
            return;
        }
        let mut connections = Vec::new();
        for (id, remote) in self.peers.iter_mut() {
            if remote.peer.is_connected() {
                connections.push((*id, remote.peer.connection().clone()));
            } else {
                remote.last_stats = None;
            }
        }
        self.stats_reading = true;
        let events = self.events.clone();
        spawn_local(async move {
            let reads = futures::future::join_all(connections.into_iter().map(
                |(peer, connection)| async move {
                    let sample = stats_report::sample(&connection).await;
                    StatsRead {
                        peer,
                        connection,
                        sample,
                    }
                },
            ))
            .await;
            let _ = events.unbounded_send(Event::StatsRead(reads));
        });
    }

    /// Turns a stats read into figures: the panel shows the picked person's (the first
    /// person's until one is picked), with what we send to everyone; the loudest incoming
    /// audio says who speaks. Each connection has a congestion controller of its own,
    /// which estimates the share of the uplink its path gets; the upload we have is the
    /// sum of those estimates, and that is what the state machine shares out.
    async fn show_stats(&mut self, reads: Vec<StatsRead>) {
        self.stats_reading = false;
        let picked = self.view.stats_of.try_get_untracked().flatten();
        let shown = picked.filter(|id| self.peers.contains_key(id)).or_else(|| {
            self.machine
                .people()
                .map(|p| p.id)
                .find(|id| self.peers.contains_key(id))
        });
        if shown != self.stats_shown {
            self.stats_shown = shown;
            self.view.stats.set(None);
            self.view.stats_history.set(Default::default());
        }
        let mut estimate: Option<f64> = None;
        let (mut upload_kbps, mut receivers, mut sent_frame) = (0.0, 0, None);
        let mut levels = Vec::new();
        for read in reads {
            let id = read.peer;
            let Some(remote) = self.peers.get_mut(&id) else {
                continue;
            };
            if JsValue::from(remote.peer.connection()) != JsValue::from(&read.connection) {
                continue;
            }
            let now = match read.sample {
                Ok(now) => now,
                Err(e) => {
                    leptos::logging::warn!("getStats failed: {}", error_name(&e));
                    continue;
                }
            };
            if let Some(bps) = now.available_outgoing_bps {
                estimate = Some(estimate.unwrap_or(0.0) + bps);
            }
            if let Some(level) = now.audio_level {
                levels.push((id, level));
            }
            sent_frame = sent_frame.or(now.sent_frame);
            if let Some(before) = remote.last_stats.replace(now.clone()) {
                let stats = compare(&before, &now);
                upload_kbps += stats.send_kbps;
                receivers += 1;
                if Some(id) == shown {
                    self.view.stats_history.update(|h| h.push(&stats));
                    self.view.stats.set(Some(stats));
                }
            }
        }
        let speaking = self.speaker.update(&levels, now_ms());
        if self.view.speaking.try_get_untracked() != Some(speaking) {
            self.view.speaking.set(speaking);
        }
        let sending = (receivers > 0).then(|| describe_sending(sent_frame, upload_kbps, receivers));
        self.view.sending.set(sending);
        self.view
            .upload_kbps
            .set((receivers > 0).then_some(upload_kbps));
        self.input(Input::UploadEstimate(estimate.map(|bps| bps as u64)))
            .await;
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
        if sending {
            if let Err(e) = self.replace_on_all(&wire_kind, Some(&track)).await {
                leptos::logging::warn!("switching device failed: {}", error_name(&e));
            }
        }
        if self.screen.is_none() {
            self.show_preview(Some(&stream));
        }
        self.apply_mutes().await;
        self.list_devices().await;
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
        if let Err(e) = self.replace_on_all("video", Some(&track)).await {
            track.stop();
            self.view
                .notice
                .set(Some(format!("Screen sharing failed ({}).", error_name(&e))));
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

    async fn stop_sharing(&mut self) {
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

    /// Hangs up: every peer connection, the camera, and our seat on the server (the
    /// state machine already sent `leave` if there was a seat).
    fn end(mut self) {
        for transfer in self.transfers.values() {
            transfer.channel.close();
        }
        for url in self.received.borrow_mut().drain(..) {
            file_channel::forget(&url);
        }
        let ids: Vec<PeerId> = self.peers.keys().copied().collect();
        for id in ids {
            self.close_peer(id);
        }
        if let Some(screen) = self.screen.take() {
            screen.track.set_onended(None);
            screen.track.stop();
        }
        self.media.stop();
        if let Some(video) = element(self.view.local_video) {
            video.set_src_object(None);
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
fn element(node: NodeRef<Video>) -> Option<HtmlVideoElement> {
    node.try_get_untracked().flatten()
}

/// Shows `stream` in `video` (once) and starts it playing.
fn show_stream(video: &HtmlVideoElement, stream: &MediaStream, view: CallState) {
    if video.src_object().as_ref() != Some(stream) {
        video.set_src_object(Some(stream));
        play(video.clone(), view);
    }
}

/// Starts playback; if the browser wants a click first, the call screen offers a button.
fn play(video: HtmlVideoElement, view: CallState) {
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

/// Where this tab keeps the resume token of its seat: per tab (a reload finds it; a new
/// tab does not, unless it was duplicated), per person and room.
fn seat_key(user: &str, room: &str) -> String {
    format!("tandem:seat:{room}:{user}")
}

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}
