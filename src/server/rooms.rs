//! Who sits in which room, and delivery of messages to them.
//!
//! One lock guards the whole registry, and every change (join, relay, leave) happens under
//! it, so a room can never be over-filled by simultaneous joins and a peer never sees
//! "left" before "joined". Nothing awaits while the lock is held.

use crate::protocol::{ErrorCode, IceServer, PeerId, PeerInfo, ServerMessage, Signal};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use tokio::sync::mpsc;

/// A participant's queue of messages waiting to be written to its socket.
pub type Outbox = mpsc::Sender<ServerMessage>;

/// Where a connection sits, once joined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seat {
    pub room: String,
    pub id: PeerId,
}

struct Member {
    info: PeerInfo,
    outbox: Outbox,
}

pub struct Rooms {
    rooms: Mutex<HashMap<String, Vec<Member>>>,
    capacity: usize,
    ice_servers: Vec<IceServer>,
    next_id: AtomicU64,
}

impl Rooms {
    pub fn new(capacity: usize, ice_servers: Vec<IceServer>) -> Rooms {
        Rooms {
            rooms: Mutex::new(HashMap::new()),
            capacity,
            ice_servers,
            next_id: AtomicU64::new(1),
        }
    }

    /// Seats a new participant, sends it `joined` and tells the others `peer_joined`.
    /// `name` and `room` must already be validated.
    pub fn join(&self, room: &str, name: &str, outbox: &Outbox) -> Result<Seat, ErrorCode> {
        let mut rooms = self.lock();
        let members = rooms.entry(room.to_owned()).or_default();
        if members.len() >= self.capacity {
            return Err(ErrorCode::RoomFull);
        }
        let info = PeerInfo {
            id: PeerId(self.next_id.fetch_add(1, Ordering::Relaxed)),
            name: name.to_owned(),
        };
        let joined = ServerMessage::Joined {
            you: info.id,
            peers: members.iter().map(|m| m.info.clone()).collect(),
            ice_servers: self.ice_servers.clone(),
        };
        // Sent under the lock so that `joined` is queued before anything a peer sends us.
        if outbox.try_send(joined).is_err() {
            if members.is_empty() {
                rooms.remove(room);
            }
            return Err(ErrorCode::BadMessage);
        }
        let announce = ServerMessage::PeerJoined { peer: info.clone() };
        let unreachable = send_to_all(members, &announce);
        let seat = Seat {
            room: room.to_owned(),
            id: info.id,
        };
        members.push(Member {
            info,
            outbox: outbox.clone(),
        });
        remove_members(&mut rooms, room, unreachable);
        Ok(seat)
    }

    /// Delivers `signal` from `seat` to peer `to` in the same room.
    pub fn relay(&self, seat: &Seat, to: PeerId, signal: Signal) -> Result<(), ErrorCode> {
        let mut rooms = self.lock();
        let members = rooms.get(&seat.room).ok_or(ErrorCode::NotJoined)?;
        if !members.iter().any(|m| m.info.id == seat.id) {
            return Err(ErrorCode::NotJoined);
        }
        let target = members
            .iter()
            .find(|m| m.info.id == to && to != seat.id)
            .ok_or(ErrorCode::UnknownPeer)?;
        let message = ServerMessage::Signal {
            from: seat.id,
            signal,
        };
        if target.outbox.try_send(message).is_err() {
            remove_members(&mut rooms, &seat.room, vec![to]);
        }
        Ok(())
    }

    /// Frees the seat and tells the others. Leaving twice is harmless.
    pub fn leave(&self, seat: &Seat) {
        remove_members(&mut self.lock(), &seat.room, vec![seat.id]);
    }

    /// How many rooms have anyone in them.
    pub fn room_count(&self) -> usize {
        self.lock().len()
    }

