//! One room as a pure state machine: who sits in it and in which order, who hosts it, its
//! door, and what each change means for whom. It reads no clock and draws no random
//! numbers of its own (both are passed in), holds no lock, and delivers nothing: every
//! call returns the [`Effect`]s the shell carries out, in order.
//!
//! A member's place `P` is the shell's (a mailbox, or what waits for a held seat); a
//! knock's contact `K` too. The model never looks inside either.
//!
//! Delivery can fail (a seat held for nobody cannot take more news): the shell feeds the
//! seats it could not reach back through [`Room::remove`], whose effects it carries out
//! in turn, until none is left over. That loop is written once in each shell.
//!
//! Two phases seat someone: [`Room::offer`] decides their id and what they are told, the
//! shell posts it, and only then [`Room::seat`] seats them and tells the others. A
//! connection that is not reading is never seated, and nobody hears of it.

use super::door::{self, Door, Knock, KnockLimits};
use super::host;
use super::seat::RoomState;
use crate::protocol::signaling::{
    distinct_name, ErrorCode, HostCommand, KnockId, PeerId, PeerInfo, ServerMessage,
};
use rand::RngCore;
use std::net::IpAddr;
use std::time::Instant;

/// A seat taken: who, its number in the room's order of changes, and the shell's place
/// for them.
pub struct Member<P> {
    pub info: PeerInfo,
    /// The change that seated them: who was seated before hears of them, and the earliest
    /// seat hosts when nobody was chosen.
    pub seq: u64,
    pub place: P,
}

/// Who hears a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum To {
    All,
    AllBut(PeerId),
    One(PeerId),
    /// Those seated before change `seq` (who knew of what changed).
    Before(u64),
}

impl To {
    /// Whether member `member` hears it.
    pub fn includes<P>(self, member: &Member<P>) -> bool {
        let id = member.info.id;
        match self {
            To::All => true,
            To::AllBut(but) => id != but,
            To::One(one) => id == one,
            To::Before(seq) => member.seq < seq,
        }
    }
}

/// What the shell must do, in order.
#[derive(Debug, PartialEq)]
pub enum Effect<K> {
    /// Queue `message` for the members `to` names. A held seat that cannot take it is fed
    /// back to [`Room::remove`].
    Tell { to: To, message: ServerMessage },
    /// Tell someone at the door how their knock ended; their wait is over.
    Answer { contact: K, message: ServerMessage },
    /// The host let `knock` in: tell its connection the door answered, then seat `name`
    /// ([`Room::offer`], post `joined`, [`Room::seat`], [`Room::admitted`]).
    LetIn {
        knock: KnockId,
        name: String,
        contact: K,
    },
    /// The host removed `id`: its connection is told `removed` and closed; then the seat
    /// goes as one that could not be reached.
    Removed { id: PeerId, by: PeerId },
}

/// A seat decided but not yet taken (see [`Room::offer`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    /// The newcomer's id and name, distinct in the room.
    pub info: PeerInfo,
    /// Who is there before them, in seat order.
    pub peers: Vec<PeerInfo>,
    /// Who hosts, and the lock, as they will be told.
    pub state: RoomState,
    /// They host (a host's seat moved to a fresh page).
    as_host: bool,
}

/// A knock decided but not yet at the door (see [`Room::arrive`]).
#[derive(Clone, Debug, PartialEq)]
pub struct KnockOffer {
    pub id: KnockId,
    name: String,
    address: Option<IpAddr>,
    /// What the knocking connection is told first.
    pub waiting: ServerMessage,
}

/// What a newcomer at the door meets.
#[derive(Debug, PartialEq)]
pub enum Arrival {
    /// A seat: post its `joined`, then [`Room::seat`].
    Seat(Offer),
    /// A locked door: post `waiting`, then [`Room::knock`].
    Knock(KnockOffer),
}

/// How a knock stands (see [`Room::knock_outcome`]).
#[derive(Debug, PartialEq, Eq)]
pub enum Standing {
    Waiting,
    /// Let in, as this seat (taken by the knock's connection from now on).
    Seated(PeerId),
    Ended,
}

