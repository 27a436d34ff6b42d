//! The two shells held to one behaviour (issue 35, item 5): the same sequence of joins,
//! leaves, drops and timeouts, and host commands, run through the single server's rooms
//! (`server::rooms`, as it runs) and through the cluster's view of a room (`View`, the
//! decisions `SharedRooms` makes after Redis answers) over an in-process model of the
//! scripts' effects ([`Scripts`]: what join.lua, leave.lua, make_host.lua, remove.lua and
//! lock.lua change and answer; the real scripts are held to their contract by the tests
//! in `store.rs`). After every step, each connection must have been told the same
//! messages, and the room must hold the same people, in the same order, with the same
//! host.
//!
//! Ids differ (each shell draws its own): messages are compared with every id written as
//! the connection it was given to; tokens and ICE servers are left out.
//!
//! Left out, each for a reason: knocks at a locked room (the cluster's door is Redis
//! state answered across servers, tested end to end in tests/cluster.rs and host.rs; a
//! join while the room is locked is skipped), fresh resumes (a fresh page's resume moves
//! the seat locally and is refused in the cluster: divergence 1 of
//! docs/room-model-plan.md, for the maintainer to decide; a resume here is a dropped
//! socket's, in place), and readers too slow for their mailbox (every connection reads
//! after every step).

use super::contract::{HostChange, HostRefusal, Joined, Left};
use super::contract::{Moved, Resumed};
use super::record::{Holder, Listed};
use super::view::{Person, Place, TakenBack, View, Whereabouts};
use crate::protocol::signaling::{
    fold_name, name_candidates, ErrorCode, HostCommand, PeerId, PeerInfo, ServerMessage,
};
use crate::server::ice::IceConfig;
use crate::server::mailbox::{Mailbox, MAILBOX};
use crate::server::room::seat::{NoSeat, RoomState, Seat};
use crate::server::rooms::Rooms;
use crate::server::seats::{encode, Attachment, RoomRules};
use crate::server::tokens::ResumeTokens;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The room every step is about.
const ROOM: &str = "r";
/// This server, the only one.
const SERVER: &str = "a";
/// Small, so that rooms fill.
pub const CAPACITY: usize = 3;
/// Connections the steps name (by number, modulo this).
pub const CONNECTIONS: usize = 5;

/// One step, by a connection (numbered).
#[derive(Clone, Debug)]
pub enum Step {
    Join {
        conn: u8,
        name: String,
    },
    Leave {
        conn: u8,
    },
    /// The socket drops: the seat is held.
    Drop {
        conn: u8,
    },
    /// A held seat's grace runs out.
    Expire {
        conn: u8,
    },
    /// A dropped socket's page comes back with its last token.
    Resume {
        conn: u8,
    },
    Lock {
        conn: u8,
        locked: bool,
    },
    MakeHost {
        conn: u8,
        to: u8,
    },
    Remove {
        conn: u8,
        to: u8,
    },
    AskToMute {
        conn: u8,
        to: u8,
    },
}

/// Runs `steps` through both shells; the first difference, described.
pub fn check(steps: &[Step]) -> Result<(), String> {
    let mut local = Local::new();
    let mut shared = Shared::new();
    for (i, step) in steps.iter().enumerate() {
        // A locked room's door is left out: see the module's comment.
        if matches!(step, Step::Join { .. }) && shared.scripts.locked {
            continue;
        }
        let said_here = local.step(step);
        let said_there = shared.step(step);
        if said_here != said_there {
            return Err(format!(
                "step {i} {step:?}: one server answered {said_here:?}, the cluster {said_there:?}"
            ));
        }
        for conn in 0..CONNECTIONS {
            let here = local.told(conn);
            let there = shared.told(conn);
            if here != there {
                return Err(format!(
                    "step {i} {step:?}: connection {conn} was told {here:?} by one server, {there:?} by the cluster"
                ));
            }
        }
        let (here, there) = (local.room(), shared.room());
        if here != there {
            return Err(format!(
                "step {i} {step:?}: the room is {here:?} on one server, {there:?} in the cluster"
            ));
        }
    }
    Ok(())
}

/// What a step got: refused (and why), or not.
type Said = Result<(), ErrorCode>;

