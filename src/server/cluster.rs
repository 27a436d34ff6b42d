//! Rooms shared by several Tandem servers through Redis.
//!
//! Who sits in which room is Redis state, changed only by the Lua scripts below: a seat
//! check and the seat it grants are one atomic step, however many servers join at once,
//! and whether a room is empty is decided there too (never from one server's count).
//!
//! Each server keeps a *view* of the rooms its own people are in: everyone there, on which
//! server, and for its own people their mailbox (as `rooms` does). A relay between two
//! people on this server is delivered here and never touches Redis; one to a person on
//! another server is one PUBLISH to that server's channel, and every server subscribes to
//! its own channel only. One publisher task sends in order, so one server's messages to
//! another arrive in the order they were made.
//!
//! Order across servers: every seat change takes a number from its room's counter, in the
//! script that makes it. A person's `joined` lists everyone seated before them; they are
//! told `peer_joined` of everyone seated after them, and `peer_left` of anyone who leaves
//! after they arrived, whichever server learns of it first. So nobody hears of someone
//! twice, or of a leaving before the arriving.

use super::rooms::{encode, Admitted, Attachment, Mailbox, NoSeat, RoomRules, Seat};
use crate::protocol::signaling::{ErrorCode, PeerId, PeerInfo, ServerMessage, Signal};
use axum::extract::ws::Utf8Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ProtocolVersion, PushKind, Value};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long one Redis call may take before the person is told `unavailable`.
const REDIS_TIMEOUT: Duration = Duration::from_secs(1);
/// Messages sent to Redis in one pipeline at most.
const PUBLISH_BATCH: usize = 256;
/// How often the subscription's connection is checked, so that it reconnects (and
/// subscribes again) after an outage even when no message comes.
const SUBSCRIPTION_CHECK: Duration = Duration::from_secs(2);

/// Seats a person: refuses a full room, refuses an id in use, else takes the room's next
/// number and returns it with everyone else there.
/// KEYS[1] room hash; ARGV id, server, name, capacity.
/// The hash holds `#seq` (the counter) and `<id>` = `<seq> <server> <name>` per seat.
static JOIN: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
        local seats = redis.call('HLEN', KEYS[1])
        if seats > 0 then seats = seats - 1 end
        if seats >= tonumber(ARGV[4]) then return {'full'} end
        if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return {'taken'} end
        local seq = redis.call('HINCRBY', KEYS[1], '#seq', 1)
        redis.call('HSET', KEYS[1], ARGV[1], seq .. ' ' .. ARGV[2] .. ' ' .. ARGV[3])
        local out = {'seated', tostring(seq)}
        local all = redis.call('HGETALL', KEYS[1])
        for i = 1, #all, 2 do
          if all[i] ~= '#seq' and all[i] ~= ARGV[1] then
            table.insert(out, all[i])
            table.insert(out, all[i + 1])
          end
        end
        return out
        ",
    )
});

/// Frees a seat this server holds: returns the room's next number and the servers of the
/// people still there; the room is deleted once nobody is left.
/// KEYS[1] room hash; ARGV id, server.
static LEAVE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
        local seat = redis.call('HGET', KEYS[1], ARGV[1])
        if not seat then return {'gone'} end
        local server = string.match(seat, '^%d+ (%S+) ')
        if server ~= ARGV[2] then return {'elsewhere'} end
        redis.call('HDEL', KEYS[1], ARGV[1])
        local seq = redis.call('HINCRBY', KEYS[1], '#seq', 1)
        local out = {'left', tostring(seq)}
        local all = redis.call('HGETALL', KEYS[1])
        if #all <= 2 then
          redis.call('DEL', KEYS[1])
          return out
        end
        local seen = {}
        for i = 1, #all, 2 do
          if all[i] ~= '#seq' then
            local other = string.match(all[i + 1], '^%d+ (%S+) ')
            if not seen[other] then
              seen[other] = true
              table.insert(out, other)
            end
          end
        end
        return out
        ",
    )
});

