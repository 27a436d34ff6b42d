//! The call's decisions, as a pure state machine: no browser, no Leptos.
//!
//! A call of up to eight people is a full mesh: one peer connection per pair, each
//! negotiated on its own. [`Session`] takes what happens (server messages, per-peer
//! connection news, the person's commands, timers) and answers with [`Effect`]s for the
//! browser layer (`client::session`) to carry out. Because it only computes, every rule
//! here is tested natively, and fuzzed with random event sequences.

pub mod budget;
pub mod clock;
pub mod gates;
pub mod meeting;
pub mod network_check;
pub mod notice;
pub mod speaker;
pub mod switches;
pub mod timers;
mod transfers;
pub mod verify;

use crate::protocol::peer::{PeerMessage, PeerMessageError, Reaction};
use crate::protocol::signaling::{
    ClientMessage, ErrorCode, HostCommand, IceServer, IceTransportPolicy, KnockId, PeerId,
    PeerInfo, ServerMessage, Signal, DEFAULT_UPLOAD_BUDGET,
};
use budget::{SenderLimits, UploadPlan};
pub use clock::Millis;
use gates::{Admit, RateGate};
use meeting::{RaisedHand, Reactions, ShownReaction, UpHand};
use notice::Notice;
use switches::{Switches, TrackKind};
pub use timers::Timer;
use timers::Timers;
use transfers::Transfers;

/// The client pings the server this often…
pub const HEARTBEAT_MS: u64 = 5_000;
/// …and counts it gone after this long without hearing anything.
pub const SERVER_SILENCE_MS: u64 = 12_000;
/// How long ICE may stay `disconnected` before it is restarted.
pub const ICE_GRACE_MS: u64 = 3_000;
/// After the server held back a signal of ours (`peer_busy`: that person is not reading
/// fast enough), the connection to them is renegotiated (an ICE restart: a fresh offer,
/// fresh candidates) after this pause, doubled for each `peer_busy` in a row, up to the
/// cap. Until then nothing more is retried: a slow reader gets time to catch up.
pub const PEER_BUSY_RETRY_MS: u64 = 1_000;
pub const PEER_BUSY_RETRY_MAX_MS: u64 = 16_000;
/// First reconnect delay, and the cap; each failed try doubles it.
pub const RECONNECT_FIRST_MS: u64 = 250;
pub const RECONNECT_MAX_MS: u64 = 8_000;

/// How long to wait before reconnect attempt number `attempt` (0 for the first), given
/// `jitter` uniform in [0, 1): exponential backoff, capped, then spread over ±50% so that
/// everyone dropped by one server restart doesn't come back in the same millisecond.
pub fn reconnect_delay_ms(attempt: u32, jitter: f64) -> u64 {
    let base = RECONNECT_FIRST_MS
        .saturating_mul(1 << attempt.min(16))
        .min(RECONNECT_MAX_MS);
    (base as f64 * (0.5 + jitter.clamp(0.0, 1.0))) as u64
}

/// Where the call stands, as the status line says it.
#[derive(Clone, Debug, PartialEq)]
pub enum CallStatus {
    Starting,
    Joining,
    /// Nobody else is here; `left` names who just went.
    Waiting {
        left: Option<String>,
    },
    /// Others are here. Each list is in the order people arrived.
    InCall {
        left: Option<String>,
        connected: Vec<String>,
        connecting: Vec<String>,
        interrupted: Vec<String>,
        /// Who could not be connected, and why.
        failed: Vec<(String, String)>,
    },
    /// The server could not seat us for now (its shared state is out of reach); a new
    /// try is on its way.
    Busy,
    /// Another tab or device took our seat; the person may take it back.
    OpenElsewhere,
    /// The host (named, unless they had already left) removed us from the call.
    Removed(Option<String>),
    /// The room is locked: we wait for its host (named) to let us in.
    Knocking(String),
    /// We were not let in: the host said no (`KnockDenied`; `host` names whom we waited
    /// for), nobody answered in time (`KnockExpired`), or the waiting list is full
    /// (`RoomLocked`).
    NotLetIn {
        why: ErrorCode,
        host: Option<String>,
    },
    RoomFull,
    /// The server refused the name or room (`InvalidName`, `BadName`, `InvalidRoom`).
    Failed(ErrorCode),
    Ended,
}

impl CallStatus {
    /// The call is over from this side: no session runs any more.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            CallStatus::RoomFull
                | CallStatus::Ended
                | CallStatus::Removed(_)
                | CallStatus::NotLetIn { .. }
        )
    }
}

/// How often at most the page says a peer sent something unusable (per kind of notice).
pub const NOTICE_EVERY_MS: u64 = 10_000;
/// ICE candidates taken from one person per description (an offer or answer starts the
/// count again, so an ICE restart brings fresh ones). Browsers send a handful.
pub const MAX_REMOTE_CANDIDATES: usize = 64;

/// One line of chat.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatLine {
    /// Counts up within a call: keys the line on screen.
    pub id: u64,
    pub from: String,
    pub text: String,
    pub mine: bool,
}

/// What a person sends: shown by the others as "muted" or a placeholder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaState {
    pub audio: bool,
    pub video: bool,
    pub screen: bool,
}

impl Default for MediaState {
    fn default() -> Self {
        MediaState {
            audio: true,
            video: true,
            screen: false,
        }
    }
}

/// How far one pair's connection got (`RTCPeerConnection.connectionState`, simplified).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Link {
    /// Seated, but their offer has not come yet: no connection is open.
    Awaiting,
    Connecting,
    Connected,
    /// Disconnected or failed: ICE is being restarted.
    Interrupted,
    /// The connection could not be set up (the browser's reason).
    Failed(String),
}

/// `RTCPeerConnection.connectionState`, as the browser layer reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionState {
    Connecting,
    Connected,
    Disconnected,
    Failed,
}

/// `RTCPeerConnection.iceConnectionState`, as far as restarts care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IceState {
    Other,
    Disconnected,
    Failed,
}

/// News about one pair's connection.
#[derive(Clone, Debug, PartialEq)]
pub enum PeerInput {
    State(ConnectionState),
    Ice(IceState),
    ChatOpen,
    ChatClosed,
    /// A text frame from their chat channel, still encoded.
    Message(String),
    /// A frame refused before decoding (binary, or too large to read).
    Unreadable(PeerMessageError),
    /// A description or candidate our browser made for them.
    LocalSignal(Signal),
    /// Our browser refused a description or candidate (its reason).
    NegotiationFailed(String),
    /// The verification code of the connection as it is now (see [`verify`]): read when
    /// it connects, and when the person asks for it.
    Code(String),
    /// They opened a channel to send us a file.
    FileOffered,
}

/// What the person asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    SendChat(String),
    HangUp,
    /// The call screen went away: end without showing anything.
    Leave,
    /// Take the call back from the tab or device that took it.
    TakeBack,
    /// The person compared the code with this person by voice, and it matched.
    MarkVerified(PeerId),
    /// As the host: hand the role on, remove or ask someone to mute, lock the room,
    /// answer a knock.
    Host(HostCommand),
    /// Mute or unmute (the microphone's switch).
    ToggleMicrophone,
    /// Turn the camera off or on (its switch).
    ToggleCamera,
    /// Raise this person's hand, or lower it.
    ToggleHand,
    /// As the host: ask this person to lower their hand.
    LowerHand(PeerId),
    /// Float a reaction over this person's tile, at every page.
    React(Reaction),
    /// This person started (or stopped) recording the call: everyone is told.
    Recording(bool),
    /// Send a file (the browser holds it) to `to`, or to everyone connected.
    SendFile {
        to: Option<PeerId>,
    },
}

