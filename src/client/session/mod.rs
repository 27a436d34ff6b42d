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

mod commands;
mod event;
mod kept_seat;
mod local_media;
mod network;
mod on_screen;
mod peers;
mod stats;
mod transfers;

use event::Event;
use kept_seat::KeptSeat;
use local_media::{watch_devices, ScreenShare};
use on_screen::element;
use peers::Remote;
use transfers::FileChannel;

use super::file_channel;
use super::media::{self, LocalMedia};
use super::peer::{Peer, PeerEvent};
use super::signaling::{SignalingSocket, SocketEvent};
use crate::call_state::{CallState, DeviceKind, UiCommand};
use crate::client::clock::now;
use crate::client::error_name;
use crate::mesh::speaker::ActiveSpeaker;
use crate::mesh::switches::Switches;
use crate::mesh::{self, Effect, Input, Millis, PeerInput};
use crate::protocol::peer::MAX_CHAT_LINES;
use crate::protocol::signaling::PeerId;
use crate::stats::StatsSample;
use futures::channel::mpsc::{self, UnboundedReceiver, UnboundedSender};
use futures::future::Either;
use futures::{FutureExt, StreamExt};
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{HtmlVideoElement, MediaStreamTrack, RtcDataChannel};

/// How long the event loop works through a backlog before it gives the browser a turn.
const SLICE_MS: u64 = 8;

/// An event handled for longer than this kept the person's controls waiting, and is
/// noted in the console (the controls go first, but not in the middle of an event).
const SLOW_EVENT_MS: u64 = 100;

/// Whether this tab keeps a seat in `room` as `user` from an earlier page (its resume
/// token: a reload, or a duplicated tab).
pub fn seat_kept(user: &str, room: &str) -> bool {
    KeptSeat::new(user, room).token().is_some()
}

/// Runs the call in the background until it ends or the call screen goes away.
/// `switches`: the microphone and camera as the person set them before joining.
pub fn start(
    user: String,
    room: String,
    switches: Switches,
    view: CallState,
    ui: UnboundedReceiver<UiCommand>,
) {
    spawn_local(run(user, room, switches, view, ui));
}