/// The room as both keep it: who is there, in order (as connections), and who hosts.
type RoomSeen = (Vec<(usize, String)>, Option<usize>);

fn rules() -> RoomRules {
    RoomRules {
        capacity: CAPACITY,
        ice: IceConfig::none().into(),
        tokens: ResumeTokens::new(b"differential", Duration::from_secs(60)),
        max_file_bytes: 1,
        upload_budget: 1,
    }
}

/// A connection as the test drives it.
struct Conn {
    mailbox: Mailbox,
    seat: Option<Seat>,
    dropped: bool,
    /// The last token it was given, to resume with.
    token: Option<String>,
}

/// Which connection holds which id, on one side.
#[derive(Default)]
struct Ids(HashMap<PeerId, usize>);

impl Ids {
    fn name(&self, id: PeerId) -> String {
        match self.0.get(&id) {
            Some(conn) => format!("c{conn}"),
            None => format!("unknown {}", id.0),
        }
    }

    /// `message`, with ids written as connections and what differs by design left out.
    fn describe(&self, message: ServerMessage) -> String {
        let list = |peers: &[PeerInfo]| {
            peers
                .iter()
                .map(|p| format!("{}:{}", self.name(p.id), p.name))
                .collect::<Vec<_>>()
                .join(",")
        };
        let host = |host: Option<PeerId>| host.map(|h| self.name(h));
        match message {
            ServerMessage::Joined {
                you,
                name,
                peers,
                host: h,
                locked,
                polite,
                ..
            } => format!(
                "joined {} {name} [{}] host {:?} locked {locked} polite {polite}",
                self.name(you),
                list(&peers),
                host(h)
            ),
            ServerMessage::Resumed {
                you,
                peers,
                host: h,
                locked,
                ..
            } => format!(
                "resumed {} [{}] host {:?} locked {locked}",
                self.name(you),
                list(&peers),
                host(h)
            ),
            ServerMessage::PeerJoined { peer, polite } => {
                format!("peer_joined {} polite {polite}", list(&[peer]))
            }
            ServerMessage::PeerLeft { peer } => format!("peer_left {}", self.name(peer)),
            ServerMessage::Host { peer } => format!("host {}", self.name(peer)),
            ServerMessage::MuteRequest { by } => format!("mute_request {}", self.name(by)),
            ServerMessage::Removed { by } => format!("removed {}", self.name(by)),
            other => format!("{other:?}"),
        }
    }
}

/// Everything queued for `conn` since last asked, described; the token it carries, kept.
fn drain(conns: &mut [Conn], ids: &Ids, conn: usize) -> Vec<String> {
    let conn = &mut conns[conn];
    std::iter::from_fn(|| conn.mailbox.try_next())
        .map(|text| {
            let message: ServerMessage =
                serde_json::from_str(&text).expect("the server's own JSON");
            if let ServerMessage::Joined { token, .. } | ServerMessage::Resumed { token, .. } =
                &message
            {
                conn.token = Some(token.clone());
            }
            ids.describe(message)
        })
        .collect()
}

fn conns() -> Vec<Conn> {
    (0..CONNECTIONS)
        .map(|_| Conn {
            mailbox: Mailbox::new(&MAILBOX),
            seat: None,
            dropped: false,
            token: None,
        })
        .collect()
}

fn index(conn: u8) -> usize {
    usize::from(conn) % CONNECTIONS
}

/// The single server's rooms, as they run.
struct Local {
    rooms: Rooms,
    conns: Vec<Conn>,
    ids: Ids,
}

impl Local {
    fn new() -> Local {
        Local {
            rooms: Rooms::new(rules()),
            conns: conns(),
            ids: Ids::default(),
        }
    }

    fn seat(&self, conn: u8) -> Option<Seat> {
        self.conns[index(conn)].seat.clone()
    }

    fn id(&self, conn: u8) -> PeerId {
        self.seat(conn).map_or(PeerId(0), |seat| seat.id)
    }