    /// Who is in `room`, in join order.
    pub fn members(&self, room: &str) -> Vec<PeerInfo> {
        self.lock()
            .get(room)
            .map(|members| members.iter().map(|m| m.info.clone()).collect())
            .unwrap_or_default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Vec<Member>>> {
        // A panic elsewhere must not take every room down with it; the map stays consistent
        // because each operation finishes its change before anything can panic.
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Queues `message` for every member; returns those whose queue is full or closed.
fn send_to_all(members: &[Member], message: &ServerMessage) -> Vec<PeerId> {
    members
        .iter()
        .filter(|m| m.outbox.try_send(message.clone()).is_err())
        .map(|m| m.info.id)
        .collect()
}

/// Removes `gone` from `room`, telling the rest; a member that cannot take that news is
/// removed too (its socket is dead or it stopped reading). Drops the room once empty.
fn remove_members(rooms: &mut HashMap<String, Vec<Member>>, room: &str, mut gone: Vec<PeerId>) {
    let Some(members) = rooms.get_mut(room) else {
        return;
    };
    while let Some(id) = gone.pop() {
        let before = members.len();
        members.retain(|m| m.info.id != id);
        if members.len() < before {
            gone.extend(send_to_all(members, &ServerMessage::PeerLeft { peer: id }));
        }
    }
    if members.is_empty() {
        rooms.remove(room);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn outbox() -> (Outbox, mpsc::Receiver<ServerMessage>) {
        mpsc::channel(16)
    }

    fn drain(rx: &mut mpsc::Receiver<ServerMessage>) -> Vec<ServerMessage> {
        std::iter::from_fn(|| rx.try_recv().ok()).collect()
    }

    #[test]
    fn second_joiner_sees_the_first_and_the_first_is_told() {
        let rooms = Rooms::new(2, vec![]);
        let (a, mut a_rx) = outbox();
        let (b, mut b_rx) = outbox();
        let seat_a = rooms.join("r", "Alice", &a).unwrap();
        let seat_b = rooms.join("r", "Bob", &b).unwrap();
        assert_ne!(seat_a.id, seat_b.id);
        let a_msgs = drain(&mut a_rx);
        assert!(matches!(&a_msgs[0], ServerMessage::Joined { peers, .. } if peers.is_empty()));
        assert!(matches!(&a_msgs[1], ServerMessage::PeerJoined { peer } if peer.name == "Bob"));
        let b_msgs = drain(&mut b_rx);
        assert!(
            matches!(&b_msgs[..], [ServerMessage::Joined { you, peers, .. }] if *you == seat_b.id && peers[0].id == seat_a.id)
        );
    }

    #[test]
    fn capacity_is_enforced() {
        let rooms = Rooms::new(2, vec![]);
        let boxes: Vec<_> = (0..3).map(|_| outbox()).collect();
        assert!(rooms.join("r", "a", &boxes[0].0).is_ok());
        assert!(rooms.join("r", "b", &boxes[1].0).is_ok());
        assert_eq!(rooms.join("r", "c", &boxes[2].0), Err(ErrorCode::RoomFull));
        assert_eq!(rooms.members("r").len(), 2);
        // Another room is unaffected.
        assert!(rooms.join("other", "c", &boxes[2].0).is_ok());
    }

    #[test]
    fn simultaneous_joins_admit_exactly_capacity() {
        let rooms = Arc::new(Rooms::new(2, vec![]));
        let results: Vec<_> = (0..16)
            .map(|i| {
                let rooms = rooms.clone();
                std::thread::spawn(move || {
                    let (tx, rx) = outbox();
                    (rooms.join("race", &format!("p{i}"), &tx).is_ok(), tx, rx)
                })
            })
            .map(|h| h.join().unwrap())
            .collect();
        assert_eq!(results.iter().filter(|r| r.0).count(), 2);
        assert_eq!(rooms.members("race").len(), 2);
    }

    #[test]
    fn leave_notifies_and_empty_rooms_disappear() {
        let rooms = Rooms::new(2, vec![]);
        let (a, mut a_rx) = outbox();
        let (b, _b_rx) = outbox();
        let seat_a = rooms.join("r", "a", &a).unwrap();
        let seat_b = rooms.join("r", "b", &b).unwrap();
        drain(&mut a_rx);
        rooms.leave(&seat_b);
        assert_eq!(
            drain(&mut a_rx),
            vec![ServerMessage::PeerLeft { peer: seat_b.id }]
        );
        rooms.leave(&seat_b);
        assert!(drain(&mut a_rx).is_empty(), "leaving twice says nothing");
        assert_eq!(rooms.room_count(), 1);
        rooms.leave(&seat_a);
        assert_eq!(rooms.room_count(), 0);
        // The seat can be taken again.
        let (c, _c_rx) = outbox();
        assert!(rooms.join("r", "c", &c).is_ok());
    }

    #[test]
    fn relay_reaches_only_the_addressee_in_the_same_room() {
        let rooms = Rooms::new(3, vec![]);
        let (a, _a_rx) = outbox();
        let (b, mut b_rx) = outbox();
        let (c, mut c_rx) = outbox();
        let (x, mut x_rx) = outbox();
        let seat_a = rooms.join("r", "a", &a).unwrap();
        let seat_b = rooms.join("r", "b", &b).unwrap();
        rooms.join("r", "c", &c).unwrap();
        let seat_x = rooms.join("elsewhere", "x", &x).unwrap();
        drain(&mut b_rx);
        drain(&mut c_rx);
        drain(&mut x_rx);
        let offer = Signal::Offer { sdp: "v=0".into() };
        rooms.relay(&seat_a, seat_b.id, offer.clone()).unwrap();
        assert_eq!(
            drain(&mut b_rx),
            vec![ServerMessage::Signal {
                from: seat_a.id,
                signal: offer.clone()
            }]
        );
        assert!(drain(&mut c_rx).is_empty());
        assert_eq!(
            rooms.relay(&seat_a, seat_x.id, offer.clone()),
            Err(ErrorCode::UnknownPeer)
        );
        assert_eq!(
            rooms.relay(&seat_a, seat_a.id, offer.clone()),
            Err(ErrorCode::UnknownPeer)
        );
        assert!(drain(&mut x_rx).is_empty());
        rooms.leave(&seat_a);
        assert_eq!(
            rooms.relay(&seat_a, seat_b.id, offer),
            Err(ErrorCode::NotJoined)
        );
    }

    #[test]
    fn a_member_that_stops_reading_is_removed() {
        let rooms = Rooms::new(2, vec![]);
        let (a, _a_rx) = outbox();
        let (slow, mut slow_rx) = mpsc::channel(1);
        let seat_slow = rooms.join("r", "slow", &slow).unwrap();
        let seat_a = rooms.join("r", "a", &a).unwrap();
        // slow's single slot holds `joined`; `peer_joined` did not fit, so it was dropped.
        assert_eq!(rooms.members("r").len(), 1);
        assert_eq!(
            rooms.relay(&seat_a, seat_slow.id, Signal::Answer { sdp: String::new() }),
            Err(ErrorCode::UnknownPeer)
        );
        assert!(matches!(
            slow_rx.try_recv(),
            Ok(ServerMessage::Joined { .. })
        ));
    }
}
