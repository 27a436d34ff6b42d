//! What one server knows of one shared room, and the order in which its people hear of
//! the others.
//!
//! Every seat change takes a number from its room's counter, in the script that makes
//! it. A person's `joined` lists everyone seated before them; they are told
//! `peer_joined` of everyone seated after them, and `peer_left` of anyone who leaves
//! after they arrived, whichever server learns of it first. So nobody hears of someone
//! twice, or of a leaving before the arriving.
//!
//! A server hears of its rooms' changes on its channel, in order, but may miss some (its
//! subscription reconnecting), and hears of its own from the scripts' answers, which may
//! come before or after. The view keeps track of which numbers it has accounted for; one
//! missing for [`GAP_WAIT`] (or a lost subscription) makes the server read the room again
//! and [`View::sync`] with it.

use super::record::{Holder, Listed};
use crate::protocol::signaling::{ErrorCode, PeerId, PeerInfo, ServerMessage};
use crate::server::mailbox::Mailbox;
use crate::server::room::roster::{Effect, Member, Room, To};
use crate::server::room::seat::{RoomState, Seat};
use crate::server::seats::{encode, Attachment, RoomRules};
use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

/// How long a change may be missing before the room is read again: longer than an answer
/// from Redis may take to arrive after the news of a later change.
pub(super) const GAP_WAIT: Duration = Duration::from_secs(2);

/// A person in a room this server has a view of: the room model's member, with where
/// their seat is.
pub(super) type Person = Member<Whereabouts>;

/// Where a seat is, as this server knows it.
pub(super) struct Whereabouts {
    pub at: Place,
    /// The change by which the view learned where the seat is: news of a move no later
    /// than it is stale.
    pub placed_at: u64,
    /// Being freed in Redis: nothing may resume or reach the seat meanwhile.
    pub leaving: bool,
}

impl Whereabouts {
    /// At `at` as of change `seq`.
    pub fn new(at: Place, seq: u64) -> Whereabouts {
        Whereabouts {
            at,
            placed_at: seq,
            leaving: false,
        }
    }
}

pub(super) enum Place {
    /// Connected to this server.
    Here(Attachment),
    /// Held elsewhere: by another server, or by nobody for a while.
    There(Holder),
}

impl From<Listed> for Person {
    fn from(listed: Listed) -> Person {
        Member {
            info: listed.info,
            seq: listed.seq,
            place: Whereabouts::new(Place::There(listed.holder), listed.seq),
        }
    }
}

/// What this server knows of one room: the room model (`room::roster`, the same one a
/// single server keeps) applied to the room's changes in Redis's order, and that order:
/// which changes are accounted for.
#[derive(Default)]
pub(super) struct View {
    room: Room<Whereabouts, ()>,
    /// Who left, so that news of their arrival coming late is ignored.
    gone: HashSet<PeerId>,
    /// Joins from this server under way: news for the room is kept for them.
    pub arriving: usize,
    /// Every change up to this one is accounted for…
    through: u64,
    /// …and these after it.
    heard: BTreeSet<u64>,
    /// Since when a change has been missing.
    gap_since: Option<Instant>,
    /// News may have been missed (the subscription was lost): read the room again.
    unsure: bool,
    /// A host of this server's, new to the role: who waits at the door is read for them.
    owe_knocks: bool,
}

/// How a seat held here went back to its person ([`View::take_back`]).
#[derive(Debug, PartialEq)]
pub(super) enum TakenBack {
    /// Theirs, as attachment `epoch`; `hosting`: they host (to be told who knocks).
    Here { epoch: u64, hosting: bool },
    /// Their new connection could not take `resumed` and what waited: it is kicked, and
    /// the seat is to be freed.
    NotReading,
}

/// What [`View::sync`] found.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Synced {
    /// This server's people who could not take the news.
    pub unreachable: Vec<PeerId>,
    /// This server's people whose seats moved to another server meanwhile, and the
    /// change as of which the read saw it.
    pub moved_away: Vec<(PeerId, String, u64)>,
}