    fn step(&mut self, step: &Step) -> Said {
        match step {
            Step::Join { conn, name } => {
                let c = index(*conn);
                if self.conns[c].seat.is_some() {
                    return Ok(());
                }
                // A new socket.
                self.conns[c].mailbox = Mailbox::new(&MAILBOX);
                match self.rooms.join(ROOM, name, &self.conns[c].mailbox, None) {
                    Ok(admitted) => {
                        self.ids.0.insert(admitted.seat.id, c);
                        self.conns[c].seat = Some(admitted.seat);
                        Ok(())
                    }
                    Err(NoSeat::Refused(code)) => Err(code),
                    Err(other) => panic!("{other:?}"),
                }
            }
            Step::Leave { conn } => {
                if let Some(seat) = self.conns[index(*conn)].seat.take() {
                    self.rooms.leave(&seat);
                }
                Ok(())
            }
            Step::Drop { conn } => {
                let c = index(*conn);
                if let (Some(seat), false) = (&self.conns[c].seat, self.conns[c].dropped) {
                    self.rooms.detach(seat, None);
                    self.conns[c].dropped = true;
                }
                Ok(())
            }
            Step::Expire { conn } => {
                let c = index(*conn);
                if let (Some(seat), true) = (&self.conns[c].seat, self.conns[c].dropped) {
                    self.rooms.expire(seat);
                    self.conns[c].seat = None;
                    self.conns[c].dropped = false;
                }
                Ok(())
            }
            Step::Resume { conn } => {
                let c = index(*conn);
                let (Some(token), true) = (self.conns[c].token.clone(), self.conns[c].dropped)
                else {
                    return Ok(());
                };
                let mailbox = Mailbox::new(&MAILBOX);
                match self.rooms.resume(&token, false, &mailbox) {
                    Ok(seat) => {
                        self.conns[c] = Conn {
                            mailbox,
                            seat: Some(seat),
                            dropped: false,
                            token: None,
                        };
                        Ok(())
                    }
                    Err(NoSeat::Refused(code)) => Err(code),
                    Err(other) => panic!("{other:?}"),
                }
            }
            Step::Lock { conn, locked } => self.command(*conn, HostCommand::Lock(*locked)),
            Step::MakeHost { conn, to } => self.command(*conn, HostCommand::MakeHost(self.id(*to))),
            Step::Remove { conn, to } => self.command(*conn, HostCommand::Remove(self.id(*to))),
            Step::AskToMute { conn, to } => {
                self.command(*conn, HostCommand::AskToMute(self.id(*to)))
            }
        }
    }

    fn command(&mut self, conn: u8, command: HostCommand) -> Said {
        let Some(seat) = self.seat(conn).filter(|_| !self.conns[index(conn)].dropped) else {
            return Ok(());
        };
        let said = self.rooms.host_command(&seat, command);
        // Whoever was removed has no seat now.
        for c in &mut self.conns {
            if c.seat
                .as_ref()
                .is_some_and(|seat| !self.rooms.members(ROOM).iter().any(|m| m.id == seat.id))
            {
                c.seat = None;
                c.dropped = false;
            }
        }
        said
    }

    fn told(&mut self, conn: usize) -> Vec<String> {
        let told = drain(&mut self.conns, &self.ids, conn);
        // A seat freed for not taking its news, or taken by the host: gone.
        if let Some(seat) = &self.conns[conn].seat {
            if !self.rooms.members(ROOM).iter().any(|m| m.id == seat.id) {
                self.conns[conn].seat = None;
                self.conns[conn].dropped = false;
            }
        }
        told
    }

    fn room(&self) -> RoomSeen {
        let people = self
            .rooms
            .members(ROOM)
            .into_iter()
            .map(|p| (self.ids.0.get(&p.id).copied().unwrap_or(usize::MAX), p.name))
            .collect();
        let host = self
            .rooms
            .host(ROOM)
            .and_then(|h| self.ids.0.get(&h).copied());
        (people, host)
    }
}

/// A seat in [`Scripts`]: who, the change that seated them, the name and its folded form.
struct Held {
    id: PeerId,
    seq: u64,
    name: String,
    fold: String,
}

/// What the scripts change in Redis and answer, for one room on one server, in process.
#[derive(Default)]
pub(super) struct Scripts {
    seq: u64,
    seats: Vec<Held>,
    /// Each resumed seat's one valid token generation (`<room>:gen`).
    gens: HashMap<PeerId, u64>,
    chosen: Option<PeerId>,
    locked: bool,
}