/// Everything the session reacts to.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// The camera and microphone are settled (or refused): the call may show itself.
    MediaReady,
    /// From the signaling socket of that generation.
    Server(u32, ServerMessage),
    SocketClosed(u32),
    /// The moment [`Session::poll_timeout`] named has come: every timer due fires.
    Timeout,
    Peer(PeerId, PeerInput),
    Command(Command),
    /// The tracks we have changed: `audio`, a microphone; `video`, a camera; `screen`, a
    /// shared screen in the camera's place. What we send follows with the switches.
    LocalTracks(MediaState),
    /// The browser's estimate of its upload, in bits per second.
    UploadEstimate(Option<u64>),
    /// What the browser says of each connection's link this stats tick: whether the link
    /// is the limit decides whether that estimate may lower the budget (`budget.rs`).
    LinkSamples(Vec<budget::LinkSample>),
    /// This side is done with a transfer: sent, received, failed or cancelled.
    TransferEnded(u32),
    /// A newly picked microphone or camera is open, in place of the old one.
    NewTrack(TrackKind),
    /// The browser reports a change of network (`online`, or `navigator.connection`'s
    /// `change`): the paths in use may be gone, so every connection looks for new ones
    /// now rather than after its ICE fails.
    NetworkChanged,
}

/// What the browser layer must do, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Open a new signaling socket; its news carries `generation`.
    OpenSocket {
        generation: u32,
    },
    /// Take over the socket the page's script opened and sent our `join` on
    /// (`early_media`), with what the server said on it so far; its news carries
    /// `generation`.
    AdoptSocket {
        generation: u32,
    },
    CloseSocket,
    Send(ClientMessage),
    /// Open a peer connection to `peer`, sending our tracks (with `screen`, the shared
    /// screen in the camera's place: a newcomer sees what the others see). The impolite
    /// side (the one seated first) also opens the chat channel, and so makes the first
    /// offer.
    OpenPeer {
        peer: PeerId,
        polite: bool,
        screen: bool,
    },
    ClosePeer {
        peer: PeerId,
    },
    /// Apply their description or candidate; an answer comes back as a local signal.
    ApplySignal {
        peer: PeerId,
        signal: Signal,
    },
    RestartIce {
        peer: PeerId,
    },
    SendToPeer {
        peer: PeerId,
        message: PeerMessage,
    },
    /// Limit every video sender (audio is never limited).
    LimitSenders(SenderLimits),
    /// Enable or disable the local microphone and camera tracks as the switches say (a
    /// disabled track sends silence or black, with no renegotiation).
    EnableTracks(Switches),
    /// Send the file just asked for to `peer`, as transfer `transfer`.
    SendFile {
        peer: PeerId,
        transfer: u32,
    },
    /// Take the file `peer` just offered, as transfer `transfer`.
    ReceiveFile {
        peer: PeerId,
        transfer: u32,
    },
    /// Refuse the file `peer` just offered (close its channel unread).
    RefuseFile {
        peer: PeerId,
    },
    /// Send the local track of this kind to everyone, in place of what goes now.
    PutOnWire(TrackKind),
    ShowChat(ChatLine),
    /// Tell the person something about the call (e.g. a peer misbehaving).
    Notice(Notice),
    /// The host (named) asks this person to mute: the page offers a Mute button.
    MuteRequest(String),
    /// Someone (named) knocks at the locked room's door: to the host, with a sound.
    Knocked(String),
    /// Note something for whoever reads the console (once per kind).
    Warn(String),
    /// Keep this resume token where a reload of the page finds it (`None`: forget it).
    KeepToken(Option<String>),
    /// The call is over: tear everything down.
    Stop,
}

/// One other person in the room, as the call screen shows them.
#[derive(Clone, Debug, PartialEq)]
pub struct Person {
    pub id: PeerId,
    pub name: String,
    pub link: Link,
    /// What they say they send.
    pub media: MediaState,
    /// Their chat channel is open.
    pub chat_open: bool,
    /// The person marked them verified, and the connection's code has not changed since.
    pub verified: bool,
    /// They say they are recording the call.
    pub recording: bool,
}

struct Remote {
    person: Person,
    /// We yield to their offer when both offer at once.
    polite: bool,
    /// A peer connection to them is open.
    open: bool,
    /// The last reported ICE state, to decide at the end of a grace period.
    ice: IceState,
    chat_gate: RateGate,
    reaction_gate: RateGate,
    /// Their hand, while it is up.
    hand: Option<UpHand>,
    hand_gate: RateGate,
    /// The last hand they told (up, or `None`: down) while changes were held back, read
    /// when it arrived; shown when the [`Timer::HandSettled`] fires.
    hand_pending: Option<Option<UpHand>>,
    /// When we last said they sent an over-long line.
    too_long_noticed: Option<Millis>,
    /// ICE candidates taken from them since their last description.
    candidates: usize,
    /// `peer_busy` answers for them since the connection last connected, and whether a
    /// renegotiation is already waiting for its pause to end.
    busy: u32,
    busy_pending: bool,
    /// The connection's verification code as last read, and the one the person marked
    /// verified.
    code: Option<String>,
    verified_code: Option<String>,
}

/// What the server told us on joining, for opening connections.
#[derive(Clone, Debug, PartialEq)]
pub struct RoomTerms {
    pub ice_servers: Vec<IceServer>,
    pub ice_policy: IceTransportPolicy,
    pub max_file_bytes: u64,
}

pub struct Session {
    user: String,
    room: String,
    /// Counts sockets opened, to ignore news from earlier ones.
    generation: u32,
    socket_open: bool,
    /// The server went away and has not taken us back yet (a socket may be open, but
    /// until `joined` or `resumed` nobody knows it answers).
    server_lost: bool,
    /// The server said `unavailable`: we try again, through a new socket (a balancer
    /// may send it to another server).
    busy: bool,
    /// The name the server seated us under, when it is not the one asked for.
    seated_as: Option<String>,
    /// Our id in the room, once seated.
    you: Option<PeerId>,
    /// Who hosts the room, as the server last said.
    host: Option<PeerId>,
    /// Whether the room is locked.
    locked: bool,
    /// As the host: who waits at the locked room's door, in the order they came.
    knocks: Vec<(KnockId, String)>,
    /// We wait at the locked room's door, for its host (named).
    waiting_for: Option<String>,
    /// Resumes our seat after a dropped socket.
    token: Option<String>,
    /// This page has no connections to the others for the seat `token` resumes (it was
    /// reloaded, or it takes the call back): the server seats it under a new id.
    fresh: bool,
    /// Another tab or device holds our seat now; nothing reconnects until `TakeBack`.
    elsewhere: bool,
    /// Failed connection attempts in a row, for the backoff.
    reconnects: u32,
    /// When the server last said anything.
    last_heard: Millis,
    media_ready: bool,
    /// Everyone else in the room, in the order they arrived.
    remotes: Vec<Remote>,
    /// Who left last, until someone arrives.
    left: Option<String>,
    /// A status that ends or stops the call, overriding the summary.
    outcome: Option<CallStatus>,
    terms: RoomTerms,
    /// What the browser can send, and what the person lets it.
    tracks: MediaState,
    switches: Switches,
    transfers: Transfers,
    /// A person was told, in the console, that files past the limit are refused.
    refused_files_noted: bool,
    upload: UploadPlan,
    /// A small PRNG for the reconnect jitter (xorshift; its quality does not matter).
    jitter: u64,
    /// Messages dropped from peers, by kind (`PeerMessageError::ALL` order).
    dropped: [u64; PeerMessageError::ALL.len()],
    /// When we last said a peer's browser sent something unusable.
    unusable_noticed: Option<Millis>,
    /// Candidates dropped past [`MAX_REMOTE_CANDIDATES`].
    dropped_candidates: u64,
    chat_lines: u64,
    /// This person's hand, while it is up.
    hand: Option<UpHand>,
    /// This person records the call.
    recording: bool,
    /// This person's own reactions, held to the rate the others take.
    reaction_gate: RateGate,
    reactions: Reactions,
    /// When the network last changed enough to restart every connection's ICE.
    network_changed: Option<Millis>,
    /// The timers running, each for a reason that still holds.
    timers: Timers,
    /// Pending effects of the input being handled.
    effects: Vec<Effect>,
}