impl View {
    /// Everyone in the room as this server knows it, in the order the view met them.
    pub fn people(&self) -> &[Person] {
        self.room.members()
    }

    /// Everyone, taken out (the view goes).
    pub fn into_people(self) -> Vec<Person> {
        self.room.into_members()
    }

    /// `id`'s attachment here, if they are connected to this server (and, given `seat`,
    /// it is that seat's).
    pub fn here(&mut self, id: PeerId, seat: Option<&Seat>) -> Option<&mut Attachment> {
        let person = self.room.member_mut(id)?;
        match &mut person.place.at {
            Place::Here(at) if !person.place.leaving && seat.is_none_or(|seat| at.is(seat)) => {
                Some(at)
            }
            _ => None,
        }
    }

    pub fn person(&mut self, id: PeerId) -> Option<&mut Person> {
        self.room.member_mut(id)
    }

    /// Everyone but `id`, in the order of the view.
    pub fn others(&self, id: PeerId) -> Vec<PeerInfo> {
        self.room.peers_of(id)
    }

    /// Adds the people of other servers a script listed that this view has not heard of
    /// yet. Whoever adds someone to the view tells those here who were seated before them
    /// (their own news may still be on its way, and will then be ignored); this server's
    /// own people each add themselves when their join completes. Returns who could not
    /// take the news.
    pub fn learn(&mut self, listed: Vec<Listed>, this_server: &str) -> Vec<PeerId> {
        let mut unreachable = Vec::new();
        for person in listed {
            if person.holder.server() != Some(this_server) && !self.knows(person.info.id) {
                unreachable.extend(self.arrived(person.into()));
            }
        }
        unreachable
    }

    /// Someone arrived (of another server, or this server's own joining): those here
    /// seated before them are told. Returns who could not take the news; ignored if
    /// already known.
    pub fn arrived(&mut self, person: Person) -> Vec<PeerId> {
        if self.knows(person.info.id) {
            return Vec::new();
        }
        let effects = self.room.arrive_at(person.info, person.seq, person.place);
        self.carry_out(effects)
    }

    /// News of change `seq` came (or an answer about it).
    pub fn heard(&mut self, seq: u64, now: Instant) {
        if seq > self.through {
            self.heard.insert(seq);
        }
        while self.heard.remove(&(self.through + 1)) {
            self.through += 1;
        }
        self.gap_since = match self.heard.is_empty() {
            true => None,
            false => self.gap_since.or(Some(now)),
        };
    }

    /// Whether news of a change `seq` comes after what the view accounts for (news of
    /// an arrival no later than that was accounted for by reading the room).
    pub fn is_new(&self, seq: u64) -> bool {
        seq > self.through && !self.heard.contains(&seq)
    }

    /// Whether a change has been missing long enough to read the room again.
    pub fn has_gap(&self, now: Instant) -> bool {
        self.unsure
            || self
                .gap_since
                .is_some_and(|since| now.duration_since(since) >= GAP_WAIT)
    }

    /// News may have been missed, with no later news to show it: until the room is read
    /// again, it counts as having a gap.
    pub fn doubt(&mut self) {
        self.unsure = true;
    }