impl Scripts {
    /// `host_of` in tell.lua.
    fn host(&self) -> Option<PeerId> {
        match self.chosen {
            Some(chosen) if self.seats.iter().any(|s| s.id == chosen) => Some(chosen),
            _ => self.seats.iter().min_by_key(|s| s.seq).map(|s| s.id),
        }
    }

    fn listed(&self, but: PeerId) -> Vec<Listed> {
        self.seats
            .iter()
            .filter(|s| s.id != but)
            .map(|s| Listed {
                info: PeerInfo {
                    id: s.id,
                    name: s.name.clone(),
                },
                seq: s.seq,
                holder: Holder::Server(SERVER.into()),
            })
            .collect()
    }

    /// join.lua, at an unlocked room.
    fn join(&mut self, id: PeerId, wanted: &str) -> Joined {
        if self.seats.len() >= CAPACITY {
            return Joined::Full;
        }
        let free = name_candidates(wanted)
            .take(CAPACITY + 1)
            .map(|name| (fold_name(&name), name))
            .find(|(fold, _)| !self.seats.iter().any(|s| s.fold == *fold));
        let Some((fold, name)) = free else {
            return Joined::Full;
        };
        self.seq += 1;
        self.seats.push(Held {
            id,
            seq: self.seq,
            name: name.clone(),
            fold,
        });
        Joined::Seated {
            seq: self.seq,
            name,
            host: self.host().expect("seated just now"),
            locked: self.locked,
            others: self.listed(id),
        }
    }

    /// resume.lua, for a seat this server holds (the only server): it stays, nobody is
    /// told, and the token's generation moves on.
    fn resume(&mut self, id: PeerId, gen: u64, next: u64) -> Resumed {
        let Some(seat) = self.seats.iter().find(|s| s.id == id) else {
            return Resumed::Gone;
        };
        if self.gens.get(&id).is_some_and(|now| *now != gen) {
            return Resumed::Used;
        }
        let moved = Moved {
            seq: seat.seq,
            change: self.seq,
            name: seat.name.clone(),
            host: self.host().expect("the seat is there"),
            locked: self.locked,
            others: self.listed(id),
        };
        self.gens.insert(id, next);
        Resumed::Here(moved)
    }

    /// leave.lua (and `emptied` in tell.lua).
    fn leave(&mut self, id: PeerId) -> Left {
        let before = self.seats.len();
        self.seats.retain(|s| s.id != id);
        self.gens.remove(&id);
        if self.seats.len() == before {
            return Left::Gone;
        }
        self.seq += 1;
        if self.seats.is_empty() {
            self.chosen = None;
            self.locked = false;
        }
        Left::Freed { seq: self.seq }
    }

    /// `refuse_host` and `refuse_host_command` in tell.lua.
    fn refuse(&self, host: PeerId, peer: Option<PeerId>) -> Option<HostRefusal> {
        if !self.seats.iter().any(|s| s.id == host) {
            return Some(HostRefusal::NotJoined);
        }
        if self.host() != Some(host) {
            return Some(HostRefusal::NotHost);
        }
        match peer {
            Some(peer) if peer == host || !self.seats.iter().any(|s| s.id == peer) => {
                Some(HostRefusal::UnknownPeer)
            }
            _ => None,
        }
    }

    /// make_host.lua, remove.lua and lock.lua.
    fn command(&mut self, host: PeerId, command: HostCommand) -> HostChange {
        let peer = match command {
            HostCommand::MakeHost(peer) | HostCommand::Remove(peer) => Some(peer),
            _ => None,
        };
        if let Some(code) = self.refuse(host, peer) {
            return HostChange::Refused { code };
        }
        match command {
            HostCommand::MakeHost(peer) => self.chosen = Some(peer),
            HostCommand::Remove(peer) => {
                self.seats.retain(|s| s.id != peer);
                self.gens.remove(&peer);
            }
            HostCommand::Lock(locked) => self.locked = locked,
            _ => {}
        }
        self.seq += 1;
        HostChange::Done { seq: self.seq }
    }
}