/// How long a hand that changes too fast waits before where it ended up is shown.
pub const HAND_SETTLE_MS: u64 = 500;

/// Shows someone's hand as they said it is (`None`: down).
fn set_hand(remote: &mut Remote, told: Option<UpHand>) {
    remote.hand = match (told, remote.hand) {
        (None, _) => None,
        // Told again (a new channel): it stays where it was in the order.
        (Some(_), Some(shown)) => Some(shown),
        (Some(told), None) => Some(told),
    };
}

/// After a network change restarts every connection's ICE, further reports within this
/// long are the same change.
pub const NETWORK_SETTLE_MS: u64 = 2_000;

impl Session {
    /// A session for `user` in `room`; `seed` spreads reconnect times (any value works).
    pub fn new(user: String, room: String, seed: u64) -> Session {
        Session {
            user,
            room,
            generation: 0,
            socket_open: false,
            server_lost: false,
            busy: false,
            seated_as: None,
            you: None,
            host: None,
            locked: false,
            knocks: Vec::new(),
            waiting_for: None,
            token: None,
            fresh: false,
            elsewhere: false,
            reconnects: 0,
            last_heard: Millis::ZERO,
            media_ready: false,
            remotes: Vec::new(),
            left: None,
            outcome: None,
            terms: RoomTerms {
                ice_servers: Vec::new(),
                ice_policy: IceTransportPolicy::All,
                max_file_bytes: crate::protocol::file::DEFAULT_MAX_FILE_BYTES,
            },
            tracks: MediaState::default(),
            switches: Switches::default(),
            transfers: Transfers::default(),
            refused_files_noted: false,
            upload: UploadPlan::new(DEFAULT_UPLOAD_BUDGET),
            jitter: seed | 1,
            dropped: [0; PeerMessageError::ALL.len()],
            unusable_noticed: None,
            dropped_candidates: 0,
            chat_lines: 0,
            hand: None,
            recording: false,
            reaction_gate: RateGate::reactions(),
            reactions: Reactions::default(),
            network_changed: None,
            timers: Timers::default(),
            effects: Vec::new(),
        }
    }

    /// The name the server seated us under, when it is not the one asked for.
    pub fn seated_as(&self) -> Option<&str> {
        self.seated_as.as_deref()
    }

    /// Who hosts the room (maybe us), once seated.
    pub fn host(&self) -> Option<PeerId> {
        self.host
    }

    /// Whether we host the room: the host's commands are ours to give.
    pub fn is_host(&self) -> bool {
        self.you.is_some() && self.host == self.you
    }

    /// Whether the room is locked (newcomers wait for the host).
    pub fn locked(&self) -> bool {
        self.locked
    }

    /// As the host: who waits at the door, in the order they came.
    pub fn knocks(&self) -> &[(KnockId, String)] {
        &self.knocks
    }

    /// The name this person goes by here: the one seated under, else the one asked for.
    fn own_name(&self) -> String {
        self.seated_as.clone().unwrap_or_else(|| self.user.clone())
    }

    /// Raised hands, in the order they went up (this person's own among them).
    pub fn hands(&self) -> Vec<RaisedHand> {
        let mine = self.hand.map(|hand| {
            let name = self.own_name();
            (hand, RaisedHand { who: None, name })
        });
        let theirs = self.remotes.iter().filter_map(|r| {
            r.hand.map(|hand| {
                let who = Some(r.person.id);
                (
                    hand,
                    RaisedHand {
                        who,
                        name: r.person.name.clone(),
                    },
                )
            })
        });
        meeting::in_order(mine.into_iter().chain(theirs).collect())
    }

    /// Who records the call, in the order they arrived (`None`: this person).
    pub fn recording(&self) -> Vec<Option<PeerId>> {
        let mine = self.recording.then_some(None);
        let theirs = self
            .remotes
            .iter()
            .filter(|r| r.person.recording)
            .map(|r| Some(r.person.id));
        mine.into_iter().chain(theirs).collect()
    }

    /// The reactions on screen now, oldest first.
    pub fn reactions(&self) -> impl Iterator<Item = &ShownReaction> {
        self.reactions.shown()
    }

    /// The person's switches as they were before the call (the join card): call before
    /// [`Session::start`].
    pub fn with_switches(&mut self, switches: Switches) {
        self.switches = switches;
    }

    /// The microphone's and the camera's switches.
    pub fn switches(&self) -> Switches {
        self.switches
    }

    /// A page that finds the token of a seat it held before (it was reloaded): it asks for
    /// that seat back instead of a new one. Call before [`Session::start`].
    pub fn resume_with(&mut self, token: String) {
        self.token = Some(token);
        self.fresh = true;
    }

    /// Opens the socket and asks for a seat; the heartbeat starts.
    pub fn start(&mut self, now: Millis) -> Vec<Effect> {
        self.connect(now);
        self.timers.set(Timer::Heartbeat, now + HEARTBEAT_MS);
        std::mem::take(&mut self.effects)
    }

    /// Like [`Session::start`], where the page's script has opened the socket and sent
    /// `join` already (`early_media`): the socket is adopted, not opened, and `join` is
    /// not sent twice. A page asking for a seat back (a token) opens its own socket, as
    /// the script leaves such a page alone.
    pub fn start_on_early_socket(&mut self, now: Millis) -> Vec<Effect> {
        if self.token.is_some() {
            return self.start(now);
        }
        let generation = self.next_socket(now);
        self.effects.push(Effect::AdoptSocket { generation });
        // The app's first word on it: from now on the server holds the seat for a resume
        // if the socket drops (protocol::signaling::EARLY_QUERY).
        self.effects.push(Effect::Send(ClientMessage::Ping));
        self.timers.set(Timer::Heartbeat, now + HEARTBEAT_MS);
        std::mem::take(&mut self.effects)
    }