    /// Brings the view to the room as Redis had it at change `seq` (`listed` is everyone
    /// there then, or everyone but the person whose join or resume it answers): whoever
    /// is listed and unknown arrives; whoever is of another server, was seated by then
    /// and is not listed has left; a seat listed with another holder than the view knew,
    /// and known from an earlier change, moved.
    pub fn sync(
        &mut self,
        seq: u64,
        listed: Vec<Listed>,
        this_server: &str,
        now: Instant,
    ) -> Synced {
        let mut synced = Synced::default();
        let gone: Vec<PeerId> = self
            .people()
            .iter()
            .filter(|p| matches!(p.place.at, Place::There(_)) && p.seq <= seq)
            .filter(|p| !listed.iter().any(|l| l.info.id == p.info.id))
            .map(|p| p.info.id)
            .collect();
        for id in gone {
            synced.unreachable.extend(self.remove(id, seq + 1));
        }
        let mut unknown = Vec::new();
        for seat in listed {
            let Some(person) = self.room.member_mut(seat.info.id) else {
                unknown.push(seat);
                continue;
            };
            let whereabouts = &mut person.place;
            if whereabouts.placed_at >= seq {
                continue;
            }
            match &whereabouts.at {
                Place::There(holder) if *holder != seat.holder => {
                    whereabouts.at = Place::There(seat.holder);
                }
                Place::Here(_) => match seat.holder {
                    // Moved when [`moved_away`](Synced::moved_away) is carried out.
                    Holder::Server(server) if server != this_server => {
                        synced.moved_away.push((person.info.id, server, seq));
                        continue;
                    }
                    _ => {}
                },
                Place::There(_) => {}
            }
            whereabouts.placed_at = seq;
        }
        synced.unreachable.extend(self.learn(unknown, this_server));
        for person in self.room.members_mut() {
            if matches!(person.place.at, Place::There(_)) && person.seq <= seq {
                person.place.placed_at = person.place.placed_at.max(seq);
            }
        }
        self.unsure = false;
        self.through = self.through.max(seq);
        self.heard.retain(|&heard| heard > seq);
        self.heard(seq, now);
        synced
    }

    /// Who hosts the room, as this view has it.
    pub fn host(&self) -> Option<PeerId> {
        self.room.host()
    }

    /// Who hosts the room with `newcomer` (id, seat number) seated too.
    pub fn host_with(&self, newcomer: Option<(PeerId, u64)>) -> Option<PeerId> {
        self.room.host_with(newcomer)
    }

    /// As of change `seq`, the host chose `peer` (or Redis said it is `peer`, a seat there
    /// then); older news is stale. A seat that left is no host, whatever late news says.
    pub fn chose(&mut self, peer: Option<PeerId>, seq: u64) {
        let peer = peer.filter(|peer| !self.gone.contains(peer));
        self.room.choose(peer, seq);
    }

    /// Whether the room is locked, as this view has it.
    pub fn locked(&self) -> bool {
        self.room.locked()
    }

    /// As of change `seq`, the room is `locked` or not (older news is stale); true if that
    /// changed what this view had (the caller tells everyone).
    pub fn lock_as_of(&mut self, locked: bool, seq: u64) -> bool {
        !self.room.lock_as_of(locked, seq).is_empty()
    }

    /// The host of this server's who became host since this was last asked, if they are
    /// still here: they are to be told who waits at the door.
    pub fn owed_knocks(&mut self) -> Option<PeerId> {
        if !std::mem::take(&mut self.owe_knocks) {
            return None;
        }
        let host = self.host()?;
        self.is_here(host).then_some(host)
    }

    /// Tells the host `message`, if the host is one of this server's people; returns them
    /// if they could not take it.
    pub fn tell_the_host(&mut self, message: &ServerMessage) -> Vec<PeerId> {
        let Some(host) = self.host() else {
            return Vec::new();
        };
        self.carry_out(vec![Effect::Tell {
            to: To::One(host),
            message: message.clone(),
        }])
    }

    /// Tells every one of this server's people `message`; returns who could not take it.
    pub fn tell_everyone(&mut self, message: &ServerMessage) -> Vec<PeerId> {
        self.carry_out(vec![Effect::Tell {
            to: To::All,
            message: message.clone(),
        }])
    }

    /// Tells this server's people who hosts the room now, if that changed since they were
    /// last told; returns who could not take it.
    pub fn tell_host(&mut self) -> Vec<PeerId> {
        self.tell_host_but(None)
    }

    /// As [`View::tell_host`], but not `newcomer`, who was just told in `joined` or
    /// `resumed`.
    pub fn tell_host_but(&mut self, newcomer: Option<PeerId>) -> Vec<PeerId> {
        let told = self.room.told_host();
        let effects = self.room.settle(newcomer);
        match self.room.told_host() {
            Some(host) if Some(host) != told => self.owe_knocks = self.is_here(host),
            _ => {}
        }
        self.carry_out(effects)
    }