/// The cluster's view of the room on its only server, doing what `SharedRooms` does
/// once Redis has answered, with [`Scripts`] for Redis.
struct Shared {
    scripts: Scripts,
    view: View,
    rules: RoomRules,
    conns: Vec<Conn>,
    ids: Ids,
    next_id: u64,
    next_epoch: u64,
}

impl Shared {
    fn new() -> Shared {
        Shared {
            scripts: Scripts::default(),
            view: View::default(),
            rules: rules(),
            conns: conns(),
            ids: Ids::default(),
            next_id: 0,
            next_epoch: 1,
        }
    }

    fn id(&self, conn: u8) -> PeerId {
        self.conns[index(conn)]
            .seat
            .as_ref()
            .map_or(PeerId(0), |seat| seat.id)
    }

    fn step(&mut self, step: &Step) -> Said {
        let now = Instant::now();
        match step {
            Step::Join { conn, name } => self.join(index(*conn), name, now),
            Step::Leave { conn } => {
                let c = index(*conn);
                if let Some(seat) = self.conns[c].seat.take() {
                    self.free(seat.id, now);
                }
                Ok(())
            }
            Step::Drop { conn } => {
                let c = index(*conn);
                if let (Some(seat), false) = (self.conns[c].seat.clone(), self.conns[c].dropped) {
                    if let Some(at) = self.view.here(seat.id, Some(&seat)) {
                        at.detach(None);
                    }
                    self.conns[c].dropped = true;
                }
                Ok(())
            }
            Step::Expire { conn } => {
                let c = index(*conn);
                if !self.conns[c].dropped {
                    return Ok(());
                }
                if let Some(seat) = self.conns[c].seat.take() {
                    self.conns[c].dropped = false;
                    let held = self
                        .view
                        .here(seat.id, Some(&seat))
                        .is_some_and(|at| at.is_detached());
                    if held {
                        self.free(seat.id, now);
                    }
                }
                Ok(())
            }
            Step::Resume { conn } => self.resume(index(*conn)),
            Step::Lock { conn, locked } => self.command(*conn, HostCommand::Lock(*locked), now),
            Step::MakeHost { conn, to } => {
                self.command(*conn, HostCommand::MakeHost(self.id(*to)), now)
            }
            Step::Remove { conn, to } => {
                self.command(*conn, HostCommand::Remove(self.id(*to)), now)
            }
            Step::AskToMute { conn, to } => {
                self.command(*conn, HostCommand::AskToMute(self.id(*to)), now)
            }
        }
    }

    /// `SharedRooms::join_as`, on this server, with the scripts for Redis.
    fn join(&mut self, c: usize, name: &str, now: Instant) -> Said {
        if self.conns[c].seat.is_some() {
            return Ok(());
        }
        // A new socket.
        self.conns[c].mailbox = Mailbox::new(&MAILBOX);
        self.next_id += 1;
        let id = PeerId(self.next_id);
        let (seq, name, host, locked, others) = match self.scripts.join(id, name) {
            Joined::Seated {
                seq,
                name,
                host,
                locked,
                others,
            } => (seq, name, host, locked, others),
            Joined::Full => return Err(ErrorCode::RoomFull),
            other => panic!("an unlocked room answers {other:?}"),
        };
        let info = PeerInfo { id, name };
        let mailbox = self.conns[c].mailbox.clone();
        let at = Attachment::at_epoch(&mailbox, self.next_epoch << 32);
        self.next_epoch += 1;
        let epoch = at.epoch();
        let peers = others.iter().map(|p| p.info.clone()).collect();
        let said = RoomState {
            host: Some(host),
            locked,
        };
        let (synced, state) = self.view.welcome((id, seq), others, said, SERVER, now);
        assert!(synced.moved_away.is_empty(), "one server: nothing moves");
        let joined = self.rules.joined(ROOM, &info, epoch, peers, state);
        assert!(mailbox.post(encode(&joined)), "every connection reads");
        let me = Person {
            info,
            seq,
            place: Whereabouts::new(Place::Here(at), seq),
        };
        let mut unreachable = synced.unreachable;
        unreachable.extend(self.view.seat_here(me, &mailbox));
        self.ids.0.insert(id, c);
        self.conns[c].seat = Some(Seat {
            room: ROOM.into(),
            id,
            epoch,
        });
        self.evict(unreachable, now);
        Ok(())
    }