async fn run(
    user: String,
    room: String,
    switches: Switches,
    view: CallState,
    ui: UnboundedReceiver<UiCommand>,
) {
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
    let seat = KeptSeat::new(&user, &room);
    // The page's script may have opened the socket and joined already (early_media): as
    // this person in this room, or it is given back.
    let early_socket = match crate::early_media::take_socket() {
        Some(early) if early.name == user && early.room == room => Some(early),
        Some(other) => {
            other.give_back();
            None
        }
        None => None,
    };
    let mut machine = mesh::Session::new(user, room, seed);
    machine.with_switches(switches);
    // Reloaded, or opened in a tab that copied this one's storage: ask for the seat back.
    if let Some(token) = seat.token() {
        machine.resume_with(token);
    }
    let mut session = Session {
        machine,
        seat,
        view,
        events: events.clone(),
        socket_events,
        peer_events,
        media: LocalMedia::none(),
        socket: None,
        early_socket,
        peers: HashMap::new(),
        tiles: HashMap::new(),
        screen: None,
        transfers: HashMap::new(),
        received: Rc::default(),
        outgoing_file: None,
        offered_file: None,
        stats_shown: None,
        stats_reading: false,
        speaker: ActiveSpeaker::default(),
        muted_listener: None,
        recorder: None,
        warned: HashSet::new(),
        redraw_pending: false,
        stop: false,
    };
    // The socket opens and the join goes out while the camera starts (or the person
    // answers the browser's prompt); what the server says meanwhile waits in the queue,
    // and is handled with the camera's tracks at hand.
    let effects = match session.early_socket {
        Some(_) => session.machine.start_on_early_socket(now()),
        None => session.machine.start(now()),
    };
    session.carry_out(effects).await;
    // Not adopted (the seat from before is asked back instead): its seat is given back.
    if let Some(early) = session.early_socket.take() {
        early.give_back();
    }
    session.media = media::acquire().await;
    view.media_note.set(session.media.note.clone());
    if let (Some(video), Some(stream)) = (element(view.local_video), &session.media.stream) {
        video.set_src_object(Some(stream));
    }
    session.input(Input::MediaReady).await;
    session.announce().await;
    session.show_sound();
    let on_device_change = watch_devices(&events);
    let _network = network::watch_network(&events);
    spawn_local(stats::tick(events));
    session.list_devices().await;
    // Events that queued up while an event was awaited are handled one after another
    // without a turn for the browser; past a slice of such work, the loop gives it one (so
    // a click is seen, Mute shows as pressed and the screen paints) before it goes on.
    // The state machine's timers are one deadline here (`poll_timeout`), asked again
    // after every event: a timer it cancelled is simply no longer the deadline.
    let mut slice_started = now();
    while !session.stop {
        let deadline = session.machine.poll_timeout();
        // A deadline that has come goes before whatever is queued: a flood of peer news
        // never holds a timer back by more than one event.
        let due = deadline.is_some_and(|at| at <= now());
        let next = match due.then_some(Event::Timeout) {
            Some(timeout) => Some(timeout),
            None => match queue.next().now_or_never() {
                Some(queued) => queued,
                None => {
                    let next = match deadline {
                        Some(at) => {
                            let wait = u32::try_from(at.since(now())).unwrap_or(u32::MAX);
                            let timeout = TimeoutFuture::new(wait);
                            match futures::future::select(queue.next(), timeout).await {
                                Either::Left((event, _)) => event,
                                Either::Right(((), _)) => Some(Event::Timeout),
                            }
                        }
                        None => queue.next().await,
                    };
                    slice_started = now();
                    next
                }
            },
        };
        let Some(event) = next else {
            break;
        };
        let (what, started) = (event.name(), now());
        session.handle(event).await;
        let done = now();
        if done.since(started) > SLOW_EVENT_MS {
            let took = done.since(started);
            leptos::logging::warn!("slow event: {what} took {took} ms");
        }
        if done.since(slice_started) > SLICE_MS {
            TimeoutFuture::new(0).await;
            slice_started = now();
        }
    }
    // The last word (e.g. "Call ended.") is shown now, not at a frame that never comes.
    session.show_state();
    session.end();
    if let (Some(devices), Some(_)) = (media::media_devices().ok(), on_device_change) {
        devices.set_ondevicechange(None);
    }
}

struct Session {
    machine: mesh::Session,
    /// Where the seat's resume token is kept for a reload.
    seat: KeptSeat,
    view: CallState,
    events: UnboundedSender<Event>,
    socket_events: UnboundedSender<SocketEvent>,
    peer_events: UnboundedSender<(PeerId, PeerEvent)>,
    media: LocalMedia,
    /// `None` while the server connection is down.
    socket: Option<SignalingSocket>,
    /// The socket the page's script opened, until the state machine adopts it.
    early_socket: Option<crate::early_media::EarlySocket>,
    peers: HashMap<PeerId, Remote>,
    /// Each person's video element, once their tile is on screen. A tile can come before
    /// the connection (it shows as soon as they are in the room), and outlives a
    /// connection replaced by a new one.
    tiles: HashMap<PeerId, HtmlVideoElement>,
    /// The screen being shared instead of the camera.
    screen: Option<ScreenShare>,
    /// File transfers in flight by id, to cancel them.
    transfers: HashMap<u32, FileChannel>,
    /// The file being sent, while the machine says to whom.
    outgoing_file: Option<web_sys::File>,
    /// A file channel a peer just opened, while the machine says whether to take it.
    offered_file: Option<RtcDataChannel>,
    /// Download links of received files, released when the call ends.
    received: Rc<RefCell<Vec<String>>>,
    /// Whose figures the stats panel shows.
    stats_shown: Option<PeerId>,
    /// A stats read is under way (a slow one is not joined by another).
    stats_reading: bool,
    speaker: ActiveSpeaker,
    /// The call being recorded, while it is.
    recorder: Option<crate::client::recorder::Recorder>,
    /// Listens to the microphone while it is switched off.
    muted_listener: Option<crate::client::muted_speech::MutedListener>,
    /// Kinds of peer misbehaviour already noted in the console.
    warned: HashSet<&'static str>,
    /// The screen is redrawn at most once a frame, however fast peers send news.
    redraw_pending: bool,
    /// The state machine said the call is over.
    stop: bool,
}