    fn knows(&self, id: PeerId) -> bool {
        self.gone.contains(&id) || self.room.member(id).is_some()
    }

    fn is_here(&self, id: PeerId) -> bool {
        self.room
            .member(id)
            .is_some_and(|p| matches!(p.place.at, Place::Here(_)))
    }

    /// This server's join of `id` was answered: seated as change `seq`, with `others`
    /// there, and the room's host and lock as Redis `said`. Brings the view to that
    /// change; returns what the read found (to carry out) and the room as the newcomer is
    /// told it.
    pub fn welcome(
        &mut self,
        (id, seq): (PeerId, u64),
        others: Vec<Listed>,
        said: RoomState,
        this_server: &str,
        now: Instant,
    ) -> (Synced, RoomState) {
        let synced = self.sync(seq, others, this_server, now);
        self.chose(said.host, seq);
        self.lock_as_of(said.locked, seq);
        let state = RoomState {
            host: self.host_with(Some((id, seq))),
            locked: self.locked(),
        };
        (synced, state)
    }

    /// Seats this server's newcomer `me`, whose `joined` was posted to `mailbox`: they
    /// hear of whoever was seated after them and is known here (those listed them in
    /// their own `joined`), those seated before hear of them, and who hosts is settled.
    /// Returns who could not take the news.
    pub fn seat_here(&mut self, me: Person, mailbox: &Mailbox) -> Vec<PeerId> {
        let (id, seq) = (me.info.id, me.seq);
        for later in self.people().iter().filter(|p| p.seq > seq) {
            mailbox.post(encode(&ServerMessage::PeerJoined {
                peer: later.info.clone(),
                polite: false,
            }));
        }
        let mut unreachable = self.arrived(me);
        unreachable.extend(self.tell_host_but(Some(id)));
        unreachable
    }

    /// A resume of `you`'s seat, held here, was answered: the seat's next attachment is
    /// `next`, and Redis `said` who hosts and whether the room is locked as of a change.
    /// The seat goes to `mailbox`: `resumed` first, then what waited for it; a connection
    /// still holding it is told `seat_taken` and closed. Nobody else is told. Refused
    /// `invalid_token` if another connection took the seat meanwhile.
    pub fn take_back(
        &mut self,
        room: &str,
        you: &PeerInfo,
        next: u64,
        (said, change): (RoomState, u64),
        rules: &RoomRules,
        mailbox: &Mailbox,
    ) -> Result<TakenBack, ErrorCode> {
        let id = you.id;
        match self.here(id, None).map(|at| at.epoch()) {
            Some(epoch) if epoch + 1 == next => {}
            _ => return Err(ErrorCode::InvalidToken),
        }
        self.chose(said.host, change);
        self.lock_as_of(said.locked, change);
        let state = RoomState {
            host: self.host(),
            locked: self.locked(),
        };
        let resumed = rules.resumed(room, you, next, self.others(id), state);
        let take_back = || rules.seat_taken(room, you, next);
        let Some(at) = self.here(id, None) else {
            return Err(ErrorCode::InvalidToken);
        };
        Ok(match at.take_over(mailbox, encode(&resumed), take_back) {
            Some(epoch) => TakenBack::Here {
                epoch,
                hosting: state.host == Some(id),
            },
            None => TakenBack::NotReading,
        })
    }

    /// `id` left as change `seq` (`None`: some change this view cannot place, freed
    /// already), removed by the host `removed_by` if that is why: their connection here,
    /// if any, is told so; those who knew hear they left, and who hosts is settled.
    /// Returns who could not take the news.
    pub fn left(
        &mut self,
        id: PeerId,
        seq: Option<u64>,
        removed_by: Option<PeerId>,
        now: Instant,
    ) -> Vec<PeerId> {
        if let Some(seq) = seq {
            self.heard(seq, now);
        }
        if let (Some(by), Some(person)) = (removed_by, self.person(id)) {
            if let Place::Here(at) = &mut person.place.at {
                at.removed(encode(&ServerMessage::Removed { by }));
            }
        }
        let mut unreachable = self.remove(id, seq.unwrap_or(u64::MAX));
        unreachable.extend(self.tell_host());
        unreachable
    }

