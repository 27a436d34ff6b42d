//! What one server knows of one shared room, and the order in which its people hear of
//! the others.
//!
//! Every seat change takes a number from its room's counter, in the script that makes
//! it. A person's `joined` lists everyone seated before them; they are told
//! `peer_joined` of everyone seated after them, and `peer_left` of anyone who leaves
//! after they arrived, whichever server learns of it first. So nobody hears of someone
//! twice, or of a leaving before the arriving.

use super::store::{Holder, Listed};
use crate::protocol::signaling::{PeerId, PeerInfo, ServerMessage};
use crate::server::rooms::{encode, Attachment, Seat};
use std::collections::HashSet;

/// A person in a room this server has a view of.
pub(super) struct Person {
    pub info: PeerInfo,
    /// Their seat's number in the room's order.
    pub seq: u64,
    pub place: Place,
    /// Being freed in Redis: nothing may resume or reach the seat meanwhile.
    pub leaving: bool,
}

pub(super) enum Place {
    /// Connected to this server.
    Here(Attachment),
    /// Held elsewhere: by another server, or by nobody for a while.
    There(Holder),
}

impl From<Listed> for Person {
    fn from(listed: Listed) -> Person {
        Person {
            info: listed.info,
            seq: listed.seq,
            place: Place::There(listed.holder),
            leaving: false,
        }
    }
}

/// What this server knows of one room.
#[derive(Default)]
pub(super) struct View {
    pub people: Vec<Person>,
    /// Who left, so that news of their arrival coming late is ignored.
    gone: HashSet<PeerId>,
    /// Joins from this server under way: news for the room is kept for them.
    pub arriving: usize,
}

impl View {
    /// `id`'s attachment here, if they are connected to this server (and, given `seat`,
    /// it is that seat's).
    pub fn here(&mut self, id: PeerId, seat: Option<&Seat>) -> Option<&mut Attachment> {
        self.people.iter_mut().find_map(|p| match &mut p.place {
            Place::Here(at)
                if p.info.id == id && !p.leaving && seat.is_none_or(|seat| at.is(seat)) =>
            {
                Some(at)
            }
            _ => None,
        })
    }

    pub fn person(&mut self, id: PeerId) -> Option<&mut Person> {
        self.people.iter_mut().find(|p| p.info.id == id)
    }

    /// Everyone but `id`, in the order of the view.
    pub fn others(&self, id: PeerId) -> Vec<PeerInfo> {
        self.people
            .iter()
            .filter(|p| p.info.id != id)
            .map(|p| p.info.clone())
            .collect()
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

    /// Someone of another server arrived: those here seated before them are told.
    /// Returns who could not take the news; ignored if already known.
    pub fn arrived(&mut self, person: Person) -> Vec<PeerId> {
        if self.knows(person.info.id) {
            return Vec::new();
        }
        let unreachable = self.tell_earlier(
            person.seq,
            &ServerMessage::PeerJoined {
                peer: person.info.clone(),
                polite: false,
            },
        );
        self.people.push(person);
        unreachable
    }

    fn knows(&self, id: PeerId) -> bool {
        self.gone.contains(&id) || self.people.iter().any(|p| p.info.id == id)
    }

    /// Tells this server's people seated before `seq`; returns who could not take it.
    pub fn tell_earlier(&mut self, seq: u64, message: &ServerMessage) -> Vec<PeerId> {
        let text = encode(message);
        self.people
            .iter_mut()
            .filter(|p| p.seq < seq)
            .filter_map(|p| match &mut p.place {
                Place::Here(at) => (!at.deliver_news(text.clone())).then_some(p.info.id),
                Place::There(_) => None,
            })
            .collect()
    }

    /// Takes `id` out, telling those of this server's people who knew of them.
    pub fn remove(&mut self, id: PeerId, seq: u64) -> Vec<PeerId> {
        self.gone.insert(id);
        let before = self.people.len();
        self.people.retain(|p| p.info.id != id);
        if self.people.len() == before {
            return Vec::new();
        }
        self.tell_earlier(seq, &ServerMessage::PeerLeft { peer: id })
    }

    /// Nothing here needs the view any more.
    pub fn unused(&self) -> bool {
        self.arriving == 0
            && !self
                .people
                .iter()
                .any(|p| matches!(p.place, Place::Here(_)))
    }

    /// How many of this server's people are here.
    pub fn seated_here(&self) -> usize {
        self.people
            .iter()
            .filter(|p| matches!(p.place, Place::Here(_)))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::mailbox::{Mailbox, MAILBOX};

    const HERE: &str = "this";

    fn listed(id: u64, seq: u64, server: &str) -> Listed {
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
    fn here(view: &mut View, id: u64, seq: u64) -> Mailbox {
        let mailbox = Mailbox::new(MAILBOX);
        view.people.push(Person {
            info: PeerInfo {
                id: PeerId(id),
                name: format!("p{id}"),
            },
            seq,
            place: Place::Here(Attachment::new(&mailbox)),
            leaving: false,
        });
        mailbox
    }

    fn told(mailbox: &Mailbox) -> Vec<ServerMessage> {
        std::iter::from_fn(|| mailbox.try_next())
            .map(|text| serde_json::from_str(&text).expect("the server's own JSON"))
            .collect()
    }

    fn joined(id: u64) -> ServerMessage {
        ServerMessage::PeerJoined {
            peer: PeerInfo {
                id: PeerId(id),
                name: format!("p{id}"),
            },
            polite: false,
        }
    }

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
        assert_eq!(view.others(PeerId(1)), [view.people[1].info.clone()]);
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