/// The people in one room, in the order they were seated, its host and its door.
pub struct Room<P, K> {
    /// In the order they came to this room's model (one server: seat order).
    members: Vec<Member<P>>,
    /// The room's last change: one server counts them here; several take them from Redis.
    last_change: u64,
    /// The seat the host handed the role to (see [`Room::host`]), as of change
    /// `chosen_at`: older news of a choice is stale.
    chosen: Option<PeerId>,
    chosen_at: u64,
    /// The host everyone in the room was last told of.
    told_host: Option<PeerId>,
    /// The lock and who waits at it; boxed, made when the room is first locked: most
    /// rooms never are, and every idle seat's bytes count.
    door: Option<Box<Door<K>>>,
}

impl<P, K> Default for Room<P, K> {
    fn default() -> Self {
        Room {
            members: Vec::new(),
            last_change: 0,
            chosen: None,
            chosen_at: 0,
            told_host: None,
            door: None,
        }
    }
}

impl<P, K> Room<P, K> {
    /// Who may lock, admit, remove and hand the role on: the seat the host chose while it
    /// is there, else the person present longest ([`host::host`]).
    pub fn host(&self) -> Option<PeerId> {
        self.host_with(None)
    }

    /// Who hosts with `newcomer` (id, change that seated them) seated too. A chosen seat
    /// this model has not met yet (several servers: a join still being answered) hosts
    /// all the same; a chosen seat that leaves is forgotten ([`Room::remove_at`]).
    pub fn host_with(&self, newcomer: Option<(PeerId, u64)>) -> Option<PeerId> {
        let seats = self.members.iter().map(|m| (m.info.id, m.seq));
        let chosen = self.chosen.map(|chosen| (chosen, u64::MAX));
        host::host(self.chosen, seats.chain(newcomer).chain(chosen))
    }

    /// As of change `seq`, the host chose `peer` (or Redis said it is `peer`); older news
    /// is stale.
    pub fn choose(&mut self, peer: Option<PeerId>, seq: u64) {
        if seq > self.chosen_at {
            self.chosen = peer;
            self.chosen_at = seq;
        }
    }

    pub fn locked(&self) -> bool {
        self.door.as_ref().is_some_and(|door| door.locked)
    }

    /// As of change `seq`, the room is `locked` or not (older news is stale): everyone is
    /// told if that changes what the model had.
    pub fn lock_as_of(&mut self, locked: bool, seq: u64) -> Vec<Effect<K>> {
        let unchanged = locked == self.locked();
        let door = self.door();
        if seq < door.locked_at || unchanged {
            door.locked_at = door.locked_at.max(seq);
            return Vec::new();
        }
        door.locked = locked;
        door.locked_at = seq;
        vec![Effect::Tell {
            to: To::All,
            message: ServerMessage::Locked { locked },
        }]
    }

    /// The host everyone was last told of.
    pub fn told_host(&self) -> Option<PeerId> {
        self.told_host
    }

    /// The next change's number (one server counts its own).
    fn next_change(&mut self) -> u64 {
        self.last_change = self.last_change.saturating_add(1);
        self.last_change
    }

    /// Who hosts, and the lock.
    pub fn state(&self) -> RoomState {
        RoomState {
            host: self.host(),
            locked: self.locked(),
        }
    }

    pub fn members(&self) -> &[Member<P>] {
        &self.members
    }

    /// Every member, to reach their places; who sits where does not change.
    pub fn members_mut(&mut self) -> &mut [Member<P>] {
        &mut self.members
    }

    /// Every member, taken out (the room goes).
    pub fn into_members(self) -> Vec<Member<P>> {
        self.members
    }

    pub fn member(&self, id: PeerId) -> Option<&Member<P>> {
        self.members.iter().find(|m| m.info.id == id)
    }