    /// The host handed the role to `peer` as change `seq`: everyone here is told.
    pub fn host_chosen(&mut self, peer: PeerId, seq: u64, now: Instant) -> Vec<PeerId> {
        self.heard(seq, now);
        self.chose(Some(peer), seq);
        self.tell_host()
    }

    /// The room was `locked` (or unlocked) as change `seq`: everyone here is told, unless
    /// the news is stale or changes nothing.
    pub fn lock_changed(&mut self, locked: bool, seq: u64, now: Instant) -> Vec<PeerId> {
        self.heard(seq, now);
        match self.lock_as_of(locked, seq) {
            true => self.tell_everyone(&ServerMessage::Locked { locked }),
            false => Vec::new(),
        }
    }

    /// Adds `person` with nobody told (this server's own, whose seat the others know of
    /// already, or will from Redis).
    pub fn seat_quietly(&mut self, person: Person) {
        let _told_nobody: Vec<Effect<()>> =
            self.room.arrive_at(person.info, person.seq, person.place);
    }

    /// Takes `id` out with nobody told, to be added again ([`View::seat_quietly`]).
    pub fn take_quietly(&mut self, id: PeerId) -> Option<Person> {
        self.room.take(id)
    }

    /// Takes `id` out as change `seq`, telling those of this server's people who knew of
    /// them.
    pub fn remove(&mut self, id: PeerId, seq: u64) -> Vec<PeerId> {
        self.gone.insert(id);
        let effects = self.room.remove_at(&[id], seq);
        self.carry_out(effects)
    }

    /// Delivers what the room model says to this server's people (the others' servers
    /// hear it from Redis); returns who could not take it.
    fn carry_out(&mut self, effects: Vec<Effect<()>>) -> Vec<PeerId> {
        let mut unreachable = Vec::new();
        for effect in effects {
            // A cluster's door lives in Redis: the model here only ever tells.
            let Effect::Tell { to, message } = effect else {
                continue;
            };
            let text = encode(&message);
            for person in self.room.members_mut() {
                let hears = to.includes(person);
                if let Place::Here(at) = &mut person.place.at {
                    if hears && !at.deliver_news(text.clone()) {
                        unreachable.push(person.info.id);
                    }
                }
            }
        }
        unreachable
    }

    /// Nothing here needs the view any more.
    pub fn unused(&self) -> bool {
        self.arriving == 0 && self.seated_here() == 0
    }

    /// How many of this server's people are here.
    pub fn seated_here(&self) -> usize {
        self.people()
            .iter()
            .filter(|p| matches!(p.place.at, Place::Here(_)))
            .count()
    }
}

#[cfg(test)]
mod tests_support {
    use super::*;
    pub use crate::server::mailbox::MAILBOX;

    pub const HERE: &str = "this";

    pub fn listed(id: u64, seq: u64, server: &str) -> Listed {
        Listed {
            info: PeerInfo {
                id: PeerId(id),
                name: format!("p{id}"),
            },
            seq,
            holder: Holder::Server(server.to_owned()),
        }
    }

    /// A person of this server seated as `seq`, and what they are told.
    pub fn here(view: &mut View, id: u64, seq: u64) -> Mailbox {
        let mailbox = Mailbox::new(&MAILBOX);
        view.seat_quietly(Person {
            info: PeerInfo {
                id: PeerId(id),
                name: format!("p{id}"),
            },
            seq,
            place: Whereabouts::new(Place::Here(Attachment::new(&mailbox)), seq),
        });
        mailbox
    }

    pub fn told(mailbox: &Mailbox) -> Vec<ServerMessage> {
        std::iter::from_fn(|| mailbox.try_next())
            .map(|text| serde_json::from_str(&text).expect("the server's own JSON"))
            .collect()
    }

