//! A locked room's door, shared between servers. Whether a room is locked, who waits at
//! its door and who was let in are Redis state (`<room>:locked`, `:knocks`, `:admitted`),
//! changed by the scripts: the join script lists a knock instead of seating at a locked
//! room and tells the host's server (`knock`); the host's answer tells the knock's server
//! (`answered`), which seats an admitted person past the lock, once; a wait that ends
//! on the knock's server tells the host's (`knock_ended`). Each server keeps its own
//! knocking connections here, with their mailboxes, and its own per-address limits.

use super::contract::{Door, Unknock};
use super::pubsub::Verdict;
use super::SharedRooms;
use crate::protocol::signaling::{ErrorCode, KnockId, PeerId, ServerMessage};
use crate::server::mailbox::Mailbox;
use crate::server::room::door::{self, KnockLimits};
use crate::server::room::seat::{KnockOutcome, Knocking, NoSeat, Seat};
use crate::server::seats::encode;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

/// This server's connections waiting at doors.
#[derive(Default)]
pub(super) struct Doors {
    knocks: HashMap<KnockId, Waiting>,
    /// Who knocked lately at each room, from here, for the per-address rate (a room's
    /// memory goes once its minute is over).
    limits: HashMap<String, KnockLimits>,
}

/// One connection at a door.
struct Waiting {
    room: String,
    name: String,
    mailbox: Mailbox,
    address: Option<IpAddr>,
    /// Let in: the seat this server gave them, until their connection takes it.
    seat: Option<Seat>,
}

impl Doors {
    /// Why the person at `address` may not wait at `room`'s door now, if they may not.
    fn limit(&mut self, room: &str, address: Option<IpAddr>) -> Option<ErrorCode> {
        address?;
        let from_there = self
            .knocks
            .values()
            .filter(|k| k.room == room && k.address == address)
            .count();
        let now = Instant::now();
        self.limits.retain(|_, limits| !limits.is_idle(now));
        // The whole list is counted in Redis (the join script's most knocks).
        let limits = self.limits.entry(room.to_owned()).or_default();
        limits.check(address, 0, from_there, now).err()
    }
}

impl SharedRooms {
    /// How a join of `room` from `address` meets its door: as a new knock, or as the
    /// knock the host let in.
    pub(super) fn door_for(
        &self,
        room: &str,
        address: Option<IpAddr>,
        let_in: Option<KnockId>,
    ) -> (Door, Option<ErrorCode>) {
        let limit = match let_in {
            Some(_) => None,
            None => self.doors().limit(room, address),
        };
        let door = Door {
            knock: let_in.unwrap_or_else(|| KnockId(rand::random::<u64>() >> 11)),
            let_in: let_in.is_some(),
            may_knock: limit.is_none(),
        };
        (door, limit)
    }

    /// The join script listed this person at `room`'s door as `knock`: they are told
    /// whom they wait for, and wait here.
    pub(super) fn wait_at_door(
        self: &Arc<Self>,
        room: &str,
        name: &str,
        mailbox: &Mailbox,
        address: Option<IpAddr>,
        knock: KnockId,
        host_name: String,
    ) -> NoSeat {
        if !mailbox.post(encode(&ServerMessage::Waiting { host_name })) {
            self.unknock(room, knock);
            return NoSeat::NotReading;
        }
        let mut doors = self.doors();
        let limits = doors.limits.entry(room.to_owned()).or_default();
        limits.count(address, Instant::now());
        doors.knocks.insert(
            knock,
            Waiting {
                room: room.to_owned(),
                name: name.to_owned(),
                mailbox: mailbox.clone(),
                address,
                seat: None,
            },
        );
        NoSeat::Waiting(Knocking {
            room: room.to_owned(),
            knock,
        })
    }

    /// An admitted knock has its seat: its connection is told, and takes it at once.
    pub(super) fn seated_at_door(&self, knock: KnockId, seat: &Seat) {
        if let Some(waiting) = self.doors().knocks.get_mut(&knock) {
            waiting.seat = Some(seat.clone());
            waiting.mailbox.door_answered();
        }
    }