    /// `SharedRooms::resume` of a seat this server holds (the only server).
    fn resume(&mut self, c: usize) -> Said {
        let (Some(token), true) = (self.conns[c].token.clone(), self.conns[c].dropped) else {
            return Ok(());
        };
        let claim = self.rules.tokens.verify(&token)?;
        let next = match self.view.here(claim.id, None).map(|at| at.epoch()) {
            Some(epoch) if epoch != claim.gen => return Err(ErrorCode::InvalidToken),
            Some(epoch) => epoch + 1,
            None => {
                self.next_epoch += 1;
                self.next_epoch << 32
            }
        };
        let moved = match self.scripts.resume(claim.id, claim.gen, next) {
            Resumed::Here(moved) => moved,
            Resumed::Used => return Err(ErrorCode::InvalidToken),
            Resumed::Gone => return Err(ErrorCode::ResumeExpired),
        };
        let mailbox = Mailbox::new(&MAILBOX);
        let you = PeerInfo {
            id: claim.id,
            name: claim.name,
        };
        let said = RoomState {
            host: Some(moved.host),
            locked: moved.locked,
        };
        let back = self.view.take_back(
            ROOM,
            &you,
            next,
            (said, moved.change),
            &self.rules,
            &mailbox,
        )?;
        let TakenBack::Here { epoch, .. } = back else {
            panic!("every connection reads");
        };
        self.conns[c] = Conn {
            mailbox,
            seat: Some(Seat {
                room: ROOM.into(),
                id: claim.id,
                epoch,
            }),
            dropped: false,
            token: None,
        };
        Ok(())
    }

    /// `SharedRooms::free` and `freed`.
    fn free(&mut self, id: PeerId, now: Instant) {
        let seq = match self.scripts.leave(id) {
            Left::Freed { seq } => Some(seq),
            Left::Gone => None,
            Left::Elsewhere { .. } => panic!("one server: no seat is elsewhere"),
        };
        let unreachable = self.view.left(id, seq, None, now);
        self.evict(unreachable, now);
    }

    /// `SharedRooms::evict`: a held seat that cannot take the news is freed.
    fn evict(&mut self, ids: Vec<PeerId>, now: Instant) {
        for id in ids {
            self.free(id, now);
        }
    }

    /// `SharedRooms::host_command` (with `check_host` first, as there).
    fn command(&mut self, conn: u8, command: HostCommand, now: Instant) -> Said {
        let c = index(conn);
        let Some(seat) = self.conns[c]
            .seat
            .clone()
            .filter(|_| !self.conns[c].dropped)
        else {
            return Ok(());
        };
        let peer = match command {
            HostCommand::MakeHost(peer)
            | HostCommand::Remove(peer)
            | HostCommand::AskToMute(peer) => Some(peer),
            _ => None,
        };
        if self.view.here(seat.id, Some(&seat)).is_none() {
            return Err(ErrorCode::NotJoined);
        }
        if self.view.host() != Some(seat.id) {
            return Err(ErrorCode::NotHost);
        }
        if let Some(peer) = peer {
            if peer == seat.id || self.view.person(peer).is_none() {
                return Err(ErrorCode::UnknownPeer);
            }
        }
        if let HostCommand::AskToMute(peer) = command {
            let ask = encode(&ServerMessage::MuteRequest { by: seat.id });
            let took = match self.view.person(peer).map(|p| &mut p.place.at) {
                Some(Place::Here(at)) => at.deliver_news(ask),
                _ => true,
            };
            if !took {
                self.evict(vec![peer], now);
            }
            return Ok(());
        }
        let seq = match self.scripts.command(seat.id, command) {
            HostChange::Done { seq } => seq,
            HostChange::Refused { code } => return Err(code.into()),
        };
        let unreachable = match command {
            HostCommand::Lock(locked) => self.view.lock_changed(locked, seq, now),
            HostCommand::MakeHost(peer) => self.view.host_chosen(peer, seq, now),
            HostCommand::Remove(peer) => self.view.left(peer, Some(seq), Some(seat.id), now),
            _ => Vec::new(),
        };
        self.evict(unreachable, now);
        Ok(())
    }