/// What one server tells another, on the addressee's channel.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Envelope {
    /// `peer` took seat number `seq` in `room`, on `server`.
    Joined {
        room: String,
        peer: PeerInfo,
        seq: u64,
        server: String,
    },
    /// `peer` left `room`; the change took number `seq`.
    Left {
        room: String,
        peer: PeerId,
        seq: u64,
    },
    /// An encoded server message for the person `to` in `room`.
    Deliver {
        room: String,
        to: PeerId,
        text: String,
    },
}

/// A person in a room this server has a view of.
struct Person {
    info: PeerInfo,
    /// Their seat's number in the room's order.
    seq: u64,
    place: Place,
    /// Being freed in Redis: nothing may resume or reach the seat meanwhile.
    leaving: bool,
}

enum Place {
    /// Connected to this server.
    Here(Attachment),
    /// Connected to that server.
    There(String),
}

/// What this server knows of one room.
#[derive(Default)]
struct View {
    people: Vec<Person>,
    /// Who left, so that news of their arrival coming late is ignored.
    gone: HashSet<PeerId>,
    /// Joins from this server under way: news for the room is kept for them.
    arriving: usize,
}

impl View {
    fn here(&mut self, id: PeerId, seat: Option<&Seat>) -> Option<&mut Attachment> {
        self.people.iter_mut().find_map(|p| match &mut p.place {
            Place::Here(at)
                if p.info.id == id && !p.leaving && seat.is_none_or(|seat| at.is(seat)) =>
            {
                Some(at)
            }
            _ => None,
        })
    }

    fn knows(&self, id: PeerId) -> bool {
        self.gone.contains(&id) || self.people.iter().any(|p| p.info.id == id)
    }

    /// Tells this server's people seated before `seq`; returns who could not take it.
    fn tell_earlier(&mut self, seq: u64, message: &ServerMessage) -> Vec<PeerId> {
        let text = encode(message);
        self.people
            .iter_mut()
            .filter(|p| p.seq < seq)
            .filter_map(|p| match &mut p.place {
                Place::Here(at) => (!at.deliver(text.clone())).then_some(p.info.id),
                Place::There(_) => None,
            })
            .collect()
    }

    /// Takes `id` out, telling those of this server's people who knew of them.
    fn remove(&mut self, id: PeerId, seq: u64) -> Vec<PeerId> {
        self.gone.insert(id);
        let before = self.people.len();
        self.people.retain(|p| p.info.id != id);
        if self.people.len() == before {
            return Vec::new();
        }
        self.tell_earlier(seq, &ServerMessage::PeerLeft { peer: id })
    }

    /// Nothing here needs the view any more.
    fn unused(&self) -> bool {
        self.arriving == 0
            && !self
                .people
                .iter()
                .any(|p| matches!(p.place, Place::Here(_)))
    }
}

/// How a join script answered.
enum JoinOutcome {
    Seated { seq: u64, others: Vec<Person> },
    Full,
    Taken,
}

pub struct SharedRooms {
    redis: ConnectionManager,
    prefix: String,
    /// This server's name among the others: random per process.
    server: String,
    rules: RoomRules,
    views: Mutex<HashMap<String, View>>,
    outgoing: mpsc::UnboundedSender<(String, Envelope)>,
}