    pub fn member_mut(&mut self, id: PeerId) -> Option<&mut Member<P>> {
        self.members.iter_mut().find(|m| m.info.id == id)
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Everyone but `id`, in seat order.
    pub fn peers_of(&self, id: PeerId) -> Vec<PeerInfo> {
        self.members
            .iter()
            .filter(|m| m.info.id != id)
            .map(|m| m.info.clone())
            .collect()
    }

    /// Who waits at the door, in the order they came.
    pub fn knocks(&self) -> &[Knock<K>] {
        self.door.as_ref().map_or(&[], |door| &door.knocks)
    }

    /// What meets `name`, coming from `address` (grouped as for the per-address limit),
    /// at `now`: a seat, a knock at the locked door, or a refusal (`room_full`, or the
    /// door's limits). A knock is counted for the rate even if it is never posted.
    pub fn arrive(
        &mut self,
        name: &str,
        address: Option<IpAddr>,
        now: Instant,
        capacity: usize,
        rng: &mut impl RngCore,
    ) -> Result<Arrival, ErrorCode> {
        if !self.locked() {
            if self.members.len() >= capacity {
                return Err(ErrorCode::RoomFull);
            }
            return Ok(Arrival::Seat(self.offer(name, false, rng)));
        }
        let knocks = self.knocks();
        let from_there = knocks
            .iter()
            .filter(|k| address.is_some() && k.address == address)
            .count();
        let waiting = knocks.len();
        let limits: &mut KnockLimits = &mut self.door().limits;
        limits.check(address, waiting, from_there, now)?;
        limits.count(address, now);
        let id = loop {
            let id = KnockId(rng.next_u64() >> 11);
            if !self.knocks().iter().any(|k| k.id == id) {
                break id;
            }
        };
        let host_name = self.host_name().unwrap_or_default();
        Ok(Arrival::Knock(KnockOffer {
            id,
            name: name.to_owned(),
            address,
            waiting: ServerMessage::Waiting { host_name },
        }))
    }

    /// A seat for `name` (made distinct in the room) under a new id: what they are told.
    /// Nothing changes until [`Room::seat`]. `as_host`: they take the role (a host's seat
    /// moved to a fresh page).
    pub fn offer(&self, name: &str, as_host: bool, rng: &mut impl RngCore) -> Offer {
        let info = PeerInfo {
            id: self.fresh_id(rng),
            name: distinct_name(name, self.members.iter().map(|m| m.info.name.as_str())),
        };
        // The first in a room hosts it (the newcomer is the latest: nobody else's place
        // changes).
        let host = match as_host {
            true => info.id,
            false => self.host().unwrap_or(info.id),
        };
        Offer {
            peers: self.members.iter().map(|m| m.info.clone()).collect(),
            state: RoomState {
                host: Some(host),
                locked: self.locked(),
            },
            info,
            as_host,
        }
    }

    /// Seats `offer` (whose `joined` was posted) at `place`, as the room's next change:
    /// the others hear of them.
    pub fn seat(&mut self, offer: Offer, place: P) -> Vec<Effect<K>> {
        let (id, seq) = (offer.info.id, self.next_change());
        if self.members.is_empty() && self.told_host.is_none() {
            // The first in the room: `joined` tells them they host.
            self.told_host = Some(id);
        }
        let mut effects = self.arrive_at(offer.info, seq, place);
        if offer.as_host {
            self.choose(Some(id), seq);
        }
        // The host's seat, moved: the others hear who hosts now (the newcomer knows).
        effects.extend(self.settle(Some(id)));
        effects
    }

    /// `info` took a seat as change `seq` (at `place`): those seated before hear of them.
    /// Who hosts is not settled ([`Room::settle`]).
    pub fn arrive_at(&mut self, info: PeerInfo, seq: u64, place: P) -> Vec<Effect<K>> {
        let mut effects = Vec::new();
        if self.members.iter().any(|m| m.seq < seq) {
            effects.push(Effect::Tell {
                to: To::Before(seq),
                message: ServerMessage::PeerJoined {
                    peer: info.clone(),
                    polite: false,
                },
            });
        }
        self.last_change = self.last_change.max(seq);
        // Rooms are small (six at most by default): grown one seat at a time, a room of
        // two holds two, not the four a doubling Vec would (an idle seat's memory counts).
        self.members.reserve_exact(1);
        self.members.push(Member { info, seq, place });
        effects
    }

    /// A seat taken back after a restart, before anyone holds it (the first one back
    /// hosts, the earliest there); nobody is told: to the others it never went.
    pub fn restore(&mut self, info: PeerInfo, place: P, capacity: usize) -> Result<(), ErrorCode> {
        if self.members.len() >= capacity {
            return Err(ErrorCode::RoomFull);
        }
        let seq = self.next_change();
        self.members.push(Member { info, seq, place });
        if self.told_host.is_none() {
            self.told_host = self.host();
        }
        Ok(())
    }

    /// Takes `id`'s seat out to give it to a fresh page under a new id: the others hear
    /// that it left; who hosts is not settled until the new seat is taken (or not: then
    /// [`Room::remove`] settles it). Returns the seat and whether it hosted.
    pub fn take_out(&mut self, id: PeerId) -> Option<(Member<P>, bool, Vec<Effect<K>>)> {
        let at = self.members.iter().position(|m| m.info.id == id)?;
        let hosted = self.host() == Some(id);
        let seq = self.next_change();
        let old = self.members.remove(at);
        if self.chosen == Some(id) {
            self.chosen = None;
        }
        let effects = vec![Effect::Tell {
            to: To::Before(seq),
            message: ServerMessage::PeerLeft { peer: id },
        }];
        Some((old, hosted, effects))
    }

    /// Takes `id`'s seat out with nobody told and nothing else changed (several servers:
    /// to put it back as it is now, moved here).
    pub fn take(&mut self, id: PeerId) -> Option<Member<P>> {
        let at = self.members.iter().position(|m| m.info.id == id)?;
        Some(self.members.remove(at))
    }

    /// Frees the seats in `gone` (left, timed out, removed, or unreachable) as the room's
    /// next change, telling the rest; then settles who hosts ([`Room::settle`]).
    pub fn remove(&mut self, gone: &[PeerId]) -> Vec<Effect<K>> {
        let seq = match gone.is_empty() {
            true => self.last_change,
            false => self.next_change(),
        };
        let mut effects = self.remove_at(gone, seq);
        effects.extend(self.settle(None));
        effects
    }

    /// Takes the seats in `gone` out as change `seq`: those seated before it hear they
    /// left. A chosen seat gone is forgotten (the earliest hosts then). Who hosts is not
    /// settled ([`Room::settle`]).
    pub fn remove_at(&mut self, gone: &[PeerId], seq: u64) -> Vec<Effect<K>> {
        let mut effects = Vec::new();
        for id in gone {
            let before = self.members.len();
            self.members.retain(|m| m.info.id != *id);
            if self.members.len() < before {
                effects.push(Effect::Tell {
                    to: To::Before(seq),
                    message: ServerMessage::PeerLeft { peer: *id },
                });
            }
            if self.chosen == Some(*id) {
                self.chosen = None;
            }
        }
        if self.members.is_empty() {
            // Nobody is left to hear it.
            effects.clear();
        }
        self.last_change = self.last_change.max(seq);
        effects
    }

    /// Tells everyone (but `newcomer`, whose `joined` or `resumed` said it) who hosts, if
    /// that changed since they were last told, and the host who waits at the door. Once
    /// the room is empty, whoever waits at its door is told that everyone left: the shell
    /// then drops the room.
    pub fn settle(&mut self, newcomer: Option<PeerId>) -> Vec<Effect<K>> {
        let mut effects = Vec::new();
        let host = self.host();
        if host != self.told_host {
            self.told_host = host;
            if let Some(peer) = host {
                let to = match newcomer {
                    Some(newcomer) => To::AllBut(newcomer),
                    None => To::All,
                };
                effects.push(Effect::Tell {
                    to,
                    message: ServerMessage::Host { peer },
                });
                effects.extend(self.knocks_for_host());
            }
        }
        // A seat given to a knock and gone before its connection took it is forgotten.
        if let Some(door) = self.door.as_mut() {
            let members = &self.members;
            door.admitted
                .retain(|(_, id)| members.iter().any(|m| m.info.id == *id));
        }
        if self.members.is_empty() {
            // Nobody is left to open the door.
            let knocks = self.door.take().map(|door| door.knocks).unwrap_or_default();
            effects.extend(knocks.into_iter().map(|knock| Effect::Answer {
                contact: knock.contact,
                message: door::everyone_left(),
            }));
        }
        effects
    }

    /// What the host hears when they are new to the role or back: who waits at the door.
    pub fn knocks_for_host(&self) -> Vec<Effect<K>> {
        let Some(host) = self.host() else {
            return Vec::new();
        };
        self.knocks()
            .iter()
            .map(|k| Effect::Tell {
                to: To::One(host),
                message: ServerMessage::Knock {
                    knock: k.id,
                    name: k.name.clone(),
                },
            })
            .collect()
    }

    /// Puts the knock whose `waiting` was posted at the door: the host hears of it.
    pub fn knock(&mut self, offer: KnockOffer, contact: K) -> Vec<Effect<K>> {
        let effects = self.tell_host(ServerMessage::Knock {
            knock: offer.id,
            name: offer.name.clone(),
        });
        self.door().knocks.push(Knock {
            id: offer.id,
            name: offer.name,
            contact,
            address: offer.address,
        });
        effects
    }

    /// How `knock` stands; a seat the host gave it is the connection's from now on (asked
    /// once).
    pub fn knock_outcome(&mut self, knock: KnockId) -> Standing {
        if self.knocks().iter().any(|k| k.id == knock) {
            return Standing::Waiting;
        }
        let Some(door) = self.door.as_mut() else {
            return Standing::Ended;
        };
        match door.admitted.iter().position(|(id, _)| *id == knock) {
            Some(at) => Standing::Seated(door.admitted.swap_remove(at).1),
            None => Standing::Ended,
        }
    }

    /// Ends `knock`'s wait (given up, or timed out: then its connection is told `told`);
    /// the host hears of it. `None` if it no longer waits.
    pub fn end_knock(
        &mut self,
        knock: KnockId,
        told: Option<ServerMessage>,
    ) -> Option<Vec<Effect<K>>> {
        let at = self.knocks().iter().position(|k| k.id == knock)?;
        let knock = self.door().knocks.remove(at);
        let mut effects = Vec::new();
        if let Some(message) = told {
            effects.push(Effect::Answer {
                contact: knock.contact,
                message,
            });
        }
        effects.extend(self.tell_host(ServerMessage::KnockEnded { knock: knock.id }));
        Some(effects)
    }

    /// The knock let in is seated as `seat` (see [`Effect::LetIn`]), until its connection
    /// asks ([`Room::knock_outcome`]).
    pub fn admitted(&mut self, knock: KnockId, seat: PeerId) {
        self.door().admitted.push((knock, seat));
    }

    /// Carries out the host's `command` from member `from` (whose connection the shell
    /// has checked): refused with `not_host` unless they host, with `unknown_peer` unless
    /// it names someone else in the room, with `unknown_knock` unless it names someone
    /// at the door, and an admit with `room_full` while there is no room.
    pub fn host_command(
        &mut self,
        from: PeerId,
        command: HostCommand,
        capacity: usize,
    ) -> Result<Vec<Effect<K>>, ErrorCode> {
        if self.member(from).is_none() {
            return Err(ErrorCode::NotJoined);
        }
        if self.host() != Some(from) {
            return Err(ErrorCode::NotHost);
        }
        match command {
            HostCommand::Lock(locked) => {
                if self.locked() == locked {
                    return Ok(Vec::new());
                }
                let seq = self.next_change();
                Ok(self.lock_as_of(locked, seq))
            }
            HostCommand::Deny(knock) => {
                let at = self.knock_at(knock)?;
                let knock = self.door().knocks.remove(at);
                let mut effects = vec![Effect::Answer {
                    contact: knock.contact,
                    message: door::denied(self.host_name().as_deref()),
                }];
                effects.extend(self.tell_host(ServerMessage::KnockEnded { knock: knock.id }));
                Ok(effects)
            }
            HostCommand::Admit(knock) => {
                let at = self.knock_at(knock)?;
                if self.members.len() >= capacity {
                    return Err(ErrorCode::RoomFull);
                }
                let knock = self.door().knocks.remove(at);
                let mut effects = self.tell_host(ServerMessage::KnockEnded { knock: knock.id });
                effects.push(Effect::LetIn {
                    knock: knock.id,
                    name: knock.name,
                    contact: knock.contact,
                });
                Ok(effects)
            }
            HostCommand::AskToMute(peer)
            | HostCommand::Remove(peer)
            | HostCommand::MakeHost(peer) => {
                if peer == from || self.member(peer).is_none() {
                    return Err(ErrorCode::UnknownPeer);
                }
                Ok(match command {
                    HostCommand::AskToMute(_) => vec![Effect::Tell {
                        to: To::One(peer),
                        message: ServerMessage::MuteRequest { by: from },
                    }],
                    HostCommand::Remove(_) => vec![Effect::Removed { id: peer, by: from }],
                    _ => {
                        let seq = self.next_change();
                        self.choose(Some(peer), seq);
                        self.settle(None)
                    }
                })
            }
        }
    }

    fn knock_at(&self, knock: KnockId) -> Result<usize, ErrorCode> {
        self.knocks()
            .iter()
            .position(|k| k.id == knock)
            .ok_or(ErrorCode::UnknownKnock)
    }

    fn host_name(&self) -> Option<String> {
        let host = self.host()?;
        self.member(host).map(|m| m.info.name.clone())
    }

    /// Tells the host `message` (a held host's seat keeps it, if it can).
    fn tell_host(&self, message: ServerMessage) -> Vec<Effect<K>> {
        self.host()
            .map(|host| Effect::Tell {
                to: To::One(host),
                message,
            })
            .into_iter()
            .collect()
    }

    /// The room's door, made on first need.
    fn door(&mut self) -> &mut Door<K> {
        self.door.get_or_insert_with(Box::default)
    }

    /// A random id, not in use in the room. Random rather than counted so that ids issued
    /// before a restart cannot collide with ids issued after it. Kept below 2^53 so that
    /// JavaScript numbers hold it exactly.
    fn fresh_id(&self, rng: &mut impl RngCore) -> PeerId {
        loop {
            let id = PeerId(rng.next_u64() >> 11);
            if self.member(id).is_none() {
                return id;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    /// A room whose places are nothing and whose knocks are reached by number.
    type Test = Room<(), u32>;

    const CAPACITY: usize = 4;

    fn rng() -> StdRng {
        StdRng::seed_from_u64(35)
    }

    /// Seats `name` as a newcomer would be; returns their id and what the others hear.
    fn join(room: &mut Test, name: &str, rng: &mut StdRng) -> (PeerId, Vec<Effect<u32>>) {
        let now = Instant::now();
        let Ok(Arrival::Seat(offer)) = room.arrive(name, None, now, CAPACITY, rng) else {
            panic!("{name} gets no seat");
        };
        let id = offer.info.id;
        (id, room.seat(offer, ()))
    }

    fn told(to: To, message: ServerMessage) -> Effect<u32> {
        Effect::Tell { to, message }
    }

    #[test]
    fn a_newcomer_is_offered_a_distinct_name_and_the_others_hear_of_them_once_seated() {
        let (mut room, mut rng) = (Test::default(), rng());
        let (ann, effects) = join(&mut room, "Ann", &mut rng);
        assert!(effects.is_empty(), "nobody else to tell");
        let Ok(Arrival::Seat(offer)) = room.arrive("ann", None, Instant::now(), 4, &mut rng) else {
            panic!("no seat");
        };
        assert_eq!(offer.info.name, "ann (2)");
        assert_eq!(offer.state.host, Some(ann));
        assert_eq!(offer.peers.len(), 1);
        assert_eq!(room.len(), 1, "an offer seats nobody");
        let second = offer.info.clone();
        assert_eq!(
            room.seat(offer, ()),
            vec![told(
                To::Before(2),
                ServerMessage::PeerJoined {
                    peer: second,
                    polite: false
                }
            )]
        );
        let (_, _) = join(&mut room, "Cy", &mut rng);
        let (_, _) = join(&mut room, "Di", &mut rng);
        assert_eq!(
            room.arrive("Ed", None, Instant::now(), CAPACITY, &mut rng),
            Err(ErrorCode::RoomFull)
        );
    }

    #[test]
    fn when_the_host_goes_everyone_hears_who_hosts_and_the_new_host_who_knocks() {
        let (mut room, mut rng) = (Test::default(), rng());
        let (ann, _) = join(&mut room, "Ann", &mut rng);
        let (bo, _) = join(&mut room, "Bo", &mut rng);
        let (cy, _) = join(&mut room, "Cy", &mut rng);
        room.host_command(ann, HostCommand::Lock(true), CAPACITY)
            .expect("Ann hosts");
        let Ok(Arrival::Knock(offer)) = room.arrive("Dee", None, Instant::now(), 4, &mut rng)
        else {
            panic!("a locked room has Dee knock");
        };
        let knock = offer.id;
        room.knock(offer, 7);
        assert_eq!(
            room.remove(&[ann]),
            vec![
                told(To::Before(5), ServerMessage::PeerLeft { peer: ann }),
                told(To::All, ServerMessage::Host { peer: bo }),
                told(
                    To::One(bo),
                    ServerMessage::Knock {
                        knock,
                        name: "Dee".into()
                    }
                ),
            ]
        );
        assert_eq!(room.remove(&[]), vec![], "told once");
        // A seat that cannot be reached is freed like one that left.
        assert_eq!(
            room.remove(&[cy, bo]),
            vec![Effect::Answer {
                contact: 7,
                message: door::everyone_left()
            }],
            "nobody is left to hear, and Dee's wait is over"
        );
        assert!(room.is_empty());
        assert_eq!(room.knocks().len(), 0);
    }

    #[test]
    fn a_host_s_seat_moved_to_a_fresh_page_still_hosts_and_the_others_hear_it() {
        let (mut room, mut rng) = (Test::default(), rng());
        let (ann, _) = join(&mut room, "Ann", &mut rng);
        let (bo, _) = join(&mut room, "Bo", &mut rng);
        let (old, hosted, left) = room.take_out(ann).expect("Ann is there");
        assert!(hosted);
        assert_eq!(
            left,
            vec![told(To::Before(3), ServerMessage::PeerLeft { peer: ann })]
        );
        let offer = room.offer(&old.info.name, hosted, &mut rng);
        let new = offer.info.id;
        assert_eq!(offer.state.host, Some(new));
        let effects = room.seat(offer, ());
        assert_eq!(
            effects[1..],
            [told(To::AllBut(new), ServerMessage::Host { peer: new })]
        );
        assert_eq!(room.host(), Some(new));
        assert_eq!(room.remove(&[]), vec![]);
        // Had the new page not taken it, Bo would host, and be told.
        let (_, hosted, _) = room.take_out(new).expect("there");
        assert!(hosted);
        assert_eq!(
            room.remove(&[]),
            vec![told(To::All, ServerMessage::Host { peer: bo })]
        );
    }

    #[test]
    fn only_the_host_commands_and_only_about_someone_there() {
        let (mut room, mut rng) = (Test::default(), rng());
        let (ann, _) = join(&mut room, "Ann", &mut rng);
        let (bo, _) = join(&mut room, "Bo", &mut rng);
        let stranger = PeerId(1);
        let refused = |room: &mut Test, from, command| room.host_command(from, command, 2).err();
        assert_eq!(
            refused(&mut room, bo, HostCommand::Remove(ann)),
            Some(ErrorCode::NotHost)
        );
        assert_eq!(
            refused(&mut room, stranger, HostCommand::Lock(true)),
            Some(ErrorCode::NotJoined)
        );
        assert_eq!(
            refused(&mut room, ann, HostCommand::Remove(ann)),
            Some(ErrorCode::UnknownPeer)
        );
        assert_eq!(
            refused(&mut room, ann, HostCommand::Admit(KnockId(3))),
            Some(ErrorCode::UnknownKnock)
        );
        assert_eq!(
            room.host_command(ann, HostCommand::Remove(bo), 2),
            Ok(vec![Effect::Removed { id: bo, by: ann }])
        );
        assert_eq!(
            room.host_command(ann, HostCommand::MakeHost(bo), 2),
            Ok(vec![told(To::All, ServerMessage::Host { peer: bo })])
        );
        assert_eq!(room.remove(&[]), vec![], "everyone was told");
    }

    #[test]
    fn a_knock_let_in_is_seated_and_one_turned_away_told_by_whom() {
        let (mut room, mut rng) = (Test::default(), rng());
        let (ann, _) = join(&mut room, "Ann", &mut rng);
        room.host_command(ann, HostCommand::Lock(true), 2)
            .expect("Ann hosts");
        let mut knock = |room: &mut Test, contact| {
            let Ok(Arrival::Knock(offer)) = room.arrive("Kim", None, Instant::now(), 2, &mut rng)
            else {
                panic!("a knock");
            };
            assert_eq!(
                offer.waiting,
                ServerMessage::Waiting {
                    host_name: "Ann".into()
                }
            );
            let id = offer.id;
            room.knock(offer, contact);
            id
        };
        let (first, second) = (knock(&mut room, 1), knock(&mut room, 2));
        assert_eq!(
            room.host_command(ann, HostCommand::Deny(first), 2),
            Ok(vec![
                Effect::Answer {
                    contact: 1,
                    message: door::denied(Some("Ann"))
                },
                told(To::One(ann), ServerMessage::KnockEnded { knock: first }),
            ])
        );
        assert_eq!(
            room.host_command(ann, HostCommand::Admit(second), 2),
            Ok(vec![
                told(To::One(ann), ServerMessage::KnockEnded { knock: second }),
                Effect::LetIn {
                    knock: second,
                    name: "Kim".into(),
                    contact: 2
                },
            ])
        );
        assert_eq!(
            room.knock_outcome(second),
            Standing::Ended,
            "not seated yet"
        );
        room.admitted(second, PeerId(9));
        assert_eq!(room.knock_outcome(second), Standing::Seated(PeerId(9)));
        assert_eq!(room.knock_outcome(second), Standing::Ended, "taken once");
    }
}
