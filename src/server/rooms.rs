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

use super::limits::IpSlot;
use super::mailbox::Busy;
pub use super::mailbox::Mailbox;
use super::room::door;
use super::room::roster::{Arrival, Effect, Member, Offer, Room, Standing};
pub use super::room::seat::{Admitted, KnockOutcome, Knocking, NoSeat, RoomState, Seat};
use super::seats::Attachment;
pub use super::seats::{encode, RoomRules};
use crate::protocol::signaling::{ErrorCode, HostCommand, PeerId, PeerInfo, ServerMessage, Signal};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

type LocalRoom = Room<Attachment, Mailbox>;

pub struct Rooms {
    rooms: Mutex<HashMap<String, LocalRoom>>,
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
        let arrival = members.arrive(
            name,
            address,
            Instant::now(),
            self.rules.capacity,
            &mut rand::rng(),
        )?;
        match arrival {
            Arrival::Seat(offer) => {
                let seated = self.take_seat(members, room, offer, mailbox);
                let (seat, effects) = match seated {
                    Ok(seated) => seated,
                    Err(no_seat) => {
                        self.carry_out(&mut rooms, room, Vec::new());
                        return Err(no_seat);
                    }
                };
                let people = members.len();
                self.carry_out(&mut rooms, room, effects);
                Ok(Admitted { seat, people })
            }
            Arrival::Knock(offer) => {
                if !mailbox.post(encode(&offer.waiting)) {
                    return Err(NoSeat::NotReading);
                }
                let knock = offer.id;
                let effects = members.knock(offer, mailbox.clone());
                self.carry_out(&mut rooms, room, effects);
                Err(NoSeat::Waiting(Knocking {
                    room: room.to_owned(),
                    knock,
                }))
            }
        }
    }

    /// How `knocking` stands; a seat the host gave it is the connection's from now on.
    pub fn knock_outcome(&self, knocking: &Knocking) -> KnockOutcome {
        let mut rooms = self.lock();
        match rooms.get_mut(&knocking.room) {
            Some(room) => outcome(knocking, room.knock_outcome(knocking.knock)),
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
        match room.end_knock(knocking.knock, told) {
            Some(effects) => {
                self.carry_out(&mut rooms, &knocking.room, effects);
                KnockOutcome::Ended
            }
            None => outcome(knocking, room.knock_outcome(knocking.knock)),
        }
    }

    /// Posts `offer`'s `joined` to `mailbox` (under the lock, so that it is queued before
    /// anything a peer sends) and seats it; the effects tell the others.
    fn take_seat(
        &self,
        members: &mut LocalRoom,
        room: &str,
        mut offer: Offer,
        mailbox: &Mailbox,
    ) -> Result<(Seat, Vec<Effect<Mailbox>>), NoSeat> {
        let peers = std::mem::take(&mut offer.peers);
        let joined = self.rules.joined(room, &offer.info, 0, peers, offer.state);
        if !mailbox.post(encode(&joined)) {
            return Err(NoSeat::NotReading);
        }
        let seat = Seat {
            room: room.to_owned(),
            id: offer.info.id,
            epoch: 0,
        };
        Ok((seat, members.seat(offer, Attachment::new(mailbox))))
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
        match members.member(claim.id) {
            // Used already: the seat moved on to a later token.
            Some(member) if member.place.epoch() != claim.gen => {
                return Err(NoSeat::Refused(ErrorCode::InvalidToken))
            }
            Some(_) if fresh => {
                return self.move_seat(&mut rooms, &claim.room, claim.id, mailbox);
            }
            Some(_) => {}
            // This process seated it, and it is gone: given up, or timed out.
            None if self.rules.tokens.issued_here(&claim) => {
                if members.is_empty() {
                    rooms.remove(&claim.room);
                }
                return Err(NoSeat::Refused(ErrorCode::ResumeExpired));
            }
            // Seated before a restart: take it back, if there is still room.
            None => {
                let info = PeerInfo {
                    id: claim.id,
                    name: claim.name.clone(),
                };
                let vacant = Attachment::vacant(claim.gen);
                members.restore(info, vacant, self.rules.capacity)?;
                // After a restart, the first one back hosts the room (the earliest there).
                if fresh {
                    return self.move_seat(&mut rooms, &claim.room, claim.id, mailbox);
                }
            }
        }
        let gen = claim.gen + 1;
        let peers = members.peers_of(claim.id);
        let state = members.state();
        let Some(Member { info, place, .. }) = members.member_mut(claim.id) else {
            return Err(NoSeat::Refused(ErrorCode::ResumeExpired));
        };
        let resumed = self.rules.resumed(&claim.room, info, gen, peers, state);
        let take_back = || self.rules.seat_taken(&claim.room, info, gen);
        let Some(epoch) = place.take_over(mailbox, encode(&resumed), take_back) else {
            let effects = members.remove(&[claim.id]);
            self.carry_out(&mut rooms, &claim.room, effects);
            return Err(NoSeat::NotReading);
        };
        // A host back: who waits at the door, again.
        if state.host == Some(claim.id) {
            let effects = members.knocks_for_host();
            self.carry_out(&mut rooms, &claim.room, effects);
        }
        Ok(Seat {
            room: claim.room,
            id: claim.id,
            epoch,
        })
    }

    /// Gives seat `id` of `room` to the page on `mailbox` under a new id (see
    /// [`Rooms::resume`]): the others hear that the old id left and the new one came, and
    /// the host stays host under the new id; a socket still holding the old seat is told
    /// `seat_taken`, with a token to take the call back, and closed.
    fn move_seat(
        &self,
        rooms: &mut HashMap<String, LocalRoom>,
        room: &str,
        id: PeerId,
        mailbox: &Mailbox,
    ) -> Result<Seat, NoSeat> {
        let members = rooms.entry(room.to_owned()).or_default();
        let Some((old, hosted, left)) = members.take_out(id) else {
            return Err(NoSeat::Refused(ErrorCode::ResumeExpired));
        };
        let mut unreachable = self.deliver(members, room, left);
        let offer = members.offer(&old.info.name, hosted, &mut rand::rng());
        let moved = self.take_seat(members, room, offer, mailbox);
        let take_back = moved.as_ref().ok().map(|(seat, _)| {
            let seated = PeerInfo {
                id: seat.id,
                name: old.info.name.clone(),
            };
            self.rules.seat_taken(room, &seated, 0)
        });
        let moved = moved.map(|(seat, effects)| {
            unreachable.extend(self.deliver(members, room, effects));
            seat
        });
        old.place.give_way(take_back);
        // Moved or not, who hosts is settled now (the old seat's host gone, say).
        let effects = members.remove(&unreachable);
        self.carry_out(rooms, room, effects);
        moved
    }

    /// Carries out a host command from `seat`: refused with `not_host` unless `seat` is
    /// the room's host, with `unknown_peer` unless it names someone else in the room, and
    /// with `unknown_knock` unless it names someone waiting at the door.
    pub fn host_command(&self, seat: &Seat, command: HostCommand) -> Result<(), ErrorCode> {
        let mut rooms = self.lock();
        let members = rooms.get_mut(&seat.room).ok_or(ErrorCode::NotJoined)?;
        if !holds(members, seat) {
            return Err(ErrorCode::NotJoined);
        }
        let effects = members.host_command(seat.id, command, self.rules.capacity)?;
        self.carry_out(&mut rooms, &seat.room, effects);
        Ok(())
    }

    /// Who hosts `room`, if anyone is in it.
    pub fn host(&self, room: &str) -> Option<PeerId> {
        self.lock().get(room).and_then(Room::host)
    }

    /// A fresh token for `seat`, if this connection still holds it.
    pub fn fresh_token(&self, seat: &Seat) -> Option<String> {
        let rooms = self.lock();
        let member = rooms.get(&seat.room)?.member(seat.id)?;
        member.place.is(seat).then(|| {
            self.rules
                .tokens
                .issue(&seat.room, seat.id, &member.info.name, seat.epoch)
        })
    }

    /// Delivers `signal` from `seat` to peer `to` in the same room.
    pub fn relay(&self, seat: &Seat, to: PeerId, signal: Signal) -> Result<(), ErrorCode> {
        let mut rooms = self.lock();
        let members = rooms.get_mut(&seat.room).ok_or(ErrorCode::NotJoined)?;
        if !holds(members, seat) {
            return Err(ErrorCode::NotJoined);
        }
        let target = members
            .member_mut(to)
            .filter(|_| to != seat.id)
            .ok_or(ErrorCode::UnknownPeer)?;
        let message = ServerMessage::Signal {
            from: seat.id,
            signal,
        };
        // A slow reader keeps its seat: it is the sender who waits.
        target
            .place
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
            .and_then(|members| members.member_mut(seat.id))
            .filter(|member| member.place.is(seat));
        match member {
            Some(member) => {
                member.place.detach(slot);
                true
            }
            None => false,
        }
    }

    /// The grace period of a detached seat ran out: free it and tell the others. Does
    /// nothing if it was resumed meanwhile.
    pub fn expire(&self, seat: &Seat) {
        let mut rooms = self.lock();
        let Some(members) = rooms.get_mut(&seat.room) else {
            return;
        };
        let still_detached = members
            .member(seat.id)
            .is_some_and(|m| m.place.is(seat) && m.place.is_detached());
        if still_detached {
            let effects = members.remove(&[seat.id]);
            self.carry_out(&mut rooms, &seat.room, effects);
        }
    }

    /// Frees the seat and tells the others. Leaving twice is harmless.
    pub fn leave(&self, seat: &Seat) {
        let mut rooms = self.lock();
        let Some(members) = rooms.get_mut(&seat.room) else {
            return;
        };
        if holds(members, seat) {
            let effects = members.remove(&[seat.id]);
            self.carry_out(&mut rooms, &seat.room, effects);
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
        (rooms.len(), rooms.values().map(Room::len).sum())
    }

    /// Who is in `room`, in join order.
    pub fn members(&self, room: &str) -> Vec<PeerInfo> {
        self.lock()
            .get(room)
            .map(|members| members.members().iter().map(|m| m.info.clone()).collect())
            .unwrap_or_default()
    }

    /// Carries out `effects` in `room`, and what follows from them: a held seat that could
    /// not take its news is freed, which the others hear of in turn, until nothing is left
    /// over. Drops the room once empty (its door was told).
    fn carry_out(
        &self,
        rooms: &mut HashMap<String, LocalRoom>,
        room: &str,
        mut effects: Vec<Effect<Mailbox>>,
    ) {
        let Some(members) = rooms.get_mut(room) else {
            return;
        };
        loop {
            let unreachable = self.deliver(members, room, effects);
            effects = members.remove(&unreachable);
            if effects.is_empty() {
                break;
            }
        }
        if members.is_empty() {
            rooms.remove(room);
        }
    }

    /// Carries out `effects` in `members` once; returns the seats that could not be reached
    /// (held for nobody with no room left for news, or removed by the host).
    fn deliver(
        &self,
        members: &mut LocalRoom,
        room: &str,
        effects: Vec<Effect<Mailbox>>,
    ) -> Vec<PeerId> {
        let mut unreachable = Vec::new();
        let mut effects = VecDeque::from(effects);
        while let Some(effect) = effects.pop_front() {
            match effect {
                Effect::Tell { to, message } => {
                    let text = encode(&message);
                    for member in members.members_mut() {
                        if to.includes(member) && !member.place.deliver_news(text.clone()) {
                            unreachable.push(member.info.id);
                        }
                    }
                }
                Effect::Answer { contact, message } => {
                    contact.post(encode(&message));
                    contact.door_answered();
                }
                Effect::Removed { id, by } => {
                    if let Some(member) = members.member_mut(id) {
                        member.place.removed(encode(&ServerMessage::Removed { by }));
                    }
                    unreachable.push(id);
                }
                Effect::LetIn {
                    knock,
                    name,
                    contact,
                } => {
                    // Their connection is told first: it takes the seat under this lock,
                    // so before it can write `joined`.
                    contact.door_answered();
                    let offer = members.offer(&name, false, &mut rand::rng());
                    if let Ok((seat, seated)) = self.take_seat(members, room, offer, &contact) {
                        members.admitted(knock, seat.id);
                        effects.extend(seated);
                    }
                }
            }
        }
        unreachable
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, LocalRoom>> {
        // A panic elsewhere must not take every room down with it; the map stays consistent
        // because each operation finishes its change before anything can panic.
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether `room` has `seat` as this connection holds it (same id, same attachment).
fn holds(room: &LocalRoom, seat: &Seat) -> bool {
    room.member(seat.id).is_some_and(|m| m.place.is(seat))
}

/// How `knocking` stands, for its connection.
fn outcome(knocking: &Knocking, standing: Standing) -> KnockOutcome {
    match standing {
        Standing::Waiting => KnockOutcome::Waiting,
        Standing::Seated(id) => KnockOutcome::Seated(Seat {
            room: knocking.room.clone(),
            id,
            epoch: 0,
        }),
        Standing::Ended => KnockOutcome::Ended,
    }
}

#[cfg(test)]
mod tests {
    use super::super::ice::IceConfig;
    use super::super::mailbox::{Bounds, HELD, MAILBOX, MESSAGE_OVERHEAD};
    use super::super::tokens::ResumeTokens;
    use super::*;
    use crate::protocol::signaling::KnockId;
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