    /// How `knocking` stands; a seat the host gave it is the connection's from now on.
    pub fn knock_outcome(&self, knocking: &Knocking) -> KnockOutcome {
        let mut doors = self.doors();
        match doors.knocks.get(&knocking.knock).map(|k| k.seat.is_some()) {
            None => KnockOutcome::Ended,
            Some(false) => KnockOutcome::Waiting,
            Some(true) => {
                let seat = doors
                    .knocks
                    .remove(&knocking.knock)
                    .and_then(|k| k.seat)
                    .expect("seated, as just seen");
                KnockOutcome::Seated(seat)
            }
        }
    }

    /// The knocking connection gave up (`leave`) or closed: off the list, and the host
    /// is told. If the host had let it in meanwhile, that seat is returned (to be left).
    pub fn withdraw_knock(self: &Arc<Self>, knocking: &Knocking) -> Option<Seat> {
        let waiting = self.doors().knocks.remove(&knocking.knock)?;
        if waiting.seat.is_none() {
            self.unknock(&knocking.room, knocking.knock);
        }
        waiting.seat
    }

    /// Nobody let `knocking` in in time: it is told (`knock_expired`), and so is the host.
    pub fn expire_knock(self: &Arc<Self>, knocking: &Knocking) {
        let mut doors = self.doors();
        if doors
            .knocks
            .get(&knocking.knock)
            .is_none_or(|k| k.seat.is_some())
        {
            return;
        }
        let waiting = doors
            .knocks
            .remove(&knocking.knock)
            .expect("waiting, as just seen");
        drop(doors);
        waiting.mailbox.post(encode(&door::expired()));
        waiting.mailbox.door_answered();
        self.unknock(&knocking.room, knocking.knock);
    }

    /// The host answered `knock` (or everyone left): an admitted person is seated here,
    /// past the lock; a turned-away one is told.
    pub(super) fn answered(self: &Arc<Self>, knock: KnockId, verdict: Verdict, by: Option<String>) {
        let mut doors = self.doors();
        let Some(waiting) = doors.knocks.get(&knock) else {
            return;
        };
        let told = match verdict {
            Verdict::Admit => {
                let (room, name, mailbox, address) = (
                    waiting.room.clone(),
                    waiting.name.clone(),
                    waiting.mailbox.clone(),
                    waiting.address,
                );
                drop(doors);
                let rooms = self.clone();
                tokio::spawn(async move {
                    let joined = rooms
                        .join_as(&room, &name, &mailbox, address, Some(knock))
                        .await;
                    if let Err(no_seat) = joined {
                        rooms.doors().knocks.remove(&knock);
                        if let NoSeat::Refused(code) = no_seat {
                            mailbox.post(encode(&door::refused(code)));
                        }
                        mailbox.door_answered();
                    }
                });
                return;
            }
            Verdict::Deny => door::denied(by.as_deref()),
            Verdict::Empty => door::everyone_left(),
        };
        if let Some(waiting) = doors.knocks.remove(&knock) {
            waiting.mailbox.post(encode(&told));
            waiting.mailbox.door_answered();
        }
    }

    /// `host`, here, became host of `room`: they are told who waits at its door (read
    /// from Redis; what the host heard before is told again, which changes nothing).
    pub(super) fn tell_knocks(self: &Arc<Self>, room: &str, host: PeerId) {
        let (rooms, room) = (self.clone(), room.to_owned());
        tokio::spawn(async move {
            let knocks = match rooms.store.knocks(&room).await {
                Ok(knocks) => knocks,
                Err(e) => {
                    tracing::warn!(%room, "cannot read who waits at the door: {e}");
                    return;
                }
            };
            let mut unreachable = Vec::new();
            if let Some(view) = rooms.lock().get_mut(&room) {
                if view.host() == Some(host) {
                    for (knock, name) in knocks {
                        unreachable
                            .extend(view.tell_the_host(&ServerMessage::Knock { knock, name }));
                    }
                }
            }
            for id in unreachable {
                rooms.evict(&room, id);
            }
        });
    }

    /// Takes `knock` off `room`'s list in Redis, telling the host's server; once, in the
    /// background (a knock Redis keeps meanwhile is answered by a host into the void).
    fn unknock(self: &Arc<Self>, room: &str, knock: KnockId) {
        let (rooms, room) = (self.clone(), room.to_owned());
        tokio::spawn(async move {
            if let Err(e) = rooms.store.run(&Unknock { room: &room, knock }).await {
                tracing::warn!(%room, "cannot take a knock off the list: {e}");
            }
        });
    }

    fn doors(&self) -> std::sync::MutexGuard<'_, Doors> {
        // Every change completes under the lock before anything could panic.
        self.doors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