impl SharedRooms {
    /// Connects to Redis, subscribes to this server's channel and starts the publisher.
    pub async fn start(
        url: &str,
        prefix: &str,
        rules: RoomRules,
    ) -> Result<Arc<SharedRooms>, redis::RedisError> {
        let info = redis::IntoConnectionInfo::into_connection_info(url)?;
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let client = redis::Client::open(info.set_redis_settings(settings))?;
        let config = || {
            ConnectionManagerConfig::new()
                .set_connection_timeout(Some(REDIS_TIMEOUT))
                .set_response_timeout(Some(REDIS_TIMEOUT))
                .set_number_of_retries(1)
                .set_max_delay(REDIS_TIMEOUT)
        };
        let redis = ConnectionManager::new_with_config(client.clone(), config()).await?;
        let (pushes, mut pushed) = mpsc::unbounded_channel();
        let mut subscription = ConnectionManager::new_with_config(
            client,
            config()
                .set_push_sender(pushes)
                .set_automatic_resubscription(),
        )
        .await?;
        let server = format!("{:016x}", rand::random::<u64>());
        let channel = channel(prefix, &server);
        subscription.subscribe(&channel).await?;
        let (outgoing, to_publish) = mpsc::unbounded_channel();
        let rooms = Arc::new(SharedRooms {
            redis: redis.clone(),
            prefix: prefix.to_owned(),
            server,
            rules,
            views: Mutex::default(),
            outgoing,
        });
        tokio::spawn(publish(redis, prefix.to_owned(), to_publish));
        let weak = Arc::downgrade(&rooms);
        tokio::spawn(async move {
            let mut check = tokio::time::interval(SUBSCRIPTION_CHECK);
            loop {
                tokio::select! {
                    push = pushed.recv() => {
                        let Some(push) = push else { return };
                        let Some(rooms) = weak.upgrade() else { return };
                        if push.kind == PushKind::Message {
                            if let Some(Value::BulkString(payload)) = push.data.get(1) {
                                rooms.on_envelope(payload);
                            }
                        }
                    }
                    _ = check.tick() => {
                        if weak.strong_count() == 0 {
                            return;
                        }
                        // A failed ping starts the reconnect, which subscribes again.
                        let _ = redis::cmd("PING").exec_async(&mut subscription).await;
                    }
                }
            }
        });
        tracing::info!(server = %rooms.server, "sharing rooms through Redis");
        Ok(rooms)
    }

    pub async fn join(
        self: &Arc<Self>,
        room: &str,
        name: &str,
        mailbox: &Mailbox,
    ) -> Result<Admitted, NoSeat> {
        self.lock().entry(room.to_owned()).or_default().arriving += 1;
        let outcome = loop {
            // Random, as in `rooms`: ids never repeat across restarts.
            let id = PeerId(rand::random::<u64>() >> 11);
            match self.run_join(room, id, name).await {
                Ok(JoinOutcome::Taken) => continue,
                other => break other.map(|outcome| (id, outcome)),
            }
        };
        let mut views = self.lock();
        let view = views.entry(room.to_owned()).or_default();
        view.arriving -= 1;
        let (id, seq, others) = match outcome {
            Ok((id, JoinOutcome::Seated { seq, others })) => (id, seq, others),
            Ok((_, JoinOutcome::Full)) => {
                return Err(self.refuse(&mut views, room, ErrorCode::RoomFull))
            }
            Ok((_, JoinOutcome::Taken)) => unreachable!("taken ids are tried again"),
            Err(e) => {
                tracing::warn!("cannot seat in Redis: {e}");
                return Err(self.refuse(&mut views, room, ErrorCode::Unavailable));
            }
        };
        let info = PeerInfo {
            id,
            name: name.to_owned(),
        };
        let joined =
            self.rules
                .joined(room, &info, others.iter().map(|p| p.info.clone()).collect());
        let elsewhere = |p: &Person| matches!(&p.place, Place::There(s) if *s != self.server);
        let servers: BTreeSet<String> = others
            .iter()
            .filter(|p| elsewhere(p))
            .filter_map(|p| match &p.place {
                Place::There(server) => Some(server.clone()),
                Place::Here(_) => None,
            })
            .collect();
        // People of other servers this view has not heard of yet: whoever adds someone
        // to the view tells those here who were seated before them (their own news may
        // still be on its way, and will then be ignored). This server's own each add
        // themselves, with their mailbox, when their join completes.
        let mut unreachable = Vec::new();
        for person in others {
            if elsewhere(&person) && !view.knows(person.info.id) {
                unreachable.extend(view.tell_earlier(
                    person.seq,
                    &ServerMessage::PeerJoined {
                        peer: person.info.clone(),
                        polite: false,
                    },
                ));
                view.people.push(person);
            }
        }
        if !mailbox.post(encode(&joined)) {
            // Seated in Redis all the same: added, so that it can be freed.
            view.people.push(Person {
                info,
                seq,
                place: Place::Here(Attachment::new(mailbox)),
                leaving: false,
            });
            drop(views);
            for id in unreachable.into_iter().chain([id]) {
                self.evict(room, id);
            }
            return Err(NoSeat::NotReading);
        }
        // Whoever was seated after us and is known here already listed us in their
        // `joined`; we hear of them now.
        for later in view.people.iter().filter(|p| p.seq > seq) {
            mailbox.post(encode(&ServerMessage::PeerJoined {
                peer: later.info.clone(),
                polite: false,
            }));
        }
        unreachable.extend(view.tell_earlier(
            seq,
            &ServerMessage::PeerJoined {
                peer: info.clone(),
                polite: false,
            },
        ));
        view.people.push(Person {
            info: info.clone(),
            seq,
            place: Place::Here(Attachment::new(mailbox)),
            leaving: false,
        });
        let people = view.people.len();
        drop(views);
        for server in servers {
            self.send(
                server,
                Envelope::Joined {
                    room: room.to_owned(),
                    peer: info.clone(),
                    seq,
                    server: self.server.clone(),
                },
            );
        }
        for id in unreachable {
            self.evict(room, id);
        }
        Ok(Admitted {
            seat: Seat {
                room: room.to_owned(),
                id,
                epoch: 0,
            },
            people,
        })
    }

