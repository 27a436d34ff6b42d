//! Who sits in which room, and delivery of messages to them.
//!
//! One lock guards the whole registry, and every change (join, resume, relay, leave)
//! happens under it, so a room can never be over-filled by simultaneous joins and a peer
//! never sees "left" before "joined". Nothing awaits while the lock is held.
//!
//! A seat outlives its connection for a grace period: while *detached*, messages for it
//! wait in a small backlog, and a `resume` with its token picks them up. Each attachment
//! has an epoch, so a stale connection cannot detach or leave a seat that was resumed.
//!
//! Messages are encoded once, here, and queued as text: the socket only writes them.

use super::ice::IceConfig;
use super::limits::IpSlot;
pub use super::mailbox::Mailbox;
use super::mailbox::{Busy, FairQueue, Kick, Posted, HELD};
use super::room::door::{self, KnockLimits};
use super::room::host;
use super::tokens::ResumeTokens;
use crate::protocol::signaling::{
    distinct_name, ErrorCode, HostCommand, KnockId, PeerId, PeerInfo, ServerMessage, Signal,
};
use axum::extract::ws::Utf8Bytes;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Instant, SystemTime};

/// The JSON text of a server message.
pub fn encode(message: &ServerMessage) -> Utf8Bytes {
    // Strings, numbers and lists only: serializing cannot fail.
    serde_json::to_string(message)
        .expect("server messages always serialize")
        .into()
}

/// Where a connection sits, once joined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seat {
    pub room: String,
    pub id: PeerId,
    /// Which attachment of the seat this connection holds.
    pub(super) epoch: u64,
}

/// A seat held in this process: its connection's mailbox, or, while the connection is
/// gone, what waits for it. Shared by both registries (`rooms`, `cluster`).
pub(super) struct Attachment {
    /// `None` while the seat is detached (its connection dropped).
    mailbox: Option<Mailbox>,
    /// What a detached (or ending) seat keeps; boxed, made only then: most seats are
    /// attached, and every idle seat's bytes count.
    away: Option<Box<Away>>,
    epoch: u64,
}

#[derive(Default)]
struct Away {
    /// What waits for the seat, within [`HELD`]'s bounds.
    backlog: FairQueue,
    /// While detached: the per-address slot the dropped connection held, so that a held
    /// seat counts against its address's limit until it is resumed or freed.
    held: Option<IpSlot>,
}

impl Attachment {
    pub(super) fn new(mailbox: &Mailbox) -> Attachment {
        Self::at_epoch(mailbox, 0)
    }

    /// A new attachment whose epochs start at `epoch`: a seat that comes back to a server
    /// it left must not match a connection from its earlier stay.
    pub(super) fn at_epoch(mailbox: &Mailbox, epoch: u64) -> Attachment {
        Attachment {
            mailbox: Some(mailbox.clone()),
            away: None,
            epoch,
        }
    }

    pub(super) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// What the seat keeps while detached, made on first need.
    fn away(&mut self) -> &mut Away {
        self.away.get_or_insert_with(Box::default)
    }

    /// What waited for the detached seat, and its connection if any: the seat moved on.
    pub(super) fn hand_over(mut self) -> (Option<Mailbox>, Vec<(Option<PeerId>, Utf8Bytes)>) {
        let waiting = match self.away.as_mut() {
            Some(away) => std::iter::from_fn(|| away.backlog.pop_with_sender()).collect(),
            None => Vec::new(),
        };
        (self.mailbox, waiting)
    }

    /// A seat nobody holds yet (taken back after a restart, before `take_over`), last
    /// held as attachment `epoch`.
    fn vacant(epoch: u64) -> Attachment {
        Attachment {
            mailbox: None,
            away: None,
            epoch,
        }
    }

    /// The seat went to another page: a connection still holding it is told `notice`
    /// (`seat_taken`), then closed.
    pub(super) fn give_way(self, notice: Option<Utf8Bytes>) {
        if let Some(mailbox) = self.mailbox {
            if let Some(notice) = notice {
                mailbox.post(notice);
            }
            mailbox.kick(Kick::Replaced);
        }
    }

    /// The host removed the seat's person: a connection still holding it is told `notice`
    /// (`removed`), then closed.
    pub(super) fn removed(&mut self, notice: Utf8Bytes) {
        if let Some(mailbox) = self.mailbox.take() {
            mailbox.post(notice);
            mailbox.kick(Kick::Removed);
        }
    }

    /// Queues a signal from peer `from`; `Busy` when their share of this seat's queue is
    /// full (the sender is refused with `peer_busy`; the reader keeps its seat).
    ///
    /// A connection that is ending (kicked: not reading, or replaced) no longer holds the
    /// seat: what comes for it waits as for a held seat, until its socket's task detaches
    /// it or a resume takes it.
    pub(super) fn deliver_signal(&mut self, from: PeerId, text: Utf8Bytes) -> Result<(), Busy> {
        if let Some(mailbox) = &self.mailbox {
            match mailbox.post_from(from, text.clone()) {
                Posted::Queued => return Ok(()),
                Posted::Busy => return Err(Busy),
                Posted::Ended => self.mailbox = None,
            }
        }
        self.away().backlog.push_peer(from, text, HELD)
    }

    /// Queues the server's news; false when a held seat's queue cannot take it (nobody has
    /// read it for so long that the seat is to be freed). A connected reader that cannot
    /// take it is kicked for not reading, and then holds the news like a held seat.
    pub(super) fn deliver_news(&mut self, text: Utf8Bytes) -> bool {
        if let Some(mailbox) = &self.mailbox {
            if mailbox.post(text.clone()) {
                return true;
            }
            self.mailbox = None;
        }
        self.away().backlog.push_server(text, HELD).is_ok()
    }

    /// Whether this is the attachment `seat` was given (a stale connection's is not).
    pub(super) fn is(&self, seat: &Seat) -> bool {
        self.epoch == seat.epoch
    }

    pub(super) fn is_detached(&self) -> bool {
        self.mailbox.is_none()
    }

    /// The connection dropped; `slot` (its per-address slot) is held with the seat.
    pub(super) fn detach(&mut self, slot: Option<IpSlot>) {
        self.mailbox = None;
        self.away().held = slot;
    }

    /// Gives the seat to a new connection: posts `first`, then what waited, and returns
    /// the new epoch; `None` if the mailbox could not take them all (not reading). A
    /// connection still holding the seat is told `take_back` (`seat_taken`, made only
    /// then) and ended: one seat, one socket.
    pub(super) fn take_over(
        &mut self,
        mailbox: &Mailbox,
        first: Utf8Bytes,
        take_back: impl FnOnce() -> Utf8Bytes,
    ) -> Option<u64> {
        self.epoch += 1;
        // What waited goes to the new connection, which holds a slot of its own.
        let mut away = self.away.take();
        if let Some(old) = self.mailbox.replace(mailbox.clone()) {
            old.post(take_back());
            old.kick(Kick::Replaced);
        }
        std::iter::once(first)
            .chain(std::iter::from_fn(|| away.as_mut()?.backlog.pop()))
            .all(|text| mailbox.post(text))
            .then_some(self.epoch)
    }
}

struct Member {
    info: PeerInfo,
    at: Attachment,
}

/// The people in one room, in the order they were seated, its host, and whoever waits
/// at its door while it is locked.
#[derive(Default)]
struct Room {
    members: Vec<Member>,
    /// The seat the host handed the role to (see [`Room::host`]).
    chosen: Option<PeerId>,
    /// The lock and who waits at it; boxed, made when the room is first locked: most
    /// rooms never are, and every idle seat's bytes count.
    door: Option<Box<Door>>,
}

/// A room's lock, and the people at its door.
#[derive(Default)]
struct Door {
    /// Newcomers wait for the host ([`Knock`]) instead of taking a seat.
    locked: bool,
    /// Who waits at the door, in the order they came (at most [`door::MAX_KNOCKS`]).
    knocks: Vec<Knock>,
    /// Seats given to knocks the host let in, until their connection takes them.
    admitted: Vec<(KnockId, Seat)>,
    /// Who knocked lately, for the per-address rate.
    limits: KnockLimits,
}

impl Room {
    /// Who may lock, admit, remove and hand the role on: the seat the host chose while it
    /// is there, else the person present longest (`room::host`, the rule both shells use).
    fn host(&self) -> Option<PeerId> {
        host::host(
            self.chosen,
            self.members.iter().enumerate().map(|(i, m)| (m.info.id, i)),
        )
    }

    fn locked(&self) -> bool {
        self.door.as_ref().is_some_and(|door| door.locked)
    }