impl Session {
    async fn handle(&mut self, event: Event) {
        match event {
            // The person's own action shows at once (Mute pressed reads as pressed), not
            // at a redraw queued behind whatever peers are sending.
            Event::Ui(command) => {
                self.on_command(command).await;
                self.show_state();
            }
            Event::Socket(SocketEvent::Message(generation, message)) => {
                self.input(Input::Server(generation, message)).await
            }
            Event::Socket(SocketEvent::Closed(generation)) => {
                self.input(Input::SocketClosed(generation)).await
            }
            Event::Peer(id, event) => self.on_peer(id, event).await,
            Event::Timeout => self.input(Input::Timeout).await,
            Event::StatsTick => self.read_stats(),
            Event::StatsRead(reads) => self.show_stats(reads).await,
            Event::ScreenPicked(picked) => self.start_sharing(picked).await,
            Event::DeviceOpened(kind, opened) => self.use_device(kind, opened).await,
            Event::DevicesChanged => self.list_devices().await,
            Event::TransferEnded(id) => {
                self.transfers.remove(&id);
                self.input(Input::TransferEnded(id)).await;
            }
            Event::Redraw => {
                self.redraw_pending = false;
                self.show_state();
            }
            Event::NetworkChanged => self.input(Input::NetworkChanged).await,
        }
    }

    /// Hands one input to the state machine and carries out what it decides.
    async fn input(&mut self, input: Input) {
        self.input_at(input, now()).await;
    }

    /// [`Session::input`] for something that happened at `at` (a message that waited
    /// in the queue).
    async fn input_at(&mut self, input: Input, at: Millis) {
        let effects = self.machine.handle(input, at);
        self.carry_out(effects).await;
    }

    /// Carries out effects in order. An effect can produce a new input (an answer made
    /// for an offer); its effects join the end of the queue.
    async fn carry_out(&mut self, effects: Vec<Effect>) {
        let mut queue = VecDeque::from(effects);
        while let Some(effect) = queue.pop_front() {
            if let Some(input) = self.carry_out_one(effect).await {
                queue.extend(self.machine.handle(input, now()));
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
            // A socket already closed is reported closed by `adopt`, after what it kept.
            Effect::AdoptSocket { generation } => match self.early_socket.take() {
                Some(early) => {
                    self.socket =
                        SignalingSocket::adopt(self.socket_events.clone(), generation, early);
                }
                None => return Some(Input::SocketClosed(generation)),
            },
            // Dropping the socket closes it, after anything already queued.
            Effect::CloseSocket => self.socket = None,
            Effect::Send(message) => {
                // While the server is away, messages are dropped: media keeps flowing,
                // and a renegotiation is made again after the resume if still needed.
                if let Some(socket) = &self.socket {
                    socket.send(message);
                }
            }
            Effect::OpenPeer {
                peer,
                polite,
                screen,
            } => return self.open_peer(peer, polite, screen),
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
            Effect::LimitSenders(limits) => self.limit_senders(limits).await,
            Effect::EnableTracks(switches) => self.enable_tracks(switches),
            Effect::SendFile { peer, transfer } => return self.start_sending(peer, transfer),
            Effect::ReceiveFile { peer, transfer } => return self.start_receiving(peer, transfer),
            Effect::RefuseFile { .. } => self.refuse_file(),
            Effect::PutOnWire(kind) => self.put_on_wire(kind).await,
            Effect::ShowChat(line) => self.view.chat.update(|lines| {
                lines.push(line);
                let over = lines.len().saturating_sub(MAX_CHAT_LINES);
                lines.drain(..over);
            }),
            Effect::Notice(text) => self.view.notice.set(Some(text)),
            Effect::MuteRequest(host) => self.view.mute_request.set(Some(host)),
            Effect::Knocked(_) => media::knock_cue(),
            Effect::Warn(text) => leptos::logging::warn!("{text}"),
            Effect::KeepToken(token) => self.seat.keep(token),
            Effect::Stop => self.stop = true,
        }
        None
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
        self.muted_listener = None;
        // Hanging up ends a recording, and offers its file.
        if let Some(recorder) = self.recorder.take() {
            recorder.stop();
        }
        self.media.stop();
        if let Some(video) = element(self.view.local_video) {
            video.set_src_object(None);
        }
        // Dropping the socket closes it, after the queued `leave`.
        self.socket = None;
    }
}