    /// Gives a seat held by this server back to a new connection of the same person.
    /// A seat held by another server, or gone, cannot be taken from here (moving seats
    /// between servers is not done yet): the person joins again.
    pub fn resume(self: &Arc<Self>, token: &str, mailbox: &Mailbox) -> Result<Seat, NoSeat> {
        let claim = self.rules.tokens.verify(token)?;
        let mut views = self.lock();
        let view = views
            .get_mut(&claim.room)
            .ok_or(NoSeat::Refused(ErrorCode::ResumeExpired))?;
        let resumed = self.rules.resumed(
            claim.id,
            view.people
                .iter()
                .filter(|p| p.info.id != claim.id)
                .map(|p| p.info.clone())
                .collect(),
        );
        let at = view
            .here(claim.id, None)
            .ok_or(NoSeat::Refused(ErrorCode::ResumeExpired))?;
        match at.take_over(mailbox, encode(&resumed)) {
            Some(epoch) => Ok(Seat {
                room: claim.room,
                id: claim.id,
                epoch,
            }),
            None => {
                drop(views);
                self.evict(&claim.room, claim.id);
                Err(NoSeat::NotReading)
            }
        }
    }

    /// Delivers `signal` from `seat` to `to`: here, or through `to`'s server.
    pub fn relay(
        self: &Arc<Self>,
        seat: &Seat,
        to: PeerId,
        signal: Signal,
    ) -> Result<(), ErrorCode> {
        let mut views = self.lock();
        let view = views.get_mut(&seat.room).ok_or(ErrorCode::NotJoined)?;
        if view.here(seat.id, Some(seat)).is_none() {
            return Err(ErrorCode::NotJoined);
        }
        let target = view
            .people
            .iter_mut()
            .find(|p| p.info.id == to && to != seat.id)
            .ok_or(ErrorCode::UnknownPeer)?;
        let text = encode(&ServerMessage::Signal {
            from: seat.id,
            signal,
        });
        match &mut target.place {
            Place::Here(at) => {
                if !at.deliver(text) {
                    drop(views);
                    self.evict(&seat.room, to);
                }
            }
            Place::There(server) => {
                let server = server.clone();
                drop(views);
                self.send(
                    server,
                    Envelope::Deliver {
                        room: seat.room.clone(),
                        to,
                        text: text.as_str().to_owned(),
                    },
                );
            }
        }
        Ok(())
    }

    pub fn detach(&self, seat: &Seat) -> bool {
        let mut views = self.lock();
        match views
            .get_mut(&seat.room)
            .and_then(|view| view.here(seat.id, Some(seat)))
        {
            Some(at) => {
                at.detach();
                true
            }
            None => false,
        }
    }

    pub async fn expire(self: &Arc<Self>, seat: &Seat) {
        let still_detached = |at: &Attachment| at.is(seat) && at.is_detached();
        if let Err(e) = self.free(&seat.room, seat.id, still_detached).await {
            tracing::warn!(room = %seat.room, peer = seat.id.0, "cannot free an expired seat in Redis: {e}");
        }
    }