    pub fn joined(id: u64) -> ServerMessage {
        ServerMessage::PeerJoined {
            peer: PeerInfo {
                id: PeerId(id),
                name: format!("p{id}"),
            },
            polite: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::*;
    use super::*;

    #[test]
    fn a_newcomer_is_announced_only_to_those_seated_before_them_and_only_once() {
        let mut view = View::default();
        let early = here(&mut view, 1, 1);
        let late = here(&mut view, 3, 3);
        // Listed with this server's own (who add themselves) and someone already known.
        let unreachable = view.learn(
            vec![
                listed(2, 2, "other"),
                listed(1, 1, HERE),
                listed(2, 2, "other"),
            ],
            HERE,
        );
        assert!(unreachable.is_empty());
        assert_eq!(told(&early), [joined(2)]);
        assert!(told(&late).is_empty(), "listed them in its own `joined`");
        assert!(view.arrived(listed(2, 2, "other").into()).is_empty());
        assert!(told(&early).is_empty());
        assert_eq!(view.others(PeerId(1)).len(), 2);
    }

    #[test]
    fn a_leaving_is_told_to_those_who_knew_and_a_late_arrival_after_it_is_ignored() {
        let mut view = View::default();
        let early = here(&mut view, 1, 1);
        view.arrived(listed(2, 2, "other").into());
        let late = here(&mut view, 4, 4);
        told(&early);
        view.remove(PeerId(2), 5);
        assert_eq!(told(&early), [ServerMessage::PeerLeft { peer: PeerId(2) }]);
        assert_eq!(told(&late), [ServerMessage::PeerLeft { peer: PeerId(2) }]);
        // Someone who came and went before anyone here heard of them.
        view.remove(PeerId(3), 6);
        view.arrived(listed(3, 3, "other").into());
        assert!(told(&early).is_empty() && told(&late).is_empty());
        assert_eq!(view.others(PeerId(1)), [view.people()[1].info.clone()]);
    }

    #[test]
    fn the_host_is_the_chosen_seat_while_it_is_there_else_the_earliest_and_changes_are_told() {
        let mut view = View::default();
        let mine = here(&mut view, 5, 5);
        view.arrived(listed(2, 2, "other").into());
        view.arrived(listed(3, 3, "other").into());
        told(&mine);
        assert_eq!(view.host(), Some(PeerId(2)));
        assert_eq!(view.host_with(Some((PeerId(1), 1))), Some(PeerId(1)));
        assert!(view.tell_host().is_empty());
        assert_eq!(told(&mine), [ServerMessage::Host { peer: PeerId(2) }]);
        view.tell_host();
        assert!(told(&mine).is_empty(), "told once");
        view.chose(Some(PeerId(3)), 7);
        view.chose(Some(PeerId(5)), 6);
        assert_eq!(view.host(), Some(PeerId(3)), "older news is stale");
        view.tell_host();
        assert_eq!(told(&mine), [ServerMessage::Host { peer: PeerId(3) }]);
        view.remove(PeerId(3), 8);
        view.tell_host();
        assert_eq!(
            told(&mine),
            [
                ServerMessage::PeerLeft { peer: PeerId(3) },
                ServerMessage::Host { peer: PeerId(2) }
            ],
            "the chosen host left: the earliest seat hosts"
        );
    }

    #[test]
    fn the_host_redis_named_hosts_before_this_view_meets_them_and_not_after_they_left() {
        let mut view = View::default();
        let mine = here(&mut view, 3, 3);
        view.arrived(listed(2, 2, "other").into());
        // Seat 1 is this server's own, its join still being answered: Redis says it hosts.
        view.chose(Some(PeerId(1)), 3);
        assert_eq!(view.host(), Some(PeerId(1)));
        told(&mine);
        view.tell_host();
        assert_eq!(told(&mine), [ServerMessage::Host { peer: PeerId(1) }]);
        view.remove(PeerId(1), 4);
        assert_eq!(
            view.host(),
            Some(PeerId(2)),
            "gone: the earliest seat hosts"
        );
    }

    #[test]
    fn a_view_is_unused_once_nobody_here_needs_it() {
        let mut view = View::default();
        view.arrived(listed(2, 2, "other").into());
        assert!(view.unused());
        view.arriving = 1;
        assert!(!view.unused());
        view.arriving = 0;
        here(&mut view, 1, 1);
        assert!(!view.unused());
        assert_eq!(view.seated_here(), 1);
        assert!(view.here(PeerId(1), None).is_some());
        assert!(view.here(PeerId(2), None).is_none());
    }
}

#[cfg(test)]
mod order {
    use super::tests_support::*;
    use super::*;

    #[test]
    fn a_change_missing_for_the_gap_wait_asks_for_a_read_and_one_that_comes_late_does_not() {
        let t0 = Instant::now();
        let mut view = View::default();
        view.heard(1, t0);
        view.heard(2, t0);
        assert!(!view.has_gap(t0 + GAP_WAIT));
        // 3 is an answer still on its way: 4 came first.
        view.heard(4, t0);
        assert!(!view.has_gap(t0 + GAP_WAIT / 2));
        view.heard(3, t0 + GAP_WAIT / 2);
        assert!(!view.has_gap(t0 + GAP_WAIT * 2));
        assert!(!view.is_new(4) && view.is_new(5));
        // 5 is lost.
        view.heard(6, t0);
        assert!(view.has_gap(t0 + GAP_WAIT));
        assert!(!view.is_new(6));
        view.sync(6, Vec::new(), HERE, t0);
        assert!(!view.has_gap(t0 + GAP_WAIT));
        // The subscription was lost: whatever came last may be missing.
        view.doubt();
        assert!(view.has_gap(t0));
        view.sync(6, Vec::new(), HERE, t0);
        assert!(!view.has_gap(t0 + GAP_WAIT));
    }

    #[test]
    fn reading_the_room_brings_in_who_was_missed_and_takes_out_who_left_unheard() {
        let t0 = Instant::now();
        let mut view = View::default();
        let ann = here(&mut view, 1, 1);
        view.arrived(listed(2, 2, "b").into());
        view.arrived(listed(3, 3, "b").into());
        view.heard(3, t0);
        told(&ann);
        // Missed: 3 left (change 4) and 5 joined on b (change 5). 6 joins later, heard.
        view.arrived(listed(6, 6, "b").into());
        view.heard(6, t0);
        assert_eq!(told(&ann), [joined(6)]);
        let synced = view.sync(
            5,
            vec![listed(1, 1, HERE), listed(2, 2, "b"), listed(5, 5, "b")],
            HERE,
            t0,
        );
        assert_eq!(synced, Synced::default());
        assert_eq!(
            told(&ann),
            [ServerMessage::PeerLeft { peer: PeerId(3) }, joined(5)]
        );
        let ids: Vec<u64> = view.people().iter().map(|p| p.info.id.0).collect();
        assert_eq!(ids, [1, 2, 6, 5], "6 came after the read and stays");
        assert!(!view.has_gap(t0 + GAP_WAIT));
        // News of what the read accounted for changes nothing.
        assert!(!view.is_new(4) && !view.is_new(5));
    }

    #[test]
    fn a_read_moves_seats_only_on_news_newer_than_what_placed_them() {
        let t0 = Instant::now();
        let mut view = View::default();
        here(&mut view, 1, 1);
        view.arrived(listed(2, 2, "b").into());
        // 2 moved to c at change 7 (heard); a read as of change 5 still says b.
        let person = view.person(PeerId(2)).expect("arrived");
        person.place.at = Place::There(Holder::Server("c".into()));
        person.place.placed_at = 7;
        view.sync(5, vec![listed(2, 2, "b")], HERE, t0);
        assert!(matches!(&view.people()[1].place.at, Place::There(Holder::Server(s)) if s == "c"));
        // One as of change 9 says d; and 1, this server's, moved to e.
        let synced = view.sync(9, vec![listed(2, 2, "d"), listed(1, 1, "e")], HERE, t0);
        assert!(matches!(&view.people()[1].place.at, Place::There(Holder::Server(s)) if s == "d"));
        assert_eq!(synced.moved_away, [(PeerId(1), "e".to_owned(), 9)]);
        assert_eq!(view.people()[1].place.placed_at, 9);
    }
}
