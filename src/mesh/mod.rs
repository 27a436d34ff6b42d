//! The call's decisions, as a pure state machine: no browser, no Leptos.
//!
//! A call of up to eight people is a full mesh: one peer connection per pair, each
//! negotiated on its own. [`Session`] takes what happens (server messages, per-peer
//! connection news, the person's commands, timers) and answers with [`Effect`]s for the
//! browser layer (`client::session`) to carry out. Because it only computes, every rule
//! here is tested natively, and fuzzed with random event sequences.

pub mod budget;
pub mod clock;
mod commands;
pub mod gates;
mod io;
pub mod meeting;
pub mod network_check;
pub mod notice;
mod people;
mod remote;
mod server_link;
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
use budget::UploadPlan;
pub use clock::Millis;
use gates::{Admit, RateGate};
pub use io::{
    ChatLine, Command, ConnectionState, Effect, IceState, Input, MediaState, PeerInput, RoomTerms,
};
use meeting::{RaisedHand, Reactions, ShownReaction, UpHand};
use notice::Notice;
use remote::{set_hand, Remote};
pub use remote::{Link, Person, HAND_SETTLE_MS};
use server_link::ServerLink;
pub use server_link::{
    reconnect_delay_ms, HEARTBEAT_MS, RECONNECT_FIRST_MS, RECONNECT_MAX_MS, SERVER_SILENCE_MS,
};
use switches::{Switches, TrackKind};
pub use timers::Timer;
use timers::Timers;
use transfers::Transfers;

/// How long ICE may stay `disconnected` before it is restarted.
pub const ICE_GRACE_MS: u64 = 3_000;
/// After the server held back a signal of ours (`peer_busy`: that person is not reading
/// fast enough), the connection to them is renegotiated (an ICE restart: a fresh offer,
/// fresh candidates) after this pause, doubled for each `peer_busy` in a row, up to the
/// cap. Until then nothing more is retried: a slow reader gets time to catch up.
pub const PEER_BUSY_RETRY_MS: u64 = 1_000;
pub const PEER_BUSY_RETRY_MAX_MS: u64 = 16_000;

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

pub struct Session {
    user: String,
    room: String,
    /// The signaling socket and the seat it asks for.
    link: ServerLink,
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

/// After a network change restarts every connection's ICE, further reports within this
/// long are the same change.
pub const NETWORK_SETTLE_MS: u64 = 2_000;

impl Session {
    /// A session for `user` in `room`; `seed` spreads reconnect times (any value works).
    pub fn new(user: String, room: String, seed: u64) -> Session {
        Session {
            user,
            room,
            link: ServerLink::new(seed),
            seated_as: None,
            you: None,
            host: None,
            locked: false,
            knocks: Vec::new(),
            waiting_for: None,
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
        self.link.token = Some(token);
        self.link.fresh = true;
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
        if self.link.token.is_some() {
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
                Timer::Reconnect => !self.link.socket_open,
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
            Input::Server(generation, message) if generation == self.link.generation => {
                self.link.last_heard = self.link.last_heard.max(now);
                self.on_server(message, now);
            }
            Input::SocketClosed(generation) if generation == self.link.generation => {
                if self.link.socket_open {
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
        if self.link.socket_open {
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
        if self.link.busy && self.remotes.is_empty() {
            return CallStatus::Busy;
        }
        if self.link.token.is_none() && self.remotes.is_empty() {
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
        self.link.server_lost && !self.is_over()
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

    /// A timer whose reason still holds fires (one whose reason went away was cancelled
    /// then, and never gets here).
    fn on_timer(&mut self, timer: Timer, now: Millis) {
        match timer {
            Timer::Reconnect => self.connect(now),
            Timer::Heartbeat => {
                self.timers.set(Timer::Heartbeat, now + HEARTBEAT_MS);
                if !self.link.socket_open {
                    return;
                }
                if now.since(self.link.last_heard) > SERVER_SILENCE_MS {
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

    /// Ends the call from this side: every connection closed, the seat given back.
    fn finish(&mut self, status: CallStatus) {
        for remote in std::mem::take(&mut self.remotes) {
            self.drop_remote(remote);
        }
        // Nothing is left to time.
        self.timers.clear();
        // Seated, or waiting at the door: either way we go.
        let waiting = self.waiting_for.take().is_some();
        if (self.link.token.take().is_some() || waiting) && self.link.socket_open {
            self.effects.push(Effect::Send(ClientMessage::Leave));
        }
        self.effects.push(Effect::KeepToken(None));
        self.link.socket_open = false;
        self.effects.push(Effect::CloseSocket);
        self.effects.push(Effect::Stop);
        self.outcome = Some(if status.is_final() {
            status
        } else {
            CallStatus::Ended
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
}

#[cfg(test)]
mod tests;
