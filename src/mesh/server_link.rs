//! The session's link to the server: what the server says (seats, signals, the host, the
//! door, errors), and the socket itself: its generation, the heartbeat, reconnecting with
//! backoff, and the resume token.

use super::*;

/// The client pings the server this often…
pub const HEARTBEAT_MS: u64 = 5_000;

/// …and counts it gone after this long without hearing anything.
pub const SERVER_SILENCE_MS: u64 = 12_000;

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

/// The signaling socket, and the seat it asks for: which socket is current, whether the
/// server answers, the backoff, and the token that resumes the seat.
pub(super) struct ServerLink {
    /// Counts sockets opened, to ignore news from earlier ones.
    pub(super) generation: u32,
    pub(super) socket_open: bool,
    /// The server went away and has not taken us back yet (a socket may be open, but
    /// until `joined` or `resumed` nobody knows it answers).
    pub(super) server_lost: bool,
    /// The server said `unavailable`: we try again, through a new socket (a balancer
    /// may send it to another server).
    pub(super) busy: bool,
    /// Resumes our seat after a dropped socket.
    pub(super) token: Option<String>,
    /// This page has no connections to the others for the seat `token` resumes (it was
    /// reloaded, or it takes the call back): the server seats it under a new id.
    pub(super) fresh: bool,
    /// Another tab or device holds our seat now; nothing reconnects until `TakeBack`.
    pub(super) elsewhere: bool,
    /// Failed connection attempts in a row, for the backoff.
    pub(super) reconnects: u32,
    /// When the server last said anything.
    pub(super) last_heard: Millis,
    /// A small PRNG for the reconnect jitter (xorshift; its quality does not matter).
    jitter: u64,
}

impl ServerLink {
    pub(super) fn new(seed: u64) -> ServerLink {
        ServerLink {
            generation: 0,
            socket_open: false,
            server_lost: false,
            busy: false,
            token: None,
            fresh: false,
            elsewhere: false,
            reconnects: 0,
            last_heard: Millis::ZERO,
            jitter: seed | 1,
        }
    }

    /// The server took us back: the backoff starts over.
    pub(super) fn back_online(&mut self) {
        self.reconnects = 0;
        self.server_lost = false;
        self.busy = false;
    }

    /// The delay before the next try, with its jitter; the try is counted.
    pub(super) fn next_delay(&mut self) -> u64 {
        let delay = reconnect_delay_ms(self.reconnects, self.next_jitter());
        self.reconnects = self.reconnects.saturating_add(1);
        delay
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

impl Session {
    pub(super) fn on_server(&mut self, message: ServerMessage, now: Millis) {
        match message {
            joined @ ServerMessage::Joined { .. } => self.on_joined(joined),
            resumed @ ServerMessage::Resumed { .. } => self.on_resumed(resumed, now),
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
            ServerMessage::Signal { from, signal } => self.on_signal(from, signal),
            ServerMessage::PeerLeft { peer } => {
                if let Some(name) = self.remove(peer) {
                    self.left = Some(name);
                    self.plan_upload(now);
                }
            }
            ServerMessage::Pong => {}
            ServerMessage::Host { peer } => self.on_host(peer),
            ServerMessage::Removed { by } => {
                let by = self.name_of(by);
                // The server closes the socket next: nothing reconnects, nothing is kept.
                self.link.token = None;
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
                self.link.back_online();
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
            ServerMessage::SeatTaken { token } => self.on_seat_taken(token),
            // The server's `message` is for developers; the page words the code itself.
            ServerMessage::Error { code, peer, .. } => self.on_error(code, peer, now),
        }
    }

    /// Seated (`joined`): who we are, who is there, the room's terms.
    fn on_joined(&mut self, joined: ServerMessage) {
        let ServerMessage::Joined {
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
        } = joined
        else {
            return;
        };
        self.link.back_online();
        self.link.fresh = false;
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

    /// Our seat again (`resumed`), with the same id.
    fn on_resumed(&mut self, resumed: ServerMessage, now: Millis) {
        let ServerMessage::Resumed {
            you,
            peers,
            token,
            ice_servers,
            ice_transport_policy,
            max_file_bytes,
            upload_budget,
            host,
            locked,
        } = resumed
        else {
            return;
        };
        self.link.fresh = false;
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
        self.link.back_online();
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

    /// A description or candidate from `from`, for their connection.
    fn on_signal(&mut self, from: PeerId, signal: Signal) {
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

    /// `peer` hosts the room now.
    fn on_host(&mut self, peer: PeerId) {
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

    /// Another page holds the seat now: stop sending to anyone, and wait for the person to
    /// take the call back (with `token`) or close the page.
    fn on_seat_taken(&mut self, token: String) {
        // Another page holds the seat now: stop sending to anyone, and wait for the
        // person to take the call back (with this token) or close the page.
        for remote in std::mem::take(&mut self.remotes) {
            self.drop_remote(remote);
        }
        self.link.token = Some(token);
        self.effects.push(Effect::KeepToken(None));
        self.link.elsewhere = true;
        self.outcome = Some(CallStatus::OpenElsewhere);
        self.link.socket_open = false;
        self.effects.push(Effect::CloseSocket);
    }

    pub(super) fn on_error(&mut self, code: ErrorCode, peer: Option<PeerId>, now: Millis) {
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
            ErrorCode::RoomFull if self.is_host() && !self.link.server_lost => {
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
                self.link.token = None;
                self.link.fresh = false;
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
            ErrorCode::Unavailable if self.link.token.is_none() || self.link.server_lost => {
                self.link.busy = true;
                if self.link.socket_open {
                    self.effects.push(Effect::CloseSocket);
                    self.lost_server(now);
                }
            }
            // Our signal went to someone no longer in the room; their `peer_left` follows.
            _ => {}
        }
    }

    /// Opens a socket and asks for our seat: back, if we had one.
    pub(super) fn connect(&mut self, now: Millis) {
        let generation = self.next_socket(now);
        self.effects.push(Effect::OpenSocket { generation });
        match self.link.token.clone() {
            Some(token) => self.effects.push(Effect::Send(ClientMessage::Resume {
                token,
                fresh: self.link.fresh,
            })),
            None => self.send_join(),
        }
    }

    /// A new socket, opened now: its generation.
    pub(super) fn next_socket(&mut self, now: Millis) -> u32 {
        self.link.generation = self.link.generation.wrapping_add(1);
        self.link.socket_open = true;
        // A socket is open: no reconnect is waited for any more.
        self.timers.cancel(Timer::Reconnect);
        self.link.last_heard = now;
        self.link.generation
    }

    pub(super) fn send_join(&mut self) {
        self.effects.push(Effect::Send(ClientMessage::Join {
            room: self.room.clone(),
            name: self.user.clone(),
        }));
    }

    /// The socket is gone: try again after a backoff with jitter. Signals meanwhile are
    /// dropped; media and chat keep flowing peer to peer.
    pub(super) fn lost_server(&mut self, now: Millis) {
        self.link.socket_open = false;
        self.link.server_lost = true;
        let delay = self.link.next_delay();
        self.timers.set(Timer::Reconnect, now + delay);
    }

    /// What `joined` and `resumed` say about the room (fresh TURN credentials, limits).
    pub(super) fn take_terms(
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
    pub(super) fn keep_token(&mut self, token: String) {
        self.link.token = Some(token.clone());
        self.effects.push(Effect::KeepToken(Some(token)));
    }
}