    /// When the session next needs [`Input::Timeout`]: the earliest timer's deadline
    /// (`None`: no timer runs, as when the call is over).
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.timers.next()
    }

    /// The timers running, with their deadlines.
    pub fn timers(&self) -> impl Iterator<Item = (Timer, Millis)> + '_ {
        self.timers.iter()
    }

    /// Whether the reason `timer` was started for still holds (for tests and the fuzz
    /// target: every running timer must have one).
    pub fn timer_has_reason(&self, timer: Timer) -> bool {
        let remote = |id: PeerId| self.remotes.iter().find(|r| r.person.id == id);
        !self.is_over()
            && match timer {
                Timer::Reconnect => !self.socket_open,
                Timer::Heartbeat => true,
                Timer::IceGrace(id) => {
                    remote(id).is_some_and(|r| r.open && r.ice == IceState::Disconnected)
                }
                Timer::PeerBusy(id) => remote(id).is_some_and(|r| r.busy_pending),
                Timer::Reactions => self.reactions.next_expiry().is_some(),
                Timer::HandSettled(id) => remote(id).is_some_and(|r| r.hand_pending.is_some()),
            }
    }

    /// Handles one input to completion; `now` is when it happened.
    pub fn handle(&mut self, input: Input, now: Millis) -> Vec<Effect> {
        if self.is_over() {
            return Vec::new();
        }
        match input {
            Input::MediaReady => {
                self.media_ready = true;
                // Off from the start, if switched off before the call.
                self.effects.push(Effect::EnableTracks(self.switches));
            }
            Input::Server(generation, message) if generation == self.generation => {
                self.last_heard = self.last_heard.max(now);
                self.on_server(message, now);
            }
            Input::SocketClosed(generation) if generation == self.generation => {
                if self.socket_open {
                    self.lost_server(now);
                }
            }
            // From a socket already replaced or given up.
            Input::Server(..) | Input::SocketClosed(_) => {}
            Input::Timeout => {
                // Earliest first; one cancelled by another that fired before it is gone.
                while let Some(timer) = self.timers.pop_due(now) {
                    self.on_timer(timer, now);
                }
            }
            Input::Peer(id, event) => self.on_peer(id, event, now),
            Input::Command(command) => self.on_command(command, now),
            Input::LocalTracks(tracks) => {
                self.tracks = tracks;
                self.announce();
            }
            Input::UploadEstimate(estimate) => {
                self.upload.set_estimate(estimate);
                self.plan_upload(now);
            }
            Input::LinkSamples(samples) => {
                self.upload.observe(&samples, now);
                self.plan_upload(now);
            }
            Input::TransferEnded(id) => self.transfers.ended(id),
            Input::NewTrack(kind) => {
                // A shared screen stays on the wire until sharing stops.
                if kind == TrackKind::Audio || !self.tracks.screen {
                    self.effects.push(Effect::PutOnWire(kind));
                }
                self.effects.push(Effect::EnableTracks(self.switches));
            }
            Input::NetworkChanged => self.on_network_changed(now),
        }
        std::mem::take(&mut self.effects)
    }

    /// Every open connection restarts ICE at once, and the server hears from us (a dead
    /// socket is then noticed at the next heartbeat, not the one after). A browser often
    /// reports one change twice (`online`, then the connection's `change`): within
    /// [`NETWORK_SETTLE_MS`] of a restart, another is not needed.
    fn on_network_changed(&mut self, now: Millis) {
        if self
            .network_changed
            .is_some_and(|then| now.since(then) < NETWORK_SETTLE_MS)
        {
            return;
        }
        self.network_changed = Some(now);
        // What the person sees is left alone: the old path stays in use until a new one
        // is found, so a connection that survives the change never looks interrupted.
        for remote in self.remotes.iter().filter(|r| r.open) {
            self.effects.push(Effect::RestartIce {
                peer: remote.person.id,
            });
        }
        if self.socket_open {
            self.effects.push(Effect::Send(ClientMessage::Ping));
        }
    }

    /// The room we are in (or joining): the signaling socket's address names it.
    pub fn room(&self) -> &str {
        &self.room
    }

    /// Where the call stands.
    pub fn status(&self) -> CallStatus {
        if let Some(outcome) = &self.outcome {
            return outcome.clone();
        }
        if !self.media_ready {
            return CallStatus::Starting;
        }
        if let Some(host) = &self.waiting_for {
            return CallStatus::Knocking(host.clone());
        }
        if self.busy && self.remotes.is_empty() {
            return CallStatus::Busy;
        }
        if self.token.is_none() && self.remotes.is_empty() {
            return CallStatus::Joining;
        }
        if self.remotes.is_empty() {
            return CallStatus::Waiting {
                left: self.left.clone(),
            };
        }
        let names = |wanted: fn(&Link) -> bool| -> Vec<String> {
            self.remotes
                .iter()
                .filter(|r| wanted(&r.person.link))
                .map(|r| r.person.name.clone())
                .collect()
        };
        CallStatus::InCall {
            left: self.left.clone(),
            connected: names(|l| *l == Link::Connected),
            connecting: names(|l| matches!(l, Link::Awaiting | Link::Connecting)),
            interrupted: names(|l| *l == Link::Interrupted),
            failed: self
                .remotes
                .iter()
                .filter_map(|r| match &r.person.link {
                    Link::Failed(why) => Some((r.person.name.clone(), why.clone())),
                    _ => None,
                })
                .collect(),
        }
    }

    /// Everyone else in the room, in the order they arrived.
    pub fn people(&self) -> impl Iterator<Item = &Person> {
        self.remotes.iter().map(|r| &r.person)
    }

    /// The connection to the server is down (the call itself may go on without it).
    pub fn server_lost(&self) -> bool {
        self.server_lost && !self.is_over()
    }

    pub fn terms(&self) -> &RoomTerms {
        &self.terms
    }

    /// How many messages from peers were dropped, of each kind.
    pub fn dropped(&self) -> impl Iterator<Item = (PeerMessageError, u64)> + '_ {
        PeerMessageError::ALL
            .into_iter()
            .zip(self.dropped.iter().copied())
    }

    /// The upload shared among the people we send video to, in bits per second.
    pub fn upload_budget(&self) -> u64 {
        self.upload.budget()
    }

    /// The server's `upload_budget`: the floor while nothing says the link is the limit.
    pub fn default_upload_budget(&self) -> u64 {
        self.upload.default_budget()
    }

    /// Whether the link was lately seen to be the limit (and the budget may go below the
    /// server's default).
    pub fn upload_link_limited(&self) -> bool {
        self.upload.link_limited()
    }

    /// The people whose chat channel is open.
    fn chat_ready(&self) -> impl Iterator<Item = PeerId> + '_ {
        self.remotes
            .iter()
            .filter(|r| r.person.chat_open)
            .map(|r| r.person.id)
    }

    fn is_over(&self) -> bool {
        self.outcome.as_ref().is_some_and(CallStatus::is_final)
    }

    fn remote(&mut self, id: PeerId) -> Option<&mut Remote> {
        self.remotes.iter_mut().find(|r| r.person.id == id)
    }

    fn on_server(&mut self, message: ServerMessage, now: Millis) {
        match message {
            ServerMessage::Joined {
                you,
                name,
                peers,
                token,
                ice_servers,
                ice_transport_policy,
                max_file_bytes,
                upload_budget,
                host,
                locked,
                ..
            } => {
                self.back_online();
                self.fresh = false;
                self.keep_token(token);
                self.you = Some(you);
                self.host = host;
                self.locked = locked;
                self.waiting_for = None;
                if !name.is_empty() && name != self.user {
                    self.effects.push(Effect::Notice(Notice::SeatedAs {
                        asked: self.user.clone(),
                        given: name.clone(),
                    }));
                    self.seated_as = Some(name);
                }
                self.take_terms(
                    ice_servers,
                    ice_transport_policy,
                    max_file_bytes,
                    upload_budget,
                );
                // Whoever was there first makes the offer; we wait for each of them.
                for peer in peers {
                    self.seat(peer, true);
                }
            }
            ServerMessage::Resumed {
                you,
                peers,
                token,
                ice_servers,
                ice_transport_policy,
                max_file_bytes,
                upload_budget,
                host,
                locked,
            } => {
                self.fresh = false;
                self.you = Some(you);
                self.locked = locked;
                // A seat of ours after all: not at a door any more.
                self.waiting_for = None;
                if host.is_some() {
                    self.host = host;
                }
                if !token.is_empty() {
                    self.keep_token(token);
                }
                // Same seat, same pairs: the call goes on as it was. Whoever left meanwhile
                // is announced by a `peer_left` that follows; whoever is missing from
                // `peers` may only not be back yet (after a server restart everyone
                // resumes in turn), so nobody is dropped here.
                self.back_online();
                self.take_terms(
                    ice_servers,
                    ice_transport_policy,
                    max_file_bytes,
                    upload_budget,
                );
                for peer in peers {
                    // Someone we never heard of arrived while we were away (their
                    // `peer_joined` was lost with the server that held our seat): they
                    // were told of us, and wait for our offer.
                    if self.remote(peer.id).is_none() {
                        let id = peer.id;
                        self.seat(peer, false);
                        self.open(id);
                    } else {
                        self.seat(peer, true);
                    }
                }
                self.plan_upload(now);
            }
            // At a locked room's door we have no seat: nobody is connected to until we are
            // let in (`joined`), whatever comes. (Found by the `session` fuzz target.)
            ServerMessage::PeerJoined { .. } | ServerMessage::Signal { .. }
                if self.waiting_for.is_some() => {}
            ServerMessage::PeerJoined { peer, polite } => {
                // Already opened to: the same arrival, told again after a resume listed it.
                if self.remote(peer.id).is_some_and(|r| r.open) {
                    return;
                }
                // A fresh id, but whatever we held for it must never outlive a new arrival.
                self.remove(peer.id);
                let id = peer.id;
                self.seat(peer, polite);
                self.open(id);
            }
            ServerMessage::Signal { from, signal } => {
                let Some(remote) = self.remote(from) else {
                    return;
                };
                // A browser offers a handful of candidates per description; past the cap
                // they are a flood, and each costs ICE checks and statistics for good.
                match signal {
                    Signal::Candidate { .. } if remote.candidates >= MAX_REMOTE_CANDIDATES => {
                        return self.drop_signal();
                    }
                    Signal::Candidate { .. } => remote.candidates += 1,
                    Signal::Offer { .. } | Signal::Answer { .. } => remote.candidates = 0,
                }
                if !remote.open {
                    // Their first offer: now we connect.
                    self.open(from);
                }
                self.effects
                    .push(Effect::ApplySignal { peer: from, signal });
            }
            ServerMessage::PeerLeft { peer } => {
                if let Some(name) = self.remove(peer) {
                    self.left = Some(name);
                    self.plan_upload(now);
                }
            }
            ServerMessage::Pong => {}
            ServerMessage::Host { peer } => {
                if self.host == Some(peer) {
                    return;
                }
                self.host = Some(peer);
                let notice = if Some(peer) == self.you {
                    Notice::YouAreHost
                } else {
                    match self.remote(peer) {
                        Some(remote) => Notice::NewHost(remote.person.name.clone()),
                        None => return,
                    }
                };
                self.effects.push(Effect::Notice(notice));
            }
            ServerMessage::Removed { by } => {
                let by = self.name_of(by);
                // The server closes the socket next: nothing reconnects, nothing is kept.
                self.token = None;
                self.finish(CallStatus::Removed(by));
            }
            ServerMessage::MuteRequest { by } => {
                // From a host who has left since, the request is moot.
                if let Some(by) = self.name_of(by) {
                    self.effects.push(Effect::MuteRequest(by));
                }
            }
            ServerMessage::Locked { locked } => self.locked = locked,
            ServerMessage::Waiting { host_name } => {
                self.back_online();
                self.waiting_for = Some(host_name);
            }
            ServerMessage::Knock { knock, name } => {
                if !self.knocks.iter().any(|(id, _)| *id == knock) {
                    self.knocks.push((knock, name.clone()));
                    self.effects.push(Effect::Knocked(name));
                }
            }
            ServerMessage::KnockEnded { knock } => self.knocks.retain(|(id, _)| *id != knock),
            ServerMessage::Token { token } => self.keep_token(token),
            ServerMessage::SeatTaken { token } => {
                // Another page holds the seat now: stop sending to anyone, and wait for the
                // person to take the call back (with this token) or close the page.
                for remote in std::mem::take(&mut self.remotes) {
                    self.drop_remote(remote);
                }
                self.token = Some(token);
                self.effects.push(Effect::KeepToken(None));
                self.elsewhere = true;
                self.outcome = Some(CallStatus::OpenElsewhere);
                self.socket_open = false;
                self.effects.push(Effect::CloseSocket);
            }
            // The server's `message` is for developers; the page words the code itself.
            ServerMessage::Error { code, peer, .. } => self.on_error(code, peer, now),
        }
    }

    fn on_error(&mut self, code: ErrorCode, peer: Option<PeerId>, now: Millis) {
        match code {
            ErrorCode::PeerBusy => {
                let Some(remote) = peer.and_then(|id| self.remote(id)) else {
                    return;
                };
                if !remote.busy_pending {
                    remote.busy_pending = true;
                    let after_ms = PEER_BUSY_RETRY_MS
                        .saturating_mul(1 << remote.busy.min(8))
                        .min(PEER_BUSY_RETRY_MAX_MS);
                    remote.busy += 1;
                    let timer = Timer::PeerBusy(remote.person.id);
                    self.timers.set(timer, now + after_ms);
                }
            }
            // As the host, letting someone into a full room: they wait on.
            ErrorCode::RoomFull if self.is_host() && !self.server_lost => {
                self.effects.push(Effect::Notice(Notice::RoomFullNoAdmit))
            }
            ErrorCode::KnockDenied | ErrorCode::KnockExpired | ErrorCode::RoomLocked => {
                let host = self.waiting_for.take();
                self.finish(CallStatus::NotLetIn { why: code, host });
            }
            ErrorCode::RoomFull => self.finish(CallStatus::RoomFull),
            ErrorCode::NotHost => self.effects.push(Effect::Notice(Notice::OnlyTheHost)),
            ErrorCode::InvalidRoom | ErrorCode::InvalidName | ErrorCode::BadName => {
                self.outcome = Some(CallStatus::Failed(code));
                self.effects.push(Effect::Stop);
            }
            ErrorCode::InvalidToken | ErrorCode::ResumeExpired => {
                // The seat is gone (the server forgot it, or held it too long): the others
                // were told we left. Start over with a fresh join.
                self.token = None;
                self.fresh = false;
                self.effects.push(Effect::KeepToken(None));
                let ids: Vec<PeerId> = self.remotes.iter().map(|r| r.person.id).collect();
                for id in ids {
                    self.remove(id);
                }
                self.send_join();
            }
            // Seated, a signal that needed another server was lost: an ICE restart
            // covers it. Joining or resuming, we ask again later, through a new socket
            // (a balancer may send it to another server).
            ErrorCode::Unavailable if self.token.is_none() || self.server_lost => {
                self.busy = true;
                if self.socket_open {
                    self.effects.push(Effect::CloseSocket);
                    self.lost_server(now);
                }
            }
            // Our signal went to someone no longer in the room; their `peer_left` follows.
            _ => {}
        }
    }

    /// A timer whose reason still holds fires (one whose reason went away was cancelled
    /// then, and never gets here).
    fn on_timer(&mut self, timer: Timer, now: Millis) {
        match timer {
            Timer::Reconnect => self.connect(now),
            Timer::Heartbeat => {
                self.timers.set(Timer::Heartbeat, now + HEARTBEAT_MS);
                if !self.socket_open {
                    return;
                }
                if now.since(self.last_heard) > SERVER_SILENCE_MS {
                    // The server went silent: give up on this socket and reconnect.
                    self.effects.push(Effect::CloseSocket);
                    self.lost_server(now);
                } else {
                    self.effects.push(Effect::Send(ClientMessage::Ping));
                }
            }
            Timer::PeerBusy(id) => {
                if let Some(remote) = self.remote(id) {
                    remote.busy_pending = false;
                    // Their connection closed meanwhile: nothing to renegotiate.
                    if remote.open {
                        self.effects.push(Effect::RestartIce { peer: id });
                    }
                }
            }
            Timer::HandSettled(id) => {
                if let Some(remote) = self.remote(id) {
                    if let Some(told) = remote.hand_pending.take() {
                        set_hand(remote, told);
                    }
                }
            }
            Timer::Reactions => {
                self.reactions.expire(now);
                self.time_reactions();
            }
            Timer::IceGrace(id) => {
                if let Some(remote) = self.remote(id) {
                    remote.person.link = Link::Interrupted;
                    self.effects.push(Effect::RestartIce { peer: id });
                }
            }
        }
    }

    /// The reactions' timer follows what is on screen: set for the next to go, stopped
    /// when none is left.
    fn time_reactions(&mut self) {
        match self.reactions.next_expiry() {
            Some(at) => self.timers.set(Timer::Reactions, at),
            None => self.timers.cancel(Timer::Reactions),
        }
    }

    fn on_peer(&mut self, id: PeerId, event: PeerInput, now: Millis) {
        // News from a connection already closed is ignored.
        let noticed = self.unusable_noticed;
        let host = self.host;
        let Some(remote) = self.remote(id).filter(|r| r.open) else {
            return;
        };
        match event {
            PeerInput::State(state) => {
                let was = remote.person.link.clone();
                remote.person.link = match (state, &was) {
                    (ConnectionState::Connected, _) => Link::Connected,
                    (ConnectionState::Disconnected | ConnectionState::Failed, _) => {
                        Link::Interrupted
                    }
                    // Restarting: still "reconnecting…" until it connects again.
                    (ConnectionState::Connecting, Link::Interrupted) => Link::Interrupted,
                    (ConnectionState::Connecting, _) => Link::Connecting,
                };
                if remote.person.link == Link::Connected {
                    remote.busy = 0;
                }
                if (was == Link::Connected) != (remote.person.link == Link::Connected) {
                    self.plan_upload(now);
                }
            }
            PeerInput::Ice(state) => {
                remote.ice = state;
                let grace = Timer::IceGrace(id);
                match state {
                    IceState::Failed => {
                        remote.person.link = Link::Interrupted;
                        self.timers.cancel(grace);
                        self.effects.push(Effect::RestartIce { peer: id });
                    }
                    // Often a blip that heals by itself; restart only if it lasts, counted
                    // from when it began (told again, it keeps its deadline).
                    IceState::Disconnected if !self.timers.is_set(grace) => {
                        self.timers.set(grace, now + ICE_GRACE_MS)
                    }
                    IceState::Disconnected => {}
                    // Healed: this outage's grace is over; a new one gets a grace of its own.
                    IceState::Other => self.timers.cancel(grace),
                }
            }
            PeerInput::ChatOpen => {
                remote.person.chat_open = true;
                // What we send, whether our hand is up and whether we record: a newcomer
                // learns it all here.
                self.announce_to(id);
                self.effects.push(Effect::SendToPeer {
                    peer: id,
                    message: self.hand_message(now),
                });
                self.effects.push(Effect::SendToPeer {
                    peer: id,
                    message: PeerMessage::Recording { on: self.recording },
                });
            }
            PeerInput::ChatClosed => remote.person.chat_open = false,
            PeerInput::Message(text) => match PeerMessage::decode(&text) {
                Ok(PeerMessage::Chat { text }) => match remote.chat_gate.admit(now) {
                    Admit::Show => {
                        let from = remote.person.name.clone();
                        self.show_chat(from, text, false);
                    }
                    Admit::Drop { notify } => {
                        if notify {
                            let notice = Notice::ChatTooFast(remote.person.name.clone());
                            self.effects.push(Effect::Notice(notice));
                        }
                    }
                },
                // Hints only: the screen shows the latest.
                Ok(PeerMessage::Media {
                    audio,
                    video,
                    screen,
                }) => {
                    remote.person.media = MediaState {
                        audio,
                        video,
                        screen,
                    }
                }
                Ok(PeerMessage::Hand { up, for_ms, turn }) => {
                    let told = up.then(|| UpHand::told(now, for_ms, turn));
                    if remote.hand_pending.is_some() {
                        // Held back: only the latest counts, shown when the timer fires.
                        remote.hand_pending = Some(told);
                    } else if remote.hand_gate.admit(now) == Admit::Show {
                        set_hand(remote, told);
                    } else {
                        remote.hand_pending = Some(told);
                        self.timers
                            .set(Timer::HandSettled(id), now + HAND_SETTLE_MS);
                    }
                }
                Ok(PeerMessage::Recording { on }) => remote.person.recording = on,
                Ok(PeerMessage::React { reaction }) => {
                    if remote.reaction_gate.admit(now) == Admit::Show {
                        let name = remote.person.name.clone();
                        self.show_reaction(Some(id), name, reaction, now);
                    }
                }
                Ok(PeerMessage::LowerHand) if host == Some(id) => {
                    let host = remote.person.name.clone();
                    if self.hand.take().is_some() {
                        self.tell_hand(now);
                        self.effects.push(Effect::Notice(Notice::HandLowered(host)));
                    }
                }
                Ok(PeerMessage::LowerHand) => {
                    self.drop_message(id, PeerMessageError::NotFromHost, now)
                }
                Err(why) => self.drop_message(id, why, now),
            },
            PeerInput::Unreadable(why) => self.drop_message(id, why, now),
            PeerInput::LocalSignal(signal) => {
                self.effects
                    .push(Effect::Send(ClientMessage::Signal { to: id, signal }));
            }
            PeerInput::FileOffered => {
                if self.transfers.may_receive(id) {
                    let transfer = self.transfers.start(id, true);
                    self.effects
                        .push(Effect::ReceiveFile { peer: id, transfer });
                } else {
                    self.effects.push(Effect::RefuseFile { peer: id });
                    if !std::mem::replace(&mut self.refused_files_noted, true) {
                        self.effects.push(Effect::Warn(
                            "refused a file beyond the transfers one person may send at once"
                                .into(),
                        ));
                    }
                }
            }
            PeerInput::Code(code) => {
                let changed = remote
                    .verified_code
                    .as_ref()
                    .is_some_and(|verified| *verified != code);
                remote.code = Some(code);
                if changed {
                    remote.verified_code = None;
                    remote.person.verified = false;
                    let notice = Notice::CodeChanged(remote.person.name.clone());
                    self.effects.push(Effect::Notice(notice));
                }
            }
            PeerInput::NegotiationFailed(why) => {
                // Before the first connection nothing works without it; once connected,
                // a failed renegotiation leaves the pair as it was, and the person is
                // told (not too often: a peer can send garbage on purpose).
                if matches!(remote.person.link, Link::Awaiting | Link::Connecting) {
                    remote.person.link = Link::Failed(why);
                } else if noticed.is_none_or(|at| now.since(at) >= NOTICE_EVERY_MS) {
                    let notice = Notice::Unusable(remote.person.name.clone());
                    self.unusable_noticed = Some(now);
                    self.effects.push(Effect::Notice(notice));
                }
            }
        }
    }

    fn on_command(&mut self, command: Command, now: Millis) {
        match command {
            Command::SendChat(text) => {
                let ready: Vec<PeerId> = self.chat_ready().collect();
                if ready.is_empty() {
                    return;
                }
                for peer in ready {
                    self.effects.push(Effect::SendToPeer {
                        peer,
                        message: PeerMessage::Chat { text: text.clone() },
                    });
                }
                self.show_chat(self.user.clone(), text, true);
            }
            Command::HangUp => self.finish(CallStatus::Ended),
            Command::SendFile { to } => {
                // In the order people arrived, so the progress rows read like the tiles.
                let to: Vec<PeerId> = self
                    .remotes
                    .iter()
                    .filter(|r| r.person.link == Link::Connected)
                    .map(|r| r.person.id)
                    .filter(|id| to.is_none_or(|to| to == *id))
                    .collect();
                if to.is_empty() {
                    self.effects
                        .push(Effect::Notice(Notice::FilesNeedAConnection));
                }
                for peer in to {
                    let transfer = self.transfers.start(peer, false);
                    self.effects.push(Effect::SendFile { peer, transfer });
                }
            }
            Command::ToggleMicrophone | Command::ToggleCamera => {
                if matches!(command, Command::ToggleMicrophone) {
                    self.switches.microphone = !self.switches.microphone;
                } else {
                    self.switches.camera = !self.switches.camera;
                }
                self.effects.push(Effect::EnableTracks(self.switches));
                self.announce();
            }
            Command::ToggleHand => {
                self.hand = match self.hand {
                    Some(_) => None,
                    None => Some(UpHand {
                        turn: meeting::next_turn(self.remotes.iter().filter_map(|r| r.hand)),
                        since: now,
                    }),
                };
                self.tell_hand(now);
            }
            Command::LowerHand(peer) => {
                let up = self
                    .remote(peer)
                    .is_some_and(|r| r.hand.is_some() && r.person.chat_open);
                if self.is_host() && up {
                    self.effects.push(Effect::SendToPeer {
                        peer,
                        message: PeerMessage::LowerHand,
                    });
                }
            }
            Command::Recording(on) => {
                if std::mem::replace(&mut self.recording, on) != on {
                    for peer in self.chat_ready().collect::<Vec<_>>() {
                        self.effects.push(Effect::SendToPeer {
                            peer,
                            message: PeerMessage::Recording { on },
                        });
                    }
                }
            }
            Command::React(reaction) => {
                if self.reaction_gate.admit(now) == Admit::Show {
                    for peer in self.chat_ready().collect::<Vec<_>>() {
                        self.effects.push(Effect::SendToPeer {
                            peer,
                            message: PeerMessage::React { reaction },
                        });
                    }
                    self.show_reaction(None, self.own_name(), reaction, now);
                }
            }
            Command::TakeBack if self.elsewhere => {
                self.elsewhere = false;
                self.outcome = None;
                self.fresh = true;
                self.reconnects = 0;
                self.connect(now);
            }
            Command::TakeBack => {}
            Command::MarkVerified(id) => {
                if let Some(remote) = self.remote(id) {
                    if let Some(code) = remote.code.clone() {
                        remote.verified_code = Some(code);
                        remote.person.verified = true;
                    }
                }
            }
            Command::Host(command) => self.host_command(command),
            Command::Leave => {
                let status = self.status();
                self.finish(status);
            }
        }
    }

    /// Sends a host command, if we host the room, the server can hear us, and it is about
    /// someone present, a knock that waits, or a lock that changes (the buttons are the
    /// host's; anything else has nothing to do).
    fn host_command(&mut self, command: HostCommand) {
        if !(self.is_host() && self.socket_open) {
            return;
        }
        let applies = match command {
            HostCommand::MakeHost(peer)
            | HostCommand::Remove(peer)
            | HostCommand::AskToMute(peer) => self.remote(peer).is_some(),
            HostCommand::Lock(lock) => lock != self.locked,
            HostCommand::Admit(knock) | HostCommand::Deny(knock) => {
                self.knocks.iter().any(|(id, _)| *id == knock)
            }
        };
        if applies {
            self.effects.push(Effect::Send(command.message()));
        }
    }

    /// Someone's name, for a sentence ("Alice removed you…"), if they are here.
    fn name_of(&mut self, id: PeerId) -> Option<String> {
        self.remote(id).map(|r| r.person.name.clone())
    }

    /// A signal past a limit was dropped: counted, and warned about once.
    fn drop_signal(&mut self) {
        self.dropped_candidates += 1;
        if self.dropped_candidates == 1 {
            self.effects.push(Effect::Warn(format!(
                "ignored ICE candidates past {MAX_REMOTE_CANDIDATES} from one peer (counted from now on)"
            )));
        }
    }

    fn show_chat(&mut self, from: String, text: String, mine: bool) {
        self.chat_lines += 1;
        self.effects.push(Effect::ShowChat(ChatLine {
            id: self.chat_lines,
            from,
            text,
            mine,
        }));
    }

    /// A message from `id` was dropped: counted, warned about once per kind, and an
    /// over-long line is mentioned to the person (at most every 10 s per peer).
    fn drop_message(&mut self, id: PeerId, why: PeerMessageError, now: Millis) {
        let kind = PeerMessageError::ALL
            .iter()
            .position(|k| *k == why)
            .unwrap_or(0);
        self.dropped[kind] += 1;
        if self.dropped[kind] == 1 {
            self.effects.push(Effect::Warn(format!(
                "ignored {why} from a peer (counted from now on)"
            )));
        }
        let too_long = matches!(
            why,
            PeerMessageError::TooLarge | PeerMessageError::ChatTooLong
        );
        if let Some(remote) = self.remote(id).filter(|_| too_long) {
            if remote
                .too_long_noticed
                .is_none_or(|at| now.since(at) >= NOTICE_EVERY_MS)
            {
                remote.too_long_noticed = Some(now);
                let notice = Notice::TooLong(remote.person.name.clone());
                self.effects.push(Effect::Notice(notice));
            }
        }
    }

    /// Ends the call from this side: every connection closed, the seat given back.
    fn finish(&mut self, status: CallStatus) {
        for remote in std::mem::take(&mut self.remotes) {
            self.drop_remote(remote);
        }
        // Nothing is left to time.
        self.timers.clear();
        // Seated, or waiting at the door: either way we go.
        let waiting = self.waiting_for.take().is_some();
        if (self.token.take().is_some() || waiting) && self.socket_open {
            self.effects.push(Effect::Send(ClientMessage::Leave));
        }
        self.effects.push(Effect::KeepToken(None));
        self.socket_open = false;
        self.effects.push(Effect::CloseSocket);
        self.effects.push(Effect::Stop);
        self.outcome = Some(if status.is_final() {
            status
        } else {
            CallStatus::Ended
        });
    }

    /// Adds someone to the room (not yet connected), once: a second `joined` or `resumed`
    /// naming them again changes nothing.
    fn seat(&mut self, peer: PeerInfo, polite: bool) {
        if self.remote(peer.id).is_some() {
            return;
        }
        self.left = None;
        self.remotes.push(Remote {
            person: Person {
                id: peer.id,
                name: peer.name,
                link: Link::Awaiting,
                media: MediaState::default(),
                chat_open: false,
                verified: false,
                recording: false,
            },
            polite,
            open: false,
            ice: IceState::Other,
            chat_gate: RateGate::chat(),
            reaction_gate: RateGate::reactions(),
            hand: None,
            hand_gate: RateGate::hand_changes(),
            hand_pending: None,
            too_long_noticed: None,
            candidates: 0,
            busy: 0,
            busy_pending: false,
            code: None,
            verified_code: None,
        });
    }

    fn open(&mut self, id: PeerId) {
        if let Some(remote) = self.remote(id) {
            remote.open = true;
            remote.person.link = Link::Connecting;
            let polite = remote.polite;
            let screen = self.tracks.screen;
            self.effects.push(Effect::OpenPeer {
                peer: id,
                polite,
                screen,
            });
        }
    }

    /// Takes someone out of the room, closing our connection to them; returns their name.
    fn remove(&mut self, id: PeerId) -> Option<String> {
        let index = self.remotes.iter().position(|r| r.person.id == id)?;
        let remote = self.remotes.remove(index);
        let name = remote.person.name.clone();
        self.drop_remote(remote);
        Some(name)
    }

    /// Someone no longer in the room (to us): their reactions leave the screen, their
    /// timers stop, and our connection to them closes.
    fn drop_remote(&mut self, remote: Remote) {
        let id = remote.person.id;
        self.reactions.forget(id);
        self.time_reactions();
        self.timers.cancel_for(id);
        if remote.open {
            self.close_peer(id);
        }
    }

    /// Closes our connection to `peer`, and the transfers on it with it.
    fn close_peer(&mut self, peer: PeerId) {
        self.transfers.forget(peer);
        self.effects.push(Effect::ClosePeer { peer });
    }

    /// Tells everyone whose chat channel is open what we send.
    fn announce(&mut self) {
        let ids: Vec<PeerId> = self.chat_ready().collect();
        for peer in ids {
            self.announce_to(peer);
        }
    }

    /// Tells everyone whose chat channel is open whether our hand is up.
    fn tell_hand(&mut self, now: Millis) {
        for peer in self.chat_ready().collect::<Vec<_>>() {
            self.effects.push(Effect::SendToPeer {
                peer,
                message: self.hand_message(now),
            });
        }
    }

    fn hand_message(&self, now: Millis) -> PeerMessage {
        PeerMessage::Hand {
            up: self.hand.is_some(),
            for_ms: self.hand.map_or(0, |hand| meeting::up_for(hand.since, now)),
            turn: self.hand.map_or(0, |hand| hand.turn),
        }
    }

    fn show_reaction(
        &mut self,
        from: Option<PeerId>,
        name: String,
        reaction: Reaction,
        now: Millis,
    ) {
        self.reactions.show(from, name, reaction, now);
        self.time_reactions();
    }

    /// Tells one person what we send, so they can show "muted" or a placeholder.
    fn announce_to(&mut self, peer: PeerId) {
        let MediaState {
            audio,
            video,
            screen,
        } = self.switches.sending(self.tracks);
        self.effects.push(Effect::SendToPeer {
            peer,
            message: PeerMessage::Media {
                audio,
                video,
                screen,
            },
        });
    }

    fn plan_upload(&mut self, now: Millis) {
        let receivers = self
            .remotes
            .iter()
            .filter(|r| r.person.link == Link::Connected)
            .count();
        if let Some(limits) = self.upload.decide(receivers, now) {
            self.effects.push(Effect::LimitSenders(limits));
        }
    }

    /// Opens a socket and asks for our seat: back, if we had one.
    fn connect(&mut self, now: Millis) {
        let generation = self.next_socket(now);
        self.effects.push(Effect::OpenSocket { generation });
        match self.token.clone() {
            Some(token) => self.effects.push(Effect::Send(ClientMessage::Resume {
                token,
                fresh: self.fresh,
            })),
            None => self.send_join(),
        }
    }

    /// A new socket, opened now: its generation.
    fn next_socket(&mut self, now: Millis) -> u32 {
        self.generation = self.generation.wrapping_add(1);
        self.socket_open = true;
        // A socket is open: no reconnect is waited for any more.
        self.timers.cancel(Timer::Reconnect);
        self.last_heard = now;
        self.generation
    }

    fn send_join(&mut self) {
        self.effects.push(Effect::Send(ClientMessage::Join {
            room: self.room.clone(),
            name: self.user.clone(),
        }));
    }

    /// The socket is gone: try again after a backoff with jitter. Signals meanwhile are
    /// dropped; media and chat keep flowing peer to peer.
    fn lost_server(&mut self, now: Millis) {
        self.socket_open = false;
        self.server_lost = true;
        let delay = reconnect_delay_ms(self.reconnects, self.next_jitter());
        self.reconnects = self.reconnects.saturating_add(1);
        self.timers.set(Timer::Reconnect, now + delay);
    }

    /// What `joined` and `resumed` say about the room (fresh TURN credentials, limits).
    fn take_terms(
        &mut self,
        ice_servers: Vec<IceServer>,
        ice_policy: IceTransportPolicy,
        max_file_bytes: u64,
        upload_budget: u64,
    ) {
        self.terms = RoomTerms {
            ice_servers,
            ice_policy,
            max_file_bytes,
        };
        self.upload.set_default(upload_budget);
    }

    /// The token that resumes our seat now, kept where a reload finds it.
    fn keep_token(&mut self, token: String) {
        self.token = Some(token.clone());
        self.effects.push(Effect::KeepToken(Some(token)));
    }

    fn back_online(&mut self) {
        self.reconnects = 0;
        self.server_lost = false;
        self.busy = false;
    }

    fn next_jitter(&mut self) -> f64 {
        let mut x = self.jitter;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.jitter = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests;