    pub async fn leave(self: &Arc<Self>, seat: &Seat) -> Result<(), ErrorCode> {
        self.free(&seat.room, seat.id, |at| at.is(seat))
            .await
            .map_err(|e| {
                tracing::warn!("cannot free a seat in Redis: {e}");
                ErrorCode::Unavailable
            })
    }

    /// Rooms this server has people in, and seats it holds.
    pub fn counts(&self) -> (usize, usize) {
        let views = self.lock();
        let seats = views
            .values()
            .flat_map(|view| &view.people)
            .filter(|p| matches!(p.place, Place::Here(_)))
            .count();
        (views.values().filter(|view| !view.unused()).count(), seats)
    }

    /// Frees `id`'s seat, if this server holds it and `still` says so: in Redis first,
    /// then tells this server's people and the other servers. If Redis cannot be reached,
    /// the seat stays as it was.
    async fn free(
        self: &Arc<Self>,
        room: &str,
        id: PeerId,
        still: impl FnOnce(&Attachment) -> bool,
    ) -> Result<(), redis::RedisError> {
        {
            let mut views = self.lock();
            let Some(person) = views.get_mut(room).and_then(|view| {
                view.people
                    .iter_mut()
                    .find(|p| p.info.id == id && !p.leaving && matches!(&p.place, Place::Here(_)))
            }) else {
                return Ok(());
            };
            match &person.place {
                Place::Here(at) if still(at) => person.leaving = true,
                _ => return Ok(()),
            }
        }
        let answer: Result<Vec<String>, _> = LEAVE
            .key(self.room_key(room))
            .arg(id.0)
            .arg(&self.server)
            .invoke_async(&mut self.redis.clone())
            .await;
        let mut views = self.lock();
        // A view is kept while one of this server's people is in it, leaving or not.
        let view = views
            .get_mut(room)
            .expect("a room with a seat leaving keeps its view");
        let answer = match answer {
            Ok(answer) => answer,
            Err(e) => {
                if let Some(person) = view.people.iter_mut().find(|p| p.info.id == id) {
                    person.leaving = false;
                }
                return Err(e);
            }
        };
        let (seq, servers) = match answer.as_slice() {
            [outcome, seq, servers @ ..] if outcome == "left" => {
                (seq.parse::<u64>().unwrap_or(u64::MAX), servers.to_vec())
            }
            // Freed already (after a restart, by another server): tell everyone here.
            _ => (u64::MAX, Vec::new()),
        };
        let unreachable = view.remove(id, seq);
        if view.unused() {
            views.remove(room);
        }
        drop(views);
        for server in servers.into_iter().filter(|s| *s != self.server) {
            self.send(
                server,
                Envelope::Left {
                    room: room.to_owned(),
                    peer: id,
                    seq,
                },
            );
        }
        for id in unreachable {
            self.evict(room, id);
        }
        Ok(())
    }

    async fn run_join(
        &self,
        room: &str,
        id: PeerId,
        name: &str,
    ) -> Result<JoinOutcome, redis::RedisError> {
        let answer: Vec<String> = JOIN
            .key(self.room_key(room))
            .arg(id.0)
            .arg(&self.server)
            .arg(name)
            .arg(self.rules.capacity)
            .invoke_async(&mut self.redis.clone())
            .await?;
        match answer.as_slice() {
            [outcome] if outcome == "full" => Ok(JoinOutcome::Full),
            [outcome] if outcome == "taken" => Ok(JoinOutcome::Taken),
            [outcome, seq, rest @ ..] if outcome == "seated" => {
                let seq = seq.parse().map_err(|_| unexpected("JOIN"))?;
                let others = rest
                    .chunks(2)
                    .map(|pair| Self::person(pair).ok_or_else(|| unexpected("JOIN")))
                    .collect::<Result<_, _>>()?;
                Ok(JoinOutcome::Seated { seq, others })
            }
            _ => Err(unexpected("JOIN")),
        }
    }

    /// A seat as the scripts store it: `[id, "<seq> <server> <name>"]`.
    fn person(pair: &[String]) -> Option<Person> {
        let [id, seat] = pair else { return None };
        let mut parts = seat.splitn(3, ' ');
        let (seq, server, name) = (parts.next()?, parts.next()?, parts.next()?);
        Some(Person {
            info: PeerInfo {
                id: PeerId(id.parse().ok()?),
                name: name.to_owned(),
            },
            seq: seq.parse().ok()?,
            place: Place::There(server.to_owned()),
            leaving: false,
        })
    }