    /// Who waits at the door, in the order they came.
    fn knocks(&self) -> &[Knock] {
        self.door.as_ref().map_or(&[], |door| &door.knocks)
    }

    /// The room's door, made on first need.
    fn door(&mut self) -> &mut Door {
        self.door.get_or_insert_with(Box::default)
    }
}

/// Someone at a locked room's door: no seat, and nobody in the room knows of them but
/// the host.
struct Knock {
    id: KnockId,
    name: String,
    /// Their connection's, to tell them how it went.
    mailbox: Mailbox,
    /// Where they come from (grouped as for the per-address limit), for
    /// [`door::MAX_KNOCKS_PER_ADDRESS`].
    address: Option<IpAddr>,
}

/// A connection waiting at a room's door.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Knocking {
    pub room: String,
    pub knock: KnockId,
}

/// How a knock stands, for its connection.
#[derive(Debug, PartialEq, Eq)]
pub enum KnockOutcome {
    /// Still waiting for the host.
    Waiting,
    /// Let in: this is the connection's seat now (`joined` is on its way).
    Seated(Seat),
    /// Turned away, timed out, or the room emptied: the connection was told.
    Ended,
}

/// What the room says of itself to someone taking a seat: who hosts it, and whether it
/// is locked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RoomState {
    pub host: Option<PeerId>,
    pub locked: bool,
}

impl std::ops::Deref for Room {
    type Target = Vec<Member>;
    fn deref(&self) -> &Vec<Member> {
        &self.members
    }
}

impl std::ops::DerefMut for Room {
    fn deref_mut(&mut self) -> &mut Vec<Member> {
        &mut self.members
    }
}

/// What a room needs to know of the server's configuration.
pub struct RoomRules {
    pub capacity: usize,
    pub ice: std::sync::Arc<IceConfig>,
    pub tokens: ResumeTokens,
    pub max_file_bytes: u64,
    pub upload_budget: u64,
}

impl RoomRules {
    /// What a newcomer `you` in `room` is told, seated as attachment `gen`: who is there,
    /// and how to call them.
    pub(super) fn joined(
        &self,
        room: &str,
        you: &PeerInfo,
        gen: u64,
        peers: Vec<PeerInfo>,
        state: RoomState,
    ) -> ServerMessage {
        ServerMessage::Joined {
            host: state.host,
            locked: state.locked,
            you: you.id,
            name: you.name.clone(),
            polite: !peers.is_empty(),
            peers,
            token: self.tokens.issue(room, you.id, &you.name, gen),
            ice_servers: self.ice.servers_for(you.id, SystemTime::now()),
            ice_transport_policy: self.ice.policy,
            max_file_bytes: self.max_file_bytes,
            upload_budget: self.upload_budget,
        }
    }

    /// What a socket that held `you`'s seat is told when another takes it: `seat_taken`,
    /// with the token of attachment `gen` to take the call back.
    pub(super) fn seat_taken(&self, room: &str, you: &PeerInfo, gen: u64) -> Utf8Bytes {
        let token = self.tokens.issue(room, you.id, &you.name, gen);
        encode(&ServerMessage::SeatTaken { token })
    }

    /// What `you` is told on taking their seat back, as its attachment `gen`.
    pub(super) fn resumed(
        &self,
        room: &str,
        you: &PeerInfo,
        gen: u64,
        peers: Vec<PeerInfo>,
        state: RoomState,
    ) -> ServerMessage {
        ServerMessage::Resumed {
            host: state.host,
            locked: state.locked,
            you: you.id,
            peers,
            token: self.tokens.issue(room, you.id, &you.name, gen),
            ice_servers: self.ice.servers_for(you.id, SystemTime::now()),
            ice_transport_policy: self.ice.policy,
            max_file_bytes: self.max_file_bytes,
            upload_budget: self.upload_budget,
        }
    }
}

/// Why `join` or `resume` gave no seat.
#[derive(Debug, PartialEq, Eq)]
pub enum NoSeat {
    /// Refused, with the code the client is told.
    Refused(ErrorCode),
    /// The client's own mailbox is full of messages it has not read: it is not reading,
    /// and the full mailbox has already kicked its connection. Nothing more can be said.
    NotReading,
    /// The room is locked: the client waits at its door (told `waiting`; the host is
    /// told `knock`).
    Waiting(Knocking),
}

impl From<ErrorCode> for NoSeat {
    fn from(code: ErrorCode) -> NoSeat {
        NoSeat::Refused(code)
    }
}

/// A seat just taken by `join`, and how many people the room holds with it.
#[derive(Debug, PartialEq, Eq)]
pub struct Admitted {
    pub seat: Seat,
    pub people: usize,
}

pub struct Rooms {
    rooms: Mutex<HashMap<String, Room>>,
    rules: RoomRules,
}

impl Rooms {
    pub fn new(rules: RoomRules) -> Rooms {
        Rooms {
            rooms: Mutex::new(HashMap::new()),
            rules,
        }
    }

    /// Seats a new participant, sends it `joined` and tells the others `peer_joined`; or,
    /// if the room is locked, has them wait at its door (`waiting`, and `knock` to the
    /// host). `name` and `room` must already be validated; `address` is where the
    /// connection comes from, grouped as for the per-address limit.
    pub fn join(
        &self,
        room: &str,
        name: &str,
        mailbox: &Mailbox,
        address: Option<IpAddr>,
    ) -> Result<Admitted, NoSeat> {
        let mut rooms = self.lock();
        let members = rooms.entry(room.to_owned()).or_default();
        if members.locked() {
            return Err(knock(members, room, name, mailbox, address));
        }
        if members.len() >= self.rules.capacity {
            return Err(NoSeat::Refused(ErrorCode::RoomFull));
        }
        self.admit(&mut rooms, room, name, mailbox, false)
    }

    /// How `knocking` stands; a seat the host gave it is the connection's from now on.
    pub fn knock_outcome(&self, knocking: &Knocking) -> KnockOutcome {
        let mut rooms = self.lock();
        let Some(room) = rooms.get_mut(&knocking.room) else {
            return KnockOutcome::Ended;
        };
        if room.knocks().iter().any(|k| k.id == knocking.knock) {
            return KnockOutcome::Waiting;
        }
        let Some(door) = room.door.as_mut() else {
            return KnockOutcome::Ended;
        };
        match door
            .admitted
            .iter()
            .position(|(id, _)| *id == knocking.knock)
        {
            Some(at) => KnockOutcome::Seated(door.admitted.swap_remove(at).1),
            None => KnockOutcome::Ended,
        }
    }

    /// The knocking connection gave up (`leave`) or closed: the host is told. If the host
    /// had let it in meanwhile, the seat is returned, for the connection to leave or hold.
    pub fn withdraw_knock(&self, knocking: &Knocking) -> Option<Seat> {
        match self.end_knock(knocking, None) {
            KnockOutcome::Seated(seat) => Some(seat),
            KnockOutcome::Waiting | KnockOutcome::Ended => None,
        }
    }

    /// Nobody let `knocking` in in time: it is told (`knock_expired`), and so is the host.
    pub fn expire_knock(&self, knocking: &Knocking) {
        self.end_knock(knocking, Some(door::expired()));
    }

    /// Ends `knocking`'s wait, telling its connection `told` if given, and the host; or,
    /// if it was let in, hands its seat over.
    fn end_knock(&self, knocking: &Knocking, told: Option<ServerMessage>) -> KnockOutcome {
        let mut rooms = self.lock();
        let Some(room) = rooms.get_mut(&knocking.room) else {
            return KnockOutcome::Ended;
        };
        let Some(at) = room.knocks().iter().position(|k| k.id == knocking.knock) else {
            drop(rooms);
            return self.knock_outcome(knocking);
        };
        let knock = room.door().knocks.remove(at);
        if let Some(told) = told {
            knock.mailbox.post(encode(&told));
            knock.mailbox.door_answered();
        }
        tell_host(room, &ServerMessage::KnockEnded { knock: knock.id });
        KnockOutcome::Ended
    }