    fn told(&mut self, conn: usize) -> Vec<String> {
        let told = drain(&mut self.conns, &self.ids, conn);
        if let Some(seat) = &self.conns[conn].seat {
            if self.view.person(seat.id).is_none() {
                self.conns[conn].seat = None;
                self.conns[conn].dropped = false;
            }
        }
        told
    }

    fn room(&self) -> RoomSeen {
        let people = self
            .view
            .people()
            .iter()
            .map(|p| {
                let conn = self.ids.0.get(&p.info.id).copied().unwrap_or(usize::MAX);
                (conn, p.info.name.clone())
            })
            .collect();
        let host = self.view.host().and_then(|h| self.ids.0.get(&h).copied());
        (people, host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn random_step(rng: &mut StdRng) -> Step {
        let conn = rng.random_range(0..CONNECTIONS as u8);
        let to = rng.random_range(0..CONNECTIONS as u8);
        match rng.random_range(0..9) {
            0 | 1 => Step::Join {
                conn,
                name: ["Ann", "ann", "Bo", "Ann (2)"][rng.random_range(0..4)].into(),
            },
            2 => Step::Leave { conn },
            3 => Step::Drop { conn },
            4 if rng.random() => Step::Expire { conn },
            4 => Step::Resume { conn },
            5 => Step::Lock {
                conn,
                locked: rng.random(),
            },
            6 => Step::MakeHost { conn, to },
            7 => Step::Remove { conn, to },
            _ => Step::AskToMute { conn, to },
        }
    }

    #[test]
    fn both_shells_tell_everyone_the_same_for_two_thousand_random_sequences() {
        let mut rng = StdRng::seed_from_u64(35);
        for run in 0..2_000 {
            let steps: Vec<Step> = (0..40).map(|_| random_step(&mut rng)).collect();
            if let Err(why) = check(&steps) {
                panic!("run {run}: {why}\n{steps:#?}");
            }
        }
    }

    #[test]
    fn a_dropped_page_resumes_in_place_with_what_waited_for_it_on_both() {
        let join = |conn, name: &str| Step::Join {
            conn,
            name: name.into(),
        };
        let steps = [
            join(0, "Ann"),
            join(1, "Bo"),
            Step::Drop { conn: 1 },
            join(2, "Cy"),
            Step::MakeHost { conn: 0, to: 2 },
            Step::Resume { conn: 1 },
            Step::Resume { conn: 1 },
        ];
        assert_eq!(check(&steps), Ok(()));
        let (mut local, mut shared) = (Local::new(), Shared::new());
        let mut told = Vec::new();
        for step in &steps {
            assert_eq!(local.step(step), shared.step(step));
            told.push((local.told(1), shared.told(1)));
            (0..CONNECTIONS).for_each(|c| {
                local.told(c);
                shared.told(c);
            });
        }
        let (here, there) = &told[5];
        assert_eq!(here, there);
        assert_eq!(
            here[..],
            [
                "resumed c1 [c0:Ann,c2:Cy] host Some(\"c2\") locked false",
                "peer_joined c2:Cy polite false",
                "host c2",
            ],
            "what waited comes after `resumed`"
        );
        assert!(
            told[6].0.is_empty(),
            "a second resume of a held seat: none held"
        );
    }

    #[test]
    fn a_difference_is_found_and_described() {
        // The check must be able to fail: a cluster that forgot to tell a newcomer's
        // arrival would differ at once. Here, the host hands the role on; both agree.
        let steps = [
            Step::Join {
                conn: 0,
                name: "Ann".into(),
            },
            Step::Join {
                conn: 1,
                name: "Ann".into(),
            },
            Step::MakeHost { conn: 0, to: 1 },
            Step::Leave { conn: 1 },
        ];
        assert_eq!(check(&steps), Ok(()));
        let mut local = Local::new();
        let mut shared = Shared::new();
        assert_eq!(local.step(&steps[0]), shared.step(&steps[0]));
        assert_eq!(local.step(&steps[1]), Ok(()));
        assert_ne!(
            (local.told(0), local.room()),
            (shared.told(0), shared.room()),
            "one side a step behind differs"
        );
    }
}