    /// News from another server.
    fn on_envelope(self: &Arc<Self>, payload: &[u8]) {
        let envelope = match serde_json::from_slice::<Envelope>(payload) {
            Ok(envelope) => envelope,
            Err(e) => {
                tracing::warn!("ignored a message from another server: {e}");
                return;
            }
        };
        let mut views = self.lock();
        let (room, unreachable) = match envelope {
            Envelope::Joined {
                room,
                peer,
                seq,
                server,
            } => {
                let Some(view) = views.get_mut(&room) else {
                    return;
                };
                if view.knows(peer.id) {
                    return;
                }
                let unreachable = view.tell_earlier(
                    seq,
                    &ServerMessage::PeerJoined {
                        peer: peer.clone(),
                        polite: false,
                    },
                );
                view.people.push(Person {
                    info: peer,
                    seq,
                    place: Place::There(server),
                    leaving: false,
                });
                (room, unreachable)
            }
            Envelope::Left { room, peer, seq } => {
                let Some(view) = views.get_mut(&room) else {
                    return;
                };
                let unreachable = view.remove(peer, seq);
                if view.unused() {
                    views.remove(&room);
                }
                (room, unreachable)
            }
            Envelope::Deliver { room, to, text } => {
                let delivered = views
                    .get_mut(&room)
                    .and_then(|view| view.here(to, None))
                    .map(|at| at.deliver(Utf8Bytes::from(text)));
                match delivered {
                    Some(false) => (room, vec![to]),
                    // Gone meanwhile: the sender hears `peer_left` soon.
                    _ => return,
                }
            }
        };
        drop(views);
        for id in unreachable {
            self.evict(&room, id);
        }
    }

    /// A person of this server who cannot take messages (not reading) loses the seat.
    fn evict(self: &Arc<Self>, room: &str, id: PeerId) {
        let (rooms, room) = (self.clone(), room.to_owned());
        tokio::spawn(async move {
            if let Err(e) = rooms.free(&room, id, |_| true).await {
                tracing::warn!(%room, peer = id.0, "cannot free a seat in Redis: {e}");
            }
        });
    }

    /// A refused join leaves no trace: the view made for it goes if nothing else needs it.
    fn refuse(&self, views: &mut HashMap<String, View>, room: &str, code: ErrorCode) -> NoSeat {
        if views.get(room).is_some_and(View::unused) {
            views.remove(room);
        }
        NoSeat::Refused(code)
    }

    fn send(&self, server: String, envelope: Envelope) {
        // The publisher lives as long as the rooms.
        let _ = self.outgoing.send((server, envelope));
    }

    fn room_key(&self, room: &str) -> String {
        format!("{}:room:{room}", self.prefix)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, View>> {
        // Every change completes under the lock before anything could panic.
        self.views.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn channel(prefix: &str, server: &str) -> String {
    format!("{prefix}:server:{server}")
}

fn unexpected(script: &str) -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::UnexpectedReturnType,
        "unexpected answer from a script",
        script.to_owned(),
    ))
}

/// Sends what the rooms queued, in order, as pipelines of PUBLISH.
async fn publish(
    mut redis: ConnectionManager,
    prefix: String,
    mut queued: mpsc::UnboundedReceiver<(String, Envelope)>,
) {
    let mut batch = Vec::with_capacity(PUBLISH_BATCH);
    while queued.recv_many(&mut batch, PUBLISH_BATCH).await > 0 {
        let mut pipe = redis::pipe();
        for (server, envelope) in batch.drain(..) {
            let payload = serde_json::to_string(&envelope).expect("envelopes always serialize");
            pipe.cmd("PUBLISH")
                .arg(channel(&prefix, &server))
                .arg(payload)
                .ignore();
        }
        if let Err(e) = pipe.exec_async(&mut redis).await {
            tracing::warn!("cannot publish to other servers: {e}");
        }
    }
}