    /// Seats `name` in `room` (which has room for them) under a new id: `joined` to them,
    /// `peer_joined` to the others.
    fn admit(
        &self,
        rooms: &mut HashMap<String, Room>,
        room: &str,
        name: &str,
        mailbox: &Mailbox,
        as_host: bool,
    ) -> Result<Admitted, NoSeat> {
        let members = rooms.entry(room.to_owned()).or_default();
        let info = PeerInfo {
            id: fresh_id(members),
            name: distinct_name(name, members.iter().map(|m| m.info.name.as_str())),
        };
        // The first in a room hosts it (the newcomer is the latest: nobody else's place
        // changes).
        let host = match as_host {
            true => info.id,
            false => members.host().unwrap_or(info.id),
        };
        let state = RoomState {
            host: Some(host),
            locked: members.locked(),
        };
        let joined = self.rules.joined(
            room,
            &info,
            0,
            members.iter().map(|m| m.info.clone()).collect(),
            state,
        );
        // Sent under the lock so that `joined` is queued before anything a peer sends us.
        if !mailbox.post(encode(&joined)) {
            if members.is_empty() {
                rooms.remove(room);
            }
            return Err(NoSeat::NotReading);
        }
        let announce = ServerMessage::PeerJoined {
            peer: info.clone(),
            polite: false,
        };
        let unreachable = send_to_all(members, encode(&announce));
        let seat = Seat {
            room: room.to_owned(),
            id: info.id,
            epoch: 0,
        };
        // Rooms are small (six at most by default): grown one seat at a time, a room of
        // two holds two, not the four a doubling Vec would (an idle seat's memory counts).
        members.reserve_exact(1);
        if as_host {
            members.chosen = Some(info.id);
        }
        members.push(Member {
            info,
            at: Attachment::new(mailbox),
        });
        let people = members.len();
        remove_members(rooms, room, unreachable);
        Ok(Admitted { seat, people })
    }

    /// Gives the seat named by `token` to this connection: sends `resumed` (with the next
    /// token: this one no longer works), then whatever waited for it. Nobody else is told;
    /// to them the person never left.
    ///
    /// One seat, one socket: a connection still holding the seat is told `seat_taken` and
    /// closed. And when the resuming page is `fresh` (it has no connections to the others:
    /// a reload, another tab), the seat is given back under a new id, as `joined`, and the
    /// others are told that the old id left and the new one arrived, so that everyone
    /// connects to the page that now holds it.
    pub fn resume(&self, token: &str, fresh: bool, mailbox: &Mailbox) -> Result<Seat, NoSeat> {
        let claim = self.rules.tokens.verify(token)?;
        let mut rooms = self.lock();
        let members = rooms.entry(claim.room.clone()).or_default();
        let index = match members.iter().position(|m| m.info.id == claim.id) {
            // Used already: the seat moved on to a later token.
            Some(index) if members[index].at.epoch() != claim.gen => {
                return Err(NoSeat::Refused(ErrorCode::InvalidToken))
            }
            Some(index) if fresh => {
                return self.move_seat(&mut rooms, &claim.room, index, mailbox);
            }
            Some(index) => index,
            // This process seated it, and it is gone: given up, or timed out.
            None if self.rules.tokens.issued_here(&claim) => {
                if members.is_empty() {
                    rooms.remove(&claim.room);
                }
                return Err(NoSeat::Refused(ErrorCode::ResumeExpired));
            }
            // Seated before a restart: take it back, if there is still room.
            None if members.len() >= self.rules.capacity => {
                return Err(NoSeat::Refused(ErrorCode::RoomFull))
            }
            None => {
                members.push(Member {
                    info: PeerInfo {
                        id: claim.id,
                        name: claim.name.clone(),
                    },
                    at: Attachment::vacant(claim.gen),
                });
                // After a restart, the first one back hosts the room (the earliest there).
                if fresh {
                    let index = members.len() - 1;
                    return self.move_seat(&mut rooms, &claim.room, index, mailbox);
                }
                members.len() - 1
            }
        };
        let resumed = self.rules.resumed(
            &claim.room,
            &members[index].info,
            members[index].at.epoch() + 1,
            members
                .iter()
                .filter(|m| m.info.id != claim.id)
                .map(|m| m.info.clone())
                .collect(),
            RoomState {
                host: members.host(),
                locked: members.locked(),
            },
        );
        let Member { info, at } = &mut members[index];
        let gen = at.epoch() + 1;
        let take_back = || self.rules.seat_taken(&claim.room, info, gen);
        let Some(epoch) = at.take_over(mailbox, encode(&resumed), take_back) else {
            remove_members(&mut rooms, &claim.room, vec![claim.id]);
            return Err(NoSeat::NotReading);
        };
        // A host back: who waits at the door, again.
        if members.host() == Some(claim.id) {
            tell_host_of_knocks(members);
        }
        Ok(Seat {
            room: claim.room,
            id: claim.id,
            epoch,
        })
    }

    /// Gives the seat of member `index` of `room` to the page on `mailbox` under a new id
    /// (see [`Rooms::resume`]): the others hear that the old id left and the new one came;
    /// a socket still holding the old seat is told `seat_taken`, with a token to take the
    /// call back, and closed.
    fn move_seat(
        &self,
        rooms: &mut HashMap<String, Room>,
        room: &str,
        index: usize,
        mailbox: &Mailbox,
    ) -> Result<Seat, NoSeat> {
        let members = rooms.entry(room.to_owned()).or_default();
        // The host stays host under the new id.
        let was_host = members.host() == Some(members[index].info.id);
        let old = members.remove(index);
        let left = encode(&ServerMessage::PeerLeft { peer: old.info.id });
        let mut unreachable = send_to_all(members, left);
        let admitted = self.admit(rooms, room, &old.info.name, mailbox, was_host);
        if let (true, Ok(admitted), Some(members)) = (was_host, &admitted, rooms.get_mut(room)) {
            let news = encode(&ServerMessage::Host {
                peer: admitted.seat.id,
            });
            unreachable.extend(send_to_others(members, Some(admitted.seat.id), news));
            // A host back: who waits at the door, again (as on a resume in place).
            tell_host_of_knocks(members);
        }
        let take_back = admitted.as_ref().ok().map(|admitted| {
            let seated = PeerInfo {
                id: admitted.seat.id,
                name: old.info.name.clone(),
            };
            self.rules.seat_taken(room, &seated, 0)
        });
        old.at.give_way(take_back);
        // Moved or not, the others were last told the old seat hosts: if the new one was
        // not seated after all, the next host is announced.
        let announced = match &admitted {
            Ok(admitted) if was_host => Some(admitted.seat.id),
            _ => was_host.then_some(old.info.id),
        };
        match announced {
            Some(host) => remove_members_since(rooms, room, unreachable, Some(host)),
            None => remove_members(rooms, room, unreachable),
        }
        admitted.map(|admitted| admitted.seat)
    }

    /// Carries out a host command from `seat`: refused with `not_host` unless `seat` is
    /// the room's host, with `unknown_peer` unless it names someone else in the room, and
    /// with `unknown_knock` unless it names someone waiting at the door.
    pub fn host_command(&self, seat: &Seat, command: HostCommand) -> Result<(), ErrorCode> {
        let mut rooms = self.lock();
        let members = rooms.get_mut(&seat.room).ok_or(ErrorCode::NotJoined)?;
        if !members.iter().any(|m| holds(m, seat)) {
            return Err(ErrorCode::NotJoined);
        }
        if members.host() != Some(seat.id) {
            return Err(ErrorCode::NotHost);
        }
        let host_name = members
            .iter()
            .find(|m| m.info.id == seat.id)
            .map(|m| m.info.name.clone())
            .unwrap_or_default();
        let unreachable = match command {
            HostCommand::Lock(locked) => {
                if members.locked() == locked {
                    return Ok(());
                }
                members.door().locked = locked;
                send_to_all(members, encode(&ServerMessage::Locked { locked }))
            }
            HostCommand::Deny(knock) => {
                let at = members
                    .knocks()
                    .iter()
                    .position(|k| k.id == knock)
                    .ok_or(ErrorCode::UnknownKnock)?;
                let knock = members.door().knocks.remove(at);
                knock.mailbox.post(encode(&door::denied(Some(&host_name))));
                knock.mailbox.door_answered();
                tell_host(members, &ServerMessage::KnockEnded { knock: knock.id });
                Vec::new()
            }
            HostCommand::Admit(knock) => {
                let at = members
                    .knocks()
                    .iter()
                    .position(|k| k.id == knock)
                    .ok_or(ErrorCode::UnknownKnock)?;
                if members.len() >= self.rules.capacity {
                    return Err(ErrorCode::RoomFull);
                }
                let knock = members.door().knocks.remove(at);
                tell_host(members, &ServerMessage::KnockEnded { knock: knock.id });
                // Seated like any newcomer; their connection is told first (it takes the
                // seat under this lock, so before it can write `joined`).
                knock.mailbox.door_answered();
                if let Ok(admitted) =
                    self.admit(&mut rooms, &seat.room, &knock.name, &knock.mailbox, false)
                {
                    if let Some(room) = rooms.get_mut(&seat.room) {
                        room.door().admitted.push((knock.id, admitted.seat));
                    }
                }
                Vec::new()
            }
            HostCommand::AskToMute(peer)
            | HostCommand::Remove(peer)
            | HostCommand::MakeHost(peer) => {
                let target = members
                    .iter_mut()
                    .find(|m| m.info.id == peer && peer != seat.id)
                    .ok_or(ErrorCode::UnknownPeer)?;
                match command {
                    HostCommand::AskToMute(_) => {
                        let ask = encode(&ServerMessage::MuteRequest { by: seat.id });
                        if target.at.deliver_news(ask) {
                            Vec::new()
                        } else {
                            vec![peer]
                        }
                    }
                    HostCommand::Remove(_) => {
                        target
                            .at
                            .removed(encode(&ServerMessage::Removed { by: seat.id }));
                        vec![peer]
                    }
                    _ => {
                        members.chosen = Some(peer);
                        let told = send_to_all(members, encode(&ServerMessage::Host { peer }));
                        tell_host_of_knocks(members);
                        told
                    }
                }
            }
        };
        remove_members(&mut rooms, &seat.room, unreachable);
        Ok(())
    }

    /// Who hosts `room`, if anyone is in it.
    pub fn host(&self, room: &str) -> Option<PeerId> {
        self.lock().get(room).and_then(Room::host)
    }

    /// A fresh token for `seat`, if this connection still holds it.
    pub fn fresh_token(&self, seat: &Seat) -> Option<String> {
        let rooms = self.lock();
        let member = rooms.get(&seat.room)?.iter().find(|m| holds(m, seat))?;
        Some(
            self.rules
                .tokens
                .issue(&seat.room, seat.id, &member.info.name, seat.epoch),
        )
    }

    /// Delivers `signal` from `seat` to peer `to` in the same room.
    pub fn relay(&self, seat: &Seat, to: PeerId, signal: Signal) -> Result<(), ErrorCode> {
        let mut rooms = self.lock();
        let members = rooms.get_mut(&seat.room).ok_or(ErrorCode::NotJoined)?;
        if !members.iter().any(|m| holds(m, seat)) {
            return Err(ErrorCode::NotJoined);
        }
        let target = members
            .iter_mut()
            .find(|m| m.info.id == to && to != seat.id)
            .ok_or(ErrorCode::UnknownPeer)?;
        let message = ServerMessage::Signal {
            from: seat.id,
            signal,
        };
        // A slow reader keeps its seat: it is the sender who waits.
        target
            .at
            .deliver_signal(seat.id, encode(&message))
            .map_err(|Busy| ErrorCode::PeerBusy)
    }

    /// The connection holding `seat` dropped: keep the seat for a resume, with the
    /// connection's per-address `slot`. Returns whether it was detached (false if a newer
    /// connection holds it, or it is gone).
    pub fn detach(&self, seat: &Seat, slot: Option<IpSlot>) -> bool {
        let mut rooms = self.lock();
        let member = rooms
            .get_mut(&seat.room)
            .and_then(|members| members.iter_mut().find(|m| holds(m, seat)));
        match member {
            Some(member) => {
                member.at.detach(slot);
                true
            }
            None => false,
        }
    }

    /// The grace period of a detached seat ran out: free it and tell the others. Does
    /// nothing if it was resumed meanwhile.
    pub fn expire(&self, seat: &Seat) {
        let mut rooms = self.lock();
        let still_detached = rooms
            .get(&seat.room)
            .and_then(|members| members.iter().find(|m| holds(m, seat)))
            .is_some_and(|m| m.at.is_detached());
        if still_detached {
            remove_members(&mut rooms, &seat.room, vec![seat.id]);
        }
    }

    /// Frees the seat and tells the others. Leaving twice is harmless.
    pub fn leave(&self, seat: &Seat) {
        let mut rooms = self.lock();
        let holder = rooms
            .get(&seat.room)
            .is_some_and(|members| members.iter().any(|m| holds(m, seat)));
        if holder {
            remove_members(&mut rooms, &seat.room, vec![seat.id]);
        }
    }

    /// How many rooms have anyone in them.
    #[cfg(test)]
    pub fn room_count(&self) -> usize {
        self.lock().len()
    }

    /// Rooms, and seats taken in them (held ones included).
    pub fn counts(&self) -> (usize, usize) {
        let rooms = self.lock();
        (rooms.len(), rooms.values().map(|room| room.len()).sum())
    }

    /// Who is in `room`, in join order.
    pub fn members(&self, room: &str) -> Vec<PeerInfo> {
        self.lock()
            .get(room)
            .map(|members| members.iter().map(|m| m.info.clone()).collect())
            .unwrap_or_default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Room>> {
        // A panic elsewhere must not take every room down with it; the map stays consistent
        // because each operation finishes its change before anything can panic.
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether `member` is the seat as this connection holds it (same id, same attachment).
fn holds(member: &Member, seat: &Seat) -> bool {
    member.info.id == seat.id && member.at.is(seat)
}

/// A random id, not in use in the room. Random rather than counted so that ids issued
/// before a restart cannot collide with ids issued after it. Kept below 2^53 so that
/// JavaScript numbers hold it exactly.
fn fresh_id(members: &[Member]) -> PeerId {
    loop {
        let id = PeerId(rand::random::<u64>() >> 11);
        if !members.iter().any(|m| m.info.id == id) {
            return id;
        }
    }
}

/// Has `name` wait at the door of locked `room` (see [`Rooms::join`]).
fn knock(
    room: &mut Room,
    room_name: &str,
    name: &str,
    mailbox: &Mailbox,
    address: Option<IpAddr>,
) -> NoSeat {
    let waiting = room.knocks().len();
    let from_there = room
        .knocks()
        .iter()
        .filter(|k| address.is_some() && k.address == address)
        .count();
    let (now, limits) = (Instant::now(), &mut room.door().limits);
    if let Err(code) = limits.check(address, waiting, from_there, now) {
        return NoSeat::Refused(code);
    }
    limits.count(address, now);
    let id = loop {
        let id = KnockId(rand::random::<u64>() >> 11);
        if !room.knocks().iter().any(|k| k.id == id) {
            break id;
        }
    };
    let host_name = room
        .iter()
        .find(|m| Some(m.info.id) == room.host())
        .map(|m| m.info.name.clone())
        .unwrap_or_default();
    if !mailbox.post(encode(&ServerMessage::Waiting { host_name })) {
        return NoSeat::NotReading;
    }
    tell_host(
        room,
        &ServerMessage::Knock {
            knock: id,
            name: name.to_owned(),
        },
    );
    room.door().knocks.push(Knock {
        id,
        name: name.to_owned(),
        mailbox: mailbox.clone(),
        address,
    });
    NoSeat::Waiting(Knocking {
        room: room_name.to_owned(),
        knock: id,
    })
}

/// Tells the room's host `message` (a held host's seat keeps it, if it can).
fn tell_host(room: &mut Room, message: &ServerMessage) {
    let host = room.host();
    if let Some(member) = room.iter_mut().find(|m| Some(m.info.id) == host) {
        member.at.deliver_news(encode(message));
    }
}

/// Tells the room's host of everyone waiting at the door (a new host, or one back).
fn tell_host_of_knocks(room: &mut Room) {
    let knocks: Vec<ServerMessage> = room
        .knocks()
        .iter()
        .map(|k| ServerMessage::Knock {
            knock: k.id,
            name: k.name.clone(),
        })
        .collect();
    for knock in knocks {
        tell_host(room, &knock);
    }
}

/// Queues the server's `text` for every member; returns the held seats that cannot take
/// it. (A connected member that cannot is kicked for not reading, and its seat is held.)
fn send_to_all(members: &mut [Member], text: Utf8Bytes) -> Vec<PeerId> {
    send_to_others(members, None, text)
}

/// As [`send_to_all`], but not to `except`.
fn send_to_others(members: &mut [Member], except: Option<PeerId>, text: Utf8Bytes) -> Vec<PeerId> {
    members
        .iter_mut()
        .filter(|m| Some(m.info.id) != except)
        .filter_map(|m| (!m.at.deliver_news(text.clone())).then_some(m.info.id))
        .collect()
}

/// Removes `gone` from `room`, telling the rest; a held seat that cannot take that news
/// is freed too. When the host is gone, the person present longest hosts the room, and
/// everyone is told. Drops the room once empty.
fn remove_members(rooms: &mut HashMap<String, Room>, room: &str, gone: Vec<PeerId>) {
    let host = rooms.get(room).and_then(Room::host);
    remove_members_since(rooms, room, gone, host);
}

/// [`remove_members`], where the host everyone was last told of is `announced` (a seat
/// already taken out, say).
fn remove_members_since(
    rooms: &mut HashMap<String, Room>,
    room: &str,
    mut gone: Vec<PeerId>,
    mut announced: Option<PeerId>,
) {
    let Some(members) = rooms.get_mut(room) else {
        return;
    };
    loop {
        while let Some(id) = gone.pop() {
            let before = members.len();
            members.retain(|m| m.info.id != id);
            if members.len() < before {
                gone.extend(send_to_all(
                    members,
                    encode(&ServerMessage::PeerLeft { peer: id }),
                ));
            }
        }
        // A chosen seat gone is forgotten: the earliest hosts now.
        let chosen = members.chosen;
        if chosen.is_some_and(|chosen| !members.iter().any(|m| m.info.id == chosen)) {
            members.chosen = None;
        }
        let host = members.host();
        if host == announced {
            break;
        }
        announced = host;
        match host {
            Some(peer) => {
                gone = send_to_all(members, encode(&ServerMessage::Host { peer }));
                tell_host_of_knocks(members);
            }
            None => break,
        }
    }
    let here: Vec<PeerId> = members.iter().map(|m| m.info.id).collect();
    if let Some(door) = members.door.as_mut() {
        door.admitted.retain(|(_, seat)| here.contains(&seat.id));
    }
    if members.is_empty() {
        // Nobody is left to open the door.
        for knock in members
            .door
            .take()
            .map(|door| door.knocks)
            .unwrap_or_default()
        {
            knock.mailbox.post(encode(&door::everyone_left()));
            knock.mailbox.door_answered();
        }
        rooms.remove(room);
    }
}

#[cfg(test)]
mod tests {
    use super::super::mailbox::{Bounds, MAILBOX, MESSAGE_OVERHEAD};
    use super::*;
    use crate::server::room::door::{
        KNOCKS_PER_MINUTE_PER_ADDRESS, MAX_KNOCKS, MAX_KNOCKS_PER_ADDRESS,
    };
    use std::sync::Arc;

    fn rooms(capacity: usize) -> Rooms {
        Rooms::new(RoomRules {
            capacity,
            ice: IceConfig::none().into(),
            tokens: ResumeTokens::new(b"test secret", std::time::Duration::from_secs(60)),
            max_file_bytes: 1_000,
            upload_budget: 1_000_000,
        })
    }

    /// A mailbox, and a handle to read what reaches it.
    fn mailbox_of(bounds: &'static Bounds) -> (Mailbox, Mailbox) {
        let mailbox = Mailbox::new(bounds);
        (mailbox.clone(), mailbox)
    }

    fn mailbox() -> (Mailbox, Mailbox) {
        mailbox_of(&MAILBOX)
    }

    fn drain(rx: &Mailbox) -> Vec<ServerMessage> {
        std::iter::from_fn(|| rx.try_next())
            .map(|text| serde_json::from_str(&text).unwrap())
            .collect()
    }

    #[test]
    fn second_joiner_sees_the_first_and_the_first_is_told() {
        let rooms = rooms(2);
        let (a, a_rx) = mailbox();
        let (b, b_rx) = mailbox();
        let seat_a = rooms.join("r", "Alice", &a, None).unwrap().seat;
        let seat_b = rooms.join("r", "Bob", &b, None).unwrap().seat;
        assert_ne!(seat_a.id, seat_b.id);
        let a_msgs = drain(&a_rx);
        assert!(matches!(&a_msgs[0], ServerMessage::Joined { peers, .. } if peers.is_empty()));
        assert!(
            matches!(&a_msgs[1], ServerMessage::PeerJoined { peer, polite: false } if peer.name == "Bob")
        );
        let b_msgs = drain(&b_rx);
        assert!(
            matches!(&b_msgs[..], [ServerMessage::Joined { you, peers, polite: true, .. }] if *you == seat_b.id && peers[0].id == seat_a.id)
        );
    }

    #[test]
    fn capacity_is_enforced() {
        let rooms = rooms(2);
        let boxes: Vec<_> = (0..3).map(|_| mailbox()).collect();
        assert!(rooms.join("r", "a", &boxes[0].0, None).is_ok());
        assert!(rooms.join("r", "b", &boxes[1].0, None).is_ok());
        assert_eq!(
            rooms.join("r", "c", &boxes[2].0, None),
            Err(NoSeat::Refused(ErrorCode::RoomFull))
        );
        assert_eq!(rooms.members("r").len(), 2);
        // Another room is unaffected.
        assert!(rooms.join("other", "c", &boxes[2].0, None).is_ok());
    }

    #[test]
    fn simultaneous_joins_admit_exactly_capacity() {
        for capacity in [2, 6] {
            let rooms = Arc::new(rooms(capacity));
            let results: Vec<_> = (0..16)
                .map(|i| {
                    let rooms = rooms.clone();
                    std::thread::spawn(move || {
                        let (tx, rx) = mailbox();
                        (
                            rooms.join("race", &format!("p{i}"), &tx, None).is_ok(),
                            tx,
                            rx,
                        )
                    })
                })
                .map(|h| h.join().unwrap())
                .collect();
            assert_eq!(results.iter().filter(|r| r.0).count(), capacity);
            assert_eq!(rooms.members("race").len(), capacity);
        }
    }

    #[test]
    fn leave_notifies_and_empty_rooms_disappear() {
        let rooms = rooms(2);
        let (a, a_rx) = mailbox();
        let (b, _b_rx) = mailbox();
        let seat_a = rooms.join("r", "a", &a, None).unwrap().seat;
        let seat_b = rooms.join("r", "b", &b, None).unwrap().seat;
        drain(&a_rx);
        rooms.leave(&seat_b);
        assert_eq!(
            drain(&a_rx),
            vec![ServerMessage::PeerLeft { peer: seat_b.id }]
        );
        rooms.leave(&seat_b);
        assert!(drain(&a_rx).is_empty(), "leaving twice says nothing");
        assert_eq!(rooms.room_count(), 1);
        rooms.leave(&seat_a);
        assert_eq!(rooms.room_count(), 0);
        // The seat can be taken again.
        let (c, _c_rx) = mailbox();
        assert!(rooms.join("r", "c", &c, None).is_ok());
    }

    #[test]
    fn relay_reaches_only_the_addressee_in_the_same_room() {
        let rooms = rooms(3);
        let (a, _a_rx) = mailbox();
        let (b, b_rx) = mailbox();
        let (c, c_rx) = mailbox();
        let (x, x_rx) = mailbox();
        let seat_a = rooms.join("r", "a", &a, None).unwrap().seat;
        let seat_b = rooms.join("r", "b", &b, None).unwrap().seat;
        rooms.join("r", "c", &c, None).unwrap();
        let seat_x = rooms.join("elsewhere", "x", &x, None).unwrap().seat;
        drain(&b_rx);
        drain(&c_rx);
        drain(&x_rx);
        let offer = Signal::Offer { sdp: "v=0".into() };
        rooms.relay(&seat_a, seat_b.id, offer.clone()).unwrap();
        assert_eq!(
            drain(&b_rx),
            vec![ServerMessage::Signal {
                from: seat_a.id,
                signal: offer.clone()
            }]
        );
        assert!(drain(&c_rx).is_empty());
        assert_eq!(
            rooms.relay(&seat_a, seat_x.id, offer.clone()),
            Err(ErrorCode::UnknownPeer)
        );
        assert_eq!(
            rooms.relay(&seat_a, seat_a.id, offer.clone()),
            Err(ErrorCode::UnknownPeer)
        );
        assert!(drain(&x_rx).is_empty());
        rooms.leave(&seat_a);
        assert_eq!(
            rooms.relay(&seat_a, seat_b.id, offer),
            Err(ErrorCode::NotJoined)
        );
    }

    #[test]
    fn a_flooded_reader_keeps_its_seat_and_only_the_flooders_are_refused() {
        let rooms = rooms(4);
        let (reader, reader_rx) = mailbox();
        let seat_reader = rooms.join("r", "reader", &reader, None).unwrap().seat;
        let flooders: Vec<_> = (0..3)
            .map(|i| {
                let (tx, _rx) = mailbox();
                (
                    rooms.join("r", &format!("f{i}"), &tx, None).unwrap().seat,
                    tx,
                )
            })
            .collect();
        // Nobody reads `reader`'s queue: each flooder fills its own share, then is told.
        let big = Signal::Offer {
            sdp: "x".repeat(63 * 1024),
        };
        for (seat, _) in &flooders {
            let outcomes: Vec<_> = (0..60)
                .map(|_| rooms.relay(seat, seat_reader.id, big.clone()))
                .collect();
            assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 2);
            assert!(outcomes[2..].iter().all(|o| *o == Err(ErrorCode::PeerBusy)));
        }
        assert!(!reader.is_kicked(), "the reader keeps its socket");
        assert_eq!(rooms.members("r").len(), 4, "and its seat");
        assert!(reader.queued_bytes() <= MAILBOX.total);
        // Room news still reaches it, and once it reads, the flooders may send again.
        let (late, _late_rx) = mailbox();
        rooms.join("r", "late", &late, None).unwrap_err();
        drain(&reader_rx);
        assert_eq!(rooms.relay(&flooders[0].0, seat_reader.id, big), Ok(()));
    }

    #[test]
    fn a_reader_that_cannot_take_the_news_is_kicked_and_its_seat_held() {
        let rooms = rooms(2);
        // Room for `joined` (about 350 bytes), not for `peer_joined` after it.
        const TINY: Bounds = Bounds {
            total: 500,
            reserved: 80,
        };
        let (a, _a_rx) = mailbox();
        let (slow, slow_rx) = mailbox_of(&TINY);
        let seat_slow = rooms.join("r", "slow", &slow, None).unwrap().seat;
        assert!(!slow.is_kicked());
        let seat_a = rooms.join("r", "a", &a, None).unwrap().seat;
        // `joined` filled the part kept for the server; `peer_joined` did not fit.
        assert!(slow.is_kicked(), "its connection is told to go");
        assert_eq!(
            rooms.members("r").len(),
            2,
            "but the seat waits for a resume"
        );
        assert!(rooms.detach(&seat_slow, None));
        let answer = Signal::Answer { sdp: String::new() };
        assert_eq!(rooms.relay(&seat_a, seat_slow.id, answer), Ok(()));
        assert!(matches!(
            &drain(&slow_rx)[..],
            [ServerMessage::Joined { .. }]
        ));
    }

    #[test]
    fn a_held_seat_keeps_a_bounded_backlog_and_refuses_the_sender_past_it() {
        let rooms = rooms(2);
        let (a, a_rx) = mailbox();
        let (b, _b_rx) = mailbox();
        let seat_a = rooms.join("r", "a", &a, None).unwrap().seat;
        let seat_b = rooms.join("r", "b", &b, None).unwrap().seat;
        drain(&a_rx);
        assert!(rooms.detach(&seat_b, None));
        let candidate = Signal::Candidate {
            candidate: "c".repeat(1000),
            sdp_mid: None,
            sdp_m_line_index: None,
        };
        let accepted = (0..100)
            .take_while(|_| rooms.relay(&seat_a, seat_b.id, candidate.clone()).is_ok())
            .count();
        let each = encode(&ServerMessage::Signal {
            from: seat_a.id,
            signal: candidate.clone(),
        })
        .len()
            + MESSAGE_OVERHEAD;
        assert_eq!(accepted, HELD.share() / each);
        assert_eq!(
            rooms.relay(&seat_a, seat_b.id, candidate),
            Err(ErrorCode::PeerBusy)
        );
        assert_eq!(rooms.members("r").len(), 2);
        assert!(drain(&a_rx).is_empty(), "a never hears that b was gone");
    }

    /// Joins and returns the seat and its resume token.
    fn join_with_token(rooms: &Rooms, room: &str, name: &str) -> (Seat, String, Mailbox) {
        let (tx, rx) = mailbox();
        let seat = rooms.join(room, name, &tx, None).unwrap().seat;
        let first = rx
            .try_next()
            .map(|text| serde_json::from_str(&text).unwrap());
        let token = match first {
            Some(ServerMessage::Joined { token, .. }) => token,
            other => panic!("{other:?}"),
        };
        (seat, token, rx)
    }

    #[test]
    fn a_detached_seat_is_resumed_silently_with_what_waited_for_it() {
        let rooms = rooms(2);
        let (seat_a, _, a_rx) = join_with_token(&rooms, "r", "a");
        let (seat_b, token_b, _old_b_rx) = join_with_token(&rooms, "r", "b");
        drain(&a_rx);
        assert!(rooms.detach(&seat_b, None));
        let offer = Signal::Offer { sdp: "v=0".into() };
        rooms.relay(&seat_a, seat_b.id, offer.clone()).unwrap();
        let (b2, b2_rx) = mailbox();
        let resumed = rooms.resume(&token_b, false, &b2).unwrap();
        assert_eq!(resumed.id, seat_b.id);
        let mut got = drain(&b2_rx);
        let ServerMessage::Resumed { token, .. } = &mut got[0] else {
            panic!("{got:?}");
        };
        let next_token = std::mem::take(token);
        assert_ne!(
            next_token, token_b,
            "a token works once: the next one comes along"
        );
        assert_eq!(
            got,
            vec![
                ServerMessage::Resumed {
                    you: seat_b.id,
                    token: String::new(),
                    peers: vec![PeerInfo {
                        id: seat_a.id,
                        name: "a".into()
                    }],
                    ice_servers: vec![],
                    ice_transport_policy: Default::default(),
                    max_file_bytes: 1_000,
                    upload_budget: 1_000_000,
                    host: Some(seat_a.id),
                    locked: false,
                },
                ServerMessage::Signal {
                    from: seat_a.id,
                    signal: offer
                },
            ]
        );
        assert!(drain(&a_rx).is_empty(), "a never heard that b was gone");
        rooms
            .relay(&resumed, seat_a.id, Signal::Answer { sdp: "v=0".into() })
            .unwrap();
        assert_eq!(drain(&a_rx).len(), 1);
    }

    #[test]
    fn an_expired_seat_tells_the_others_and_cannot_be_resumed() {
        let rooms = rooms(2);
        let (_, _, a_rx) = join_with_token(&rooms, "r", "a");
        let (seat_b, token_b, _b_rx) = join_with_token(&rooms, "r", "b");
        drain(&a_rx);
        rooms.detach(&seat_b, None);
        rooms.expire(&seat_b);
        assert_eq!(
            drain(&a_rx),
            vec![ServerMessage::PeerLeft { peer: seat_b.id }]
        );
        let (b2, _b2_rx) = mailbox();
        assert_eq!(
            rooms.resume(&token_b, false, &b2),
            Err(NoSeat::Refused(ErrorCode::ResumeExpired))
        );
        assert_eq!(
            rooms.resume("forged.token", false, &b2),
            Err(NoSeat::Refused(ErrorCode::InvalidToken))
        );
        // A left seat is just as gone.
        let (seat_c, token_c, _c_rx) = join_with_token(&rooms, "r", "c");
        rooms.leave(&seat_c);
        assert_eq!(
            rooms.resume(&token_c, false, &b2),
            Err(NoSeat::Refused(ErrorCode::ResumeExpired))
        );
    }

    #[test]
    fn a_stale_connection_cannot_touch_a_resumed_seat() {
        let rooms = rooms(2);
        let (_, _, a_rx) = join_with_token(&rooms, "r", "a");
        let (old, token, _old_rx) = join_with_token(&rooms, "r", "b");
        drain(&a_rx);
        // The new connection resumes before the server noticed the old one was dead.
        let (b2, _b2_rx) = mailbox();
        let current = rooms.resume(&token, false, &b2).unwrap();
        assert!(!rooms.detach(&old, None));
        rooms.leave(&old);
        rooms.expire(&old);
        assert!(drain(&a_rx).is_empty());
        assert_eq!(rooms.members("r").len(), 2);
        assert_eq!(
            rooms.relay(&old, current.id, Signal::Answer { sdp: String::new() }),
            Err(ErrorCode::NotJoined)
        );
        // The resumed seat still expires normally.
        rooms.detach(&current, None);
        rooms.expire(&current);
        assert_eq!(
            drain(&a_rx),
            vec![ServerMessage::PeerLeft { peer: current.id }]
        );
    }

    #[test]
    fn after_a_restart_seats_come_back_with_their_ids() {
        let before = rooms(2);
        let (seat_a, token_a, _) = join_with_token(&before, "r", "a");
        let (seat_b, token_b, _) = join_with_token(&before, "r", "b");
        let after = rooms(2);
        let (a, a_rx) = mailbox();
        let (b, b_rx) = mailbox();
        assert_eq!(after.resume(&token_a, false, &a).unwrap().id, seat_a.id);
        assert!(
            matches!(&drain(&a_rx)[..], [ServerMessage::Resumed { peers, .. }] if peers.is_empty())
        );
        assert_eq!(after.resume(&token_b, false, &b).unwrap().id, seat_b.id);
        assert!(
            matches!(&drain(&b_rx)[..], [ServerMessage::Resumed { peers, .. }] if peers[0].id == seat_a.id)
        );
        assert!(drain(&a_rx).is_empty(), "a resume is not a join");
        let (c, _c_rx) = mailbox();
        assert_eq!(
            after.join("r", "c", &c, None),
            Err(NoSeat::Refused(ErrorCode::RoomFull))
        );
    }

    #[test]
    fn the_first_in_a_room_hosts_it_and_the_one_there_longest_follows_a_host_who_leaves() {
        let rooms = rooms(4);
        let (a, a_rx) = mailbox();
        let (b, b_rx) = mailbox();
        let (c, c_rx) = mailbox();
        let seat_a = rooms.join("r", "a", &a, None).unwrap().seat;
        let seat_b = rooms.join("r", "b", &b, None).unwrap().seat;
        let seat_c = rooms.join("r", "c", &c, None).unwrap().seat;
        for (rx, whose) in [(&a_rx, "a"), (&b_rx, "b"), (&c_rx, "c")] {
            let joined = drain(rx).remove(0);
            assert!(
                matches!(joined, ServerMessage::Joined { host: Some(host), .. } if host == seat_a.id),
                "{whose} is told a hosts"
            );
        }
        rooms.leave(&seat_a);
        for rx in [&b_rx, &c_rx] {
            assert_eq!(
                drain(rx),
                [
                    ServerMessage::PeerLeft { peer: seat_a.id },
                    ServerMessage::Host { peer: seat_b.id }
                ]
            );
        }
        // A host whose socket dropped stays host while the seat is held.
        assert!(rooms.detach(&seat_b, None));
        rooms.expire(&seat_b);
        assert_eq!(
            drain(&c_rx),
            [
                ServerMessage::PeerLeft { peer: seat_b.id },
                ServerMessage::Host { peer: seat_c.id }
            ]
        );
    }

    #[test]
    fn each_host_command_is_the_host_s_alone_and_about_someone_else_in_the_room() {
        let rooms = rooms(4);
        let (a, a_rx) = mailbox();
        let (b, b_rx) = mailbox();
        let (c, c_rx) = mailbox();
        let seat_a = rooms.join("r", "a", &a, None).unwrap().seat;
        let seat_b = rooms.join("r", "b", &b, None).unwrap().seat;
        let seat_c = rooms.join("r", "c", &c, None).unwrap().seat;
        let mut elsewhere = seat_a.clone();
        elsewhere.room = "other".into();
        for command in [
            HostCommand::MakeHost(seat_c.id),
            HostCommand::Remove(seat_c.id),
            HostCommand::AskToMute(seat_c.id),
        ] {
            assert_eq!(
                rooms.host_command(&seat_b, command),
                Err(ErrorCode::NotHost)
            );
            assert_eq!(
                rooms.host_command(&elsewhere, command),
                Err(ErrorCode::NotJoined)
            );
        }
        for peer in [seat_a.id, PeerId(4242)] {
            assert_eq!(
                rooms.host_command(&seat_a, HostCommand::Remove(peer)),
                Err(ErrorCode::UnknownPeer)
            );
        }
        for rx in [&a_rx, &b_rx, &c_rx] {
            drain(rx);
        }
        // Asked to mute: only that person hears it.
        rooms
            .host_command(&seat_a, HostCommand::AskToMute(seat_b.id))
            .unwrap();
        assert_eq!(drain(&b_rx), [ServerMessage::MuteRequest { by: seat_a.id }]);
        assert!(drain(&a_rx).is_empty() && drain(&c_rx).is_empty());
        // Removed: told by whom, then the connection is ended; the others hear they left.
        rooms
            .host_command(&seat_a, HostCommand::Remove(seat_c.id))
            .unwrap();
        assert_eq!(drain(&c_rx), [ServerMessage::Removed { by: seat_a.id }]);
        assert!(c.is_kicked());
        for rx in [&a_rx, &b_rx] {
            assert_eq!(drain(rx), [ServerMessage::PeerLeft { peer: seat_c.id }]);
        }
        // Handed over: everyone is told, and the old host is not host any more.
        rooms
            .host_command(&seat_a, HostCommand::MakeHost(seat_b.id))
            .unwrap();
        for rx in [&a_rx, &b_rx] {
            assert_eq!(drain(rx), [ServerMessage::Host { peer: seat_b.id }]);
        }
        assert_eq!(
            rooms.host_command(&seat_a, HostCommand::MakeHost(seat_b.id)),
            Err(ErrorCode::NotHost)
        );
    }

    #[test]
    fn a_host_who_takes_their_seat_back_as_a_fresh_page_still_hosts() {
        let rooms = rooms(4);
        let (seat_a, token_a, _a_rx) = join_with_token(&rooms, "r", "a");
        let (b, b_rx) = mailbox();
        rooms.join("r", "b", &b, None).unwrap();
        drain(&b_rx);
        let (again, again_rx) = mailbox();
        let moved = rooms.resume(&token_a, true, &again).unwrap();
        assert!(matches!(
            &drain(&again_rx)[..],
            [ServerMessage::Joined { host: Some(host), .. }] if *host == moved.id
        ));
        assert_eq!(
            drain(&b_rx),
            [
                ServerMessage::PeerLeft { peer: seat_a.id },
                ServerMessage::PeerJoined {
                    peer: PeerInfo {
                        id: moved.id,
                        name: "a".into()
                    },
                    polite: false
                },
                ServerMessage::Host { peer: moved.id }
            ]
        );
    }

    /// A host who comes back as a fresh page (a reload, another tab) under a new id is
    /// told who waits at the door, as a host back on the same id is (it was not: the
    /// page lost its prompts, and nobody could let the waiting person in).
    #[test]
    fn a_host_back_as_a_fresh_page_hears_who_waits_at_the_door() {
        let rooms = rooms(4);
        let (seat_a, token_a, a_rx) = join_with_token(&rooms, "r", "Alice");
        rooms
            .host_command(&seat_a, HostCommand::Lock(true))
            .unwrap();
        let (d, _d_rx) = mailbox();
        let Err(NoSeat::Waiting(_)) = rooms.join("r", "Dave", &d, None) else {
            panic!("a locked room seats nobody");
        };
        let knock = knock_of(&drain(&a_rx)[1..]);
        let (again, again_rx) = mailbox();
        rooms.resume(&token_a, true, &again).unwrap();
        let told = drain(&again_rx);
        assert!(
            told.iter().any(|m| matches!(m, ServerMessage::Knock { knock: k, name } if *k == knock && name == "Dave")),
            "{told:?}"
        );
    }

    /// A host whose fresh page could not even take `joined` (its mailbox refused it): the
    /// seat is gone, and the others are told who hosts now (they were not: the one there
    /// longest hosted silently, with no controls on their page).
    #[test]
    fn a_host_lost_in_a_failed_fresh_move_is_followed_and_everyone_told() {
        let rooms = rooms(4);
        let (_, token_a, _a_rx) = join_with_token(&rooms, "r", "Alice");
        let (b, b_rx) = mailbox();
        let seat_b = rooms.join("r", "Bob", &b, None).unwrap().seat;
        drain(&b_rx);
        const NONE: Bounds = Bounds {
            total: 16,
            reserved: 16,
        };
        let (full, _full_rx) = mailbox_of(&NONE);
        assert!(matches!(
            rooms.resume(&token_a, true, &full),
            Err(NoSeat::NotReading)
        ));
        let told = drain(&b_rx);
        assert_eq!(
            told.last(),
            Some(&ServerMessage::Host { peer: seat_b.id }),
            "{told:?}"
        );
        assert_eq!(rooms.host("r"), Some(seat_b.id));
    }

    /// `rx`'s messages, decoded, without those `joined` carries a token in.
    fn knock_of(messages: &[ServerMessage]) -> KnockId {
        match messages {
            [ServerMessage::Knock { knock, .. }] => *knock,
            other => panic!("expected one knock, got {other:?}"),
        }
    }

    fn error_code(messages: &[ServerMessage]) -> Option<ErrorCode> {
        match messages {
            [ServerMessage::Error { code, .. }] => Some(*code),
            _ => None,
        }
    }

    #[test]
    fn at_a_locked_room_newcomers_wait_and_the_host_lets_them_in_or_not() {
        let rooms = rooms(4);
        let (a, a_rx) = mailbox();
        let (b, b_rx) = mailbox();
        let seat_a = rooms.join("r", "Alice", &a, None).unwrap().seat;
        let seat_b = rooms.join("r", "Bob", &b, None).unwrap().seat;
        drain(&a_rx);
        drain(&b_rx);
        assert_eq!(
            rooms.host_command(&seat_b, HostCommand::Lock(true)),
            Err(ErrorCode::NotHost)
        );
        rooms
            .host_command(&seat_a, HostCommand::Lock(true))
            .unwrap();
        for rx in [&a_rx, &b_rx] {
            assert_eq!(drain(rx), [ServerMessage::Locked { locked: true }]);
        }
        // Dave knocks: he is told whom he waits for, only the host hears of him.
        let (d, d_rx) = mailbox();
        let Err(NoSeat::Waiting(dave)) = rooms.join("r", "Dave", &d, None) else {
            panic!("a locked room seats nobody");
        };
        assert_eq!(
            drain(&d_rx),
            [ServerMessage::Waiting {
                host_name: "Alice".into()
            }]
        );
        let knock = knock_of(&drain(&a_rx));
        assert_eq!(knock, dave.knock);
        assert!(
            drain(&b_rx).is_empty(),
            "nobody but the host knows of a knock"
        );
        assert_eq!(rooms.members("r").len(), 2, "no seat taken");
        assert_eq!(rooms.knock_outcome(&dave), KnockOutcome::Waiting);
        // Admitted: seated as any newcomer; his connection takes the seat.
        assert_eq!(
            rooms.host_command(&seat_b, HostCommand::Admit(knock)),
            Err(ErrorCode::NotHost)
        );
        rooms
            .host_command(&seat_a, HostCommand::Admit(knock))
            .unwrap();
        let joined = drain(&d_rx);
        assert!(
            matches!(&joined[..], [ServerMessage::Joined { peers, locked: true, .. }] if peers.len() == 2),
            "{joined:?}"
        );
        assert!(matches!(
            &drain(&a_rx)[..],
            [
                ServerMessage::KnockEnded { .. },
                ServerMessage::PeerJoined { .. }
            ]
        ));
        assert!(matches!(
            &drain(&b_rx)[..],
            [ServerMessage::PeerJoined { .. }]
        ));
        let KnockOutcome::Seated(seat_d) = rooms.knock_outcome(&dave) else {
            panic!("admitted, no seat");
        };
        assert!(rooms.fresh_token(&seat_d).is_some());
        assert_eq!(
            rooms.host_command(&seat_a, HostCommand::Admit(knock)),
            Err(ErrorCode::UnknownKnock),
            "a knock is answered once"
        );
        // Eve knocks and is turned away, by name.
        let (e, e_rx) = mailbox();
        let Err(NoSeat::Waiting(eve)) = rooms.join("r", "Eve", &e, None) else {
            panic!("a locked room seats nobody");
        };
        drain(&e_rx);
        let knock = knock_of(&drain(&a_rx));
        rooms
            .host_command(&seat_a, HostCommand::Deny(knock))
            .unwrap();
        assert!(matches!(
            &drain(&e_rx)[..],
            [ServerMessage::Error { code: ErrorCode::KnockDenied, message, .. }] if message == "Alice did not let you in"
        ));
        assert_eq!(rooms.knock_outcome(&eve), KnockOutcome::Ended);
        // Unlocked, the link opens the room again.
        rooms
            .host_command(&seat_a, HostCommand::Lock(false))
            .unwrap();
        let (f, _f_rx) = mailbox();
        assert!(rooms.join("r", "Fay", &f, None).is_ok());
    }

    #[test]
    fn the_waiting_list_is_bounded_in_all_and_per_address() {
        let rooms = rooms(4);
        let (a, a_rx) = mailbox();
        let seat_a = rooms.join("r", "Alice", &a, None).unwrap().seat;
        rooms
            .host_command(&seat_a, HostCommand::Lock(true))
            .unwrap();
        let one: IpAddr = "192.0.2.1".parse().unwrap();
        let mut waiting = Vec::new();
        for i in 0..MAX_KNOCKS_PER_ADDRESS {
            let (k, _) = mailbox();
            assert!(matches!(
                rooms.join("r", &format!("k{i}"), &k, Some(one)),
                Err(NoSeat::Waiting(_))
            ));
            waiting.push(k);
        }
        let (k, _) = mailbox();
        assert_eq!(
            rooms.join("r", "one more", &k, Some(one)),
            Err(NoSeat::Refused(ErrorCode::RoomLocked))
        );
        for i in MAX_KNOCKS_PER_ADDRESS..MAX_KNOCKS {
            let (k, _) = mailbox();
            let from: IpAddr = format!("192.0.2.{}", 10 + i).parse().unwrap();
            assert!(matches!(
                rooms.join("r", &format!("k{i}"), &k, Some(from)),
                Err(NoSeat::Waiting(_))
            ));
            waiting.push(k);
        }
        let (k, _) = mailbox();
        assert_eq!(
            rooms.join("r", "late", &k, Some("198.51.100.1".parse().unwrap())),
            Err(NoSeat::Refused(ErrorCode::RoomLocked))
        );
        assert_eq!(
            drain(&a_rx)
                .iter()
                .filter(|m| matches!(m, ServerMessage::Knock { .. }))
                .count(),
            MAX_KNOCKS
        );
    }

    #[test]
    fn a_knock_ends_when_it_is_given_up_times_out_or_everyone_leaves_and_a_new_host_hears_of_the_rest(
    ) {
        let rooms = rooms(4);
        let (a, a_rx) = mailbox();
        let (b, b_rx) = mailbox();
        let seat_a = rooms.join("r", "Alice", &a, None).unwrap().seat;
        let seat_b = rooms.join("r", "Bob", &b, None).unwrap().seat;
        rooms
            .host_command(&seat_a, HostCommand::Lock(true))
            .unwrap();
        let knock = |name: &str| {
            let (k, k_rx) = mailbox();
            let Err(NoSeat::Waiting(knocking)) = rooms.join("r", name, &k, None) else {
                panic!("a locked room seats nobody");
            };
            drain(&k_rx);
            (knocking, k_rx)
        };
        let (carol, _) = knock("Carol");
        let (dan, dan_rx) = knock("Dan");
        let (erin, erin_rx) = knock("Erin");
        drain(&a_rx);
        drain(&b_rx);
        // Carol gives up: the host's prompt goes.
        assert_eq!(rooms.withdraw_knock(&carol), None);
        assert_eq!(
            drain(&a_rx),
            [ServerMessage::KnockEnded { knock: carol.knock }]
        );
        // Dan's two minutes are up: he is told, and so is the host.
        rooms.expire_knock(&dan);
        assert_eq!(error_code(&drain(&dan_rx)), Some(ErrorCode::KnockExpired));
        assert_eq!(
            drain(&a_rx),
            [ServerMessage::KnockEnded { knock: dan.knock }]
        );
        rooms.expire_knock(&dan);
        assert!(drain(&dan_rx).is_empty(), "once");
        // The host leaves: Bob hosts, and hears who still waits.
        rooms.leave(&seat_a);
        assert_eq!(
            drain(&b_rx),
            [
                ServerMessage::PeerLeft { peer: seat_a.id },
                ServerMessage::Host { peer: seat_b.id },
                ServerMessage::Knock {
                    knock: erin.knock,
                    name: "Erin".into()
                }
            ]
        );
        // Everyone leaves: nobody can open the door any more.
        rooms.leave(&seat_b);
        assert_eq!(error_code(&drain(&erin_rx)), Some(ErrorCode::KnockExpired));
        assert_eq!(rooms.knock_outcome(&erin), KnockOutcome::Ended);
        assert_eq!(rooms.room_count(), 0);
    }

    #[test]
    fn one_address_knocks_at_most_three_times_a_minute_given_up_or_not() {
        let rooms = rooms(4);
        let (a, a_rx) = mailbox();
        let seat_a = rooms.join("r", "Alice", &a, None).unwrap().seat;
        rooms
            .host_command(&seat_a, HostCommand::Lock(true))
            .unwrap();
        let from: IpAddr = "203.0.113.5".parse().unwrap();
        for i in 0..KNOCKS_PER_MINUTE_PER_ADDRESS {
            let (k, _) = mailbox();
            let Err(NoSeat::Waiting(knocking)) = rooms.join("r", &format!("k{i}"), &k, Some(from))
            else {
                panic!("a locked room seats nobody");
            };
            assert_eq!(rooms.withdraw_knock(&knocking), None);
        }
        let (k, _) = mailbox();
        assert_eq!(
            rooms.join("r", "again", &k, Some(from)),
            Err(NoSeat::Refused(ErrorCode::RateLimited))
        );
        let (k, _) = mailbox();
        let other: IpAddr = "203.0.113.6".parse().unwrap();
        assert!(matches!(
            rooms.join("r", "other", &k, Some(other)),
            Err(NoSeat::Waiting(_))
        ));
        let heard = drain(&a_rx);
        let knocks = heard
            .iter()
            .filter(|m| matches!(m, ServerMessage::Knock { .. }));
        assert_eq!(knocks.count(), KNOCKS_PER_MINUTE_PER_ADDRESS + 1);
    }
}
