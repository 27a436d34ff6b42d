//! Rooms shared by several Tandem servers through Redis.
//!
//! Who sits in which room is Redis state ([`store`]), changed only by its Lua scripts: a
//! seat check and the seat it grants are one atomic step, however many servers join at
//! once, and whether a room is empty is decided there too (never from one server's count).
//!
//! Each server keeps a [`view`] of the rooms its own people are in: everyone there, on
//! which server, and for its own people their mailbox (as `rooms` does). A relay between
//! two people on this server is delivered here and never touches Redis; one to a person
//! on another server is one PUBLISH to that server's channel ([`pubsub`]). Servers that
//! stop beating are swept out ([`liveness`]).

mod contract;
pub mod differential;
mod door;
mod liveness;
mod pubsub;
mod record;
mod store;
mod view;

pub use liveness::Timing;
pub use pubsub::{check_envelope, PUBLISH_QUEUE_BYTES};

use super::limits::IpSlot;
use super::mailbox::Mailbox;
use super::mailbox::{Busy, Kick};
use super::metrics::RedisMetrics;
use super::room::host::host;
use super::room::seat::{Admitted, NoSeat, RoomState, Seat};
use super::seats::{encode, Attachment, RoomRules};
use crate::protocol::signaling::{
    ErrorCode, HostCommand, KnockId, PeerId, PeerInfo, ServerMessage, Signal,
};
use axum::extract::ws::Utf8Bytes;
use contract::{
    Answer, Answered, Door, HandOff, Heartbeat, HostChange, Join, Joined, Leave, Left, Lock,
    MakeHost, Remove, Resume, Resumed,
};
use door::Doors;
use pubsub::{decode_envelope, Envelope, Outgoing, ENVELOPE_OVERHEAD};
use record::Holder;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::ProtocolVersion;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use store::Store;
use tokio::sync::mpsc;
use view::{Person, Place, TakenBack, View, Whereabouts};

/// How long one Redis call may take before the person is told `unavailable`.
const REDIS_TIMEOUT: Duration = Duration::from_secs(1);
/// Tries of a join whose answer does not come, while Redis answers heartbeats.
const JOIN_TRIES: u32 = 2;
/// Waits between tries of a change that must be made (a seat freed), doubling.
const RETRY_FIRST: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(10);

pub struct SharedRooms {
    store: Store,
    rules: RoomRules,
    timing: Timing,
    views: Mutex<HashMap<String, View>>,
    /// Envelopes for the publisher.
    outgoing: Outgoing,
    /// What another server may send in one envelope.
    max_envelope_bytes: usize,
    /// Whether the last heartbeat reached Redis.
    reachable: AtomicBool,
    metrics: RedisMetrics,
    /// Where the epochs of the next seat moved here start: far apart, so a seat that
    /// comes back never matches a connection from its earlier stay.
    next_epoch: AtomicU64,
    /// This server's connections waiting at locked rooms' doors.
    doors: Mutex<Doors>,
}

impl SharedRooms {
    /// Connects to Redis, subscribes to this server's channel, and starts the publisher
    /// and the heartbeat.
    ///
    /// `max_message_bytes` is the largest signaling message: what another server sends
    /// for a person here is never larger than it once decoded, and bigger is dropped.
    pub async fn start(
        url: &str,
        prefix: &str,
        rules: RoomRules,
        timing: Timing,
        metrics: RedisMetrics,
        tls_root: Option<Vec<u8>>,
        max_message_bytes: usize,
    ) -> Result<Arc<SharedRooms>, redis::RedisError> {
        let info = redis::IntoConnectionInfo::into_connection_info(url)?;
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let info = info.set_redis_settings(settings);
        // rediss:// goes through rustls, which needs a process-wide crypto provider: ring,
        // as for HTTPS. Installed already if HTTPS is on; either way the same one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = match tls_root {
            Some(root_cert) => redis::Client::build_with_tls(
                info,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(root_cert),
                },
            )?,
            None => redis::Client::open(info)?,
        };
        let config = || {
            ConnectionManagerConfig::new()
                .set_connection_timeout(Some(REDIS_TIMEOUT))
                .set_response_timeout(Some(REDIS_TIMEOUT))
                .set_number_of_retries(1)
                .set_max_delay(REDIS_TIMEOUT)
        };
        let redis = ConnectionManager::new_with_config(client.clone(), config()).await?;
        let (pushes, pushed) = mpsc::unbounded_channel();
        let mut subscription = ConnectionManager::new_with_config(
            client,
            config()
                .set_push_sender(pushes)
                .set_automatic_resubscription(),
        )
        .await?;
        let store = Store::new(redis.clone(), prefix, metrics.clone());
        subscription
            .subscribe(&store.channel(store.server()))
            .await?;
        let rooms = Arc::new(SharedRooms {
            store,
            rules,
            timing,
            views: Mutex::default(),
            outgoing: Outgoing::start(redis, prefix, metrics.clone()),
            // A signal's text, JSON-escaped inside the envelope (at most twice as long),
            // and the envelope's own fields.
            max_envelope_bytes: 2 * max_message_bytes + ENVELOPE_OVERHEAD,
            reachable: AtomicBool::new(true),
            metrics,
            // Random, so that two servers' epochs (and so their tokens' generations) for
            // one seat do not meet.
            next_epoch: AtomicU64::new(u64::from(rand::random::<u32>()) | 1),
            doors: Mutex::default(),
        });
        rooms
            .store
            .run(&Heartbeat {
                liveness: rooms.timing.liveness,
            })
            .await?;
        tokio::spawn(liveness::keep_alive(Arc::downgrade(&rooms)));
        tokio::spawn(pubsub::listen(Arc::downgrade(&rooms), pushed, subscription));
        tracing::info!(server = %rooms.store.server(), "sharing rooms through Redis");
        Ok(rooms)
    }

    /// Whether this server can seat people now: Redis answered its last heartbeat.
    pub fn ready(&self) -> bool {
        self.reachable.load(Ordering::Relaxed)
    }

    /// Seats a person, or at a locked room has them wait at its door (see [`door`]).
    pub async fn join(
        self: &Arc<Self>,
        room: &str,
        name: &str,
        mailbox: &Mailbox,
        address: Option<IpAddr>,
    ) -> Result<Admitted, NoSeat> {
        self.join_as(room, name, mailbox, address, None).await
    }

    /// As [`SharedRooms::join`]; `let_in`: the knock the host admitted, seated past the
    /// lock.
    async fn join_as(
        self: &Arc<Self>,
        room: &str,
        name: &str,
        mailbox: &Mailbox,
        address: Option<IpAddr>,
        let_in: Option<KnockId>,
    ) -> Result<Admitted, NoSeat> {
        let (door, limit) = self.door_for(room, address, let_in);
        self.lock().entry(room.to_owned()).or_default().arriving += 1;
        let outcome = loop {
            // Random, as in `rooms`: ids never repeat across restarts.
            let id = PeerId(rand::random::<u64>() >> 11);
            match self.seat_in_redis(room, id, name, door).await {
                Ok(Joined::Taken) => continue,
                other => break other.map(|outcome| (id, outcome)),
            }
        };
        let mut views = self.lock();
        let view = views.entry(room.to_owned()).or_default();
        view.arriving = view.arriving.saturating_sub(1);
        let (id, seq, name, host, locked, others) = match outcome {
            Ok((
                id,
                Joined::Seated {
                    seq,
                    name,
                    host,
                    locked,
                    others,
                },
            )) => (id, seq, name, host, locked, others),
            Ok((_, Joined::Full)) => {
                return Err(self.refuse(&mut views, room, ErrorCode::RoomFull))
            }
            Ok((_, Joined::Locked)) => {
                let code = limit.unwrap_or(ErrorCode::RoomLocked);
                return Err(self.refuse(&mut views, room, code));
            }
            Ok((_, Joined::Knocking { host_name })) => {
                if views.get(room).is_some_and(View::unused) {
                    views.remove(room);
                }
                drop(views);
                return Err(self.wait_at_door(room, name, mailbox, address, door.knock, host_name));
            }
            Ok((_, Joined::Taken)) => unreachable!("taken ids are tried again"),
            Err(e) => {
                tracing::warn!("cannot seat in Redis: {e}");
                return Err(self.refuse(&mut views, room, ErrorCode::Unavailable));
            }
        };
        let info = PeerInfo { id, name };
        let at = Attachment::at_epoch(mailbox, self.new_epoch());
        let epoch = at.epoch();
        let peers = others.iter().map(|p| p.info.clone()).collect();
        let server = self.store.server();
        let said = RoomState {
            host: Some(host),
            locked,
        };
        let (synced, state) = view.welcome((id, seq), others, said, server, Instant::now());
        let mut unreachable = self.settle(view, room, synced);
        let joined = self.rules.joined(room, &info, epoch, peers, state);
        if let Some(knock) = let_in {
            // Before `joined` is out: the connection is told, and takes the seat before it
            // writes `joined`.
            let seat = Seat {
                room: room.to_owned(),
                id,
                epoch,
            };
            self.seated_at_door(knock, &seat);
        }
        let me = Person {
            info: info.clone(),
            seq,
            place: Whereabouts::new(Place::Here(at), seq),
        };
        if !mailbox.post(encode(&joined)) {
            // Seated in Redis all the same: added, so that it can be freed.
            view.seat_quietly(me);
            drop(views);
            for id in unreachable.into_iter().chain([id]) {
                self.evict(room, id);
            }
            return Err(NoSeat::NotReading);
        }
        unreachable.extend(view.seat_here(me, mailbox));
        let people = view.people().len();
        self.follow_up(views, room, unreachable);
        Ok(Admitted {
            seat: Seat {
                room: room.to_owned(),
                id,
                epoch,
            },
            people,
        })
    }

    /// Gives a seat back to a new connection of the same person: in place if this server
    /// holds it, else moved here from wherever it is (another server, or one that is
    /// gone), with nobody told. What waited for the person on their former server follows
    /// them.
    ///
    /// A token works once, whichever server it is shown to: Redis keeps each seat's
    /// current generation, and the resume script moves it on (a used token is refused
    /// with `invalid_token`), so even a resume in place needs Redis (`unavailable` while
    /// it cannot be reached). A seat taken from another server closes the socket there
    /// with the seat-taken close code. A `fresh` page is refused with `resume_expired`
    /// here (it then joins under a new id, and the old seat is freed after its grace).
    pub async fn resume(
        self: &Arc<Self>,
        token: &str,
        fresh: bool,
        mailbox: &Mailbox,
    ) -> Result<Seat, NoSeat> {
        let claim = self.rules.tokens.verify(token)?;
        if fresh {
            return Err(NoSeat::Refused(ErrorCode::ResumeExpired));
        }
        let (room, id, name) = (claim.room, claim.id, claim.name);
        let next = {
            let mut views = self.lock();
            let view = views.entry(room.clone()).or_default();
            let next = match view.here(id, None).map(|at| at.epoch()) {
                // Used already: the seat moved on to a later token.
                Some(epoch) if epoch != claim.gen => {
                    return Err(self.refuse(&mut views, &room, ErrorCode::InvalidToken));
                }
                Some(epoch) => epoch + 1,
                None => self.new_epoch(),
            };
            let view = views.get_mut(&room).expect("held by the lock");
            view.arriving += 1;
            next
        };
        let outcome = self
            .store
            .run(&Resume {
                room: &room,
                id,
                gen: claim.gen,
                next,
            })
            .await;
        let mut views = self.lock();
        let view = views.entry(room.clone()).or_default();
        view.arriving = view.arriving.saturating_sub(1);
        let moved = match outcome {
            Ok(Resumed::Here(moved)) => moved,
            Ok(Resumed::Used) => {
                return Err(self.refuse(&mut views, &room, ErrorCode::InvalidToken))
            }
            Ok(Resumed::Gone) => {
                return Err(self.refuse(&mut views, &room, ErrorCode::ResumeExpired))
            }
            Err(e) => {
                tracing::warn!("cannot move a seat in Redis: {e}");
                return Err(self.refuse(&mut views, &room, ErrorCode::Unavailable));
            }
        };
        if view.here(id, None).is_some() {
            let info = PeerInfo { id, name };
            let said = RoomState {
                host: Some(moved.host),
                locked: moved.locked,
            };
            let back = view.take_back(
                &room,
                &info,
                next,
                (said, moved.change),
                &self.rules,
                mailbox,
            );
            return match back {
                // Another connection took it meanwhile: this token is spent.
                Err(code) => Err(self.refuse(&mut views, &room, code)),
                Ok(TakenBack::Here { epoch, hosting }) => {
                    drop(views);
                    // A host back: who waits at the door, again.
                    if hosting {
                        self.tell_knocks(&room, id);
                    }
                    Ok(Seat { room, id, epoch })
                }
                Ok(TakenBack::NotReading) => {
                    drop(views);
                    self.evict(&room, id);
                    Err(NoSeat::NotReading)
                }
            };
        }
        let at = Attachment::at_epoch(mailbox, next);
        let epoch = at.epoch();
        let info = PeerInfo {
            id,
            name: moved.name,
        };
        let peers = moved.others.iter().map(|p| p.info.clone()).collect();
        view.take_quietly(id);
        let synced = view.sync(
            moved.change,
            moved.others,
            self.store.server(),
            Instant::now(),
        );
        let mut unreachable = self.settle(view, &room, synced);
        let view = views.get_mut(&room).expect("held by the lock");
        view.chose(Some(moved.host), moved.change);
        view.lock_as_of(moved.locked, moved.change);
        let state = RoomState {
            host: view.host_with(Some((id, moved.seq))),
            locked: view.locked(),
        };
        let resumed = self.rules.resumed(&room, &info, epoch, peers, state);
        view.seat_quietly(Person {
            info,
            seq: moved.seq,
            place: Whereabouts::new(Place::Here(at), moved.change),
        });
        unreachable.extend(view.tell_host_but(Some(id)));
        // A new host here, or a host back: who waits at the door, again.
        let owed = view
            .owed_knocks()
            .or((view.host() == Some(id)).then_some(id));
        drop(views);
        if let Some(host) = owed {
            self.tell_knocks(&room, host);
        }
        let posted = mailbox.post(encode(&resumed));
        if !posted {
            unreachable.push(id);
        }
        for gone in unreachable {
            self.evict(&room, gone);
        }
        if posted {
            Ok(Seat { room, id, epoch })
        } else {
            Err(NoSeat::NotReading)
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
            .person(to)
            .filter(|_| to != seat.id)
            .ok_or(ErrorCode::UnknownPeer)?;
        let text = encode(&ServerMessage::Signal {
            from: seat.id,
            signal,
        });
        match &mut target.place.at {
            // A slow reader keeps its seat: it is the sender who waits.
            Place::Here(at) => at
                .deliver_signal(seat.id, text)
                .map_err(|Busy| ErrorCode::PeerBusy)?,
            // Held for nobody: what would wait for them is not kept across servers.
            Place::There(Holder::Nobody { .. }) => {}
            Place::There(_) if !self.ready() => return Err(ErrorCode::Unavailable),
            Place::There(Holder::Server(server)) => {
                let server = server.clone();
                drop(views);
                let queued = self.send(
                    server,
                    Envelope::Deliver {
                        room: seat.room.clone(),
                        to,
                        from: Some(seat.id),
                        text: text.as_str().to_owned(),
                        forwarded: false,
                        sent_us: now_us(),
                    },
                );
                if !queued {
                    return Err(ErrorCode::Unavailable);
                }
            }
        }
        Ok(())
    }

    /// Carries out a host command from `seat`. Asking someone to mute is a message to
    /// them (through their server); handing the role on and removing someone are changes
    /// to the room, made by a script that checks again, in Redis, that `seat` hosts it.
    pub async fn host_command(
        self: &Arc<Self>,
        seat: &Seat,
        command: HostCommand,
    ) -> Result<(), ErrorCode> {
        let (make_host, peer) = match command {
            HostCommand::Lock(locked) => {
                self.check_host(seat, None)?;
                return self.lock_room(seat, locked).await;
            }
            HostCommand::Admit(knock) | HostCommand::Deny(knock) => {
                self.check_host(seat, None)?;
                let admit = matches!(command, HostCommand::Admit(_));
                return self.answer_knock(seat, knock, admit).await;
            }
            HostCommand::AskToMute(peer) => {
                self.check_host(seat, Some(peer))?;
                let ask = encode(&ServerMessage::MuteRequest { by: seat.id });
                return self.tell(&seat.room, peer, ask);
            }
            HostCommand::MakeHost(peer) => (true, peer),
            HostCommand::Remove(peer) => (false, peer),
        };
        self.check_host(seat, Some(peer))?;
        if !self.ready() {
            return Err(ErrorCode::Unavailable);
        }
        let (room, host) = (seat.room.as_str(), seat.id);
        let answer = match make_host {
            true => self.store.run(&MakeHost { room, host, peer }).await,
            false => self.store.run(&Remove { room, host, peer }).await,
        };
        let seq = match answer {
            Ok(HostChange::Done { seq }) => seq,
            Ok(HostChange::Refused { code }) => return Err(code.into()),
            Err(e) => {
                tracing::warn!("cannot run a host command in Redis: {e}");
                return Err(ErrorCode::Unavailable);
            }
        };
        let mut views = self.lock();
        let Some(view) = views.get_mut(&seat.room) else {
            return Ok(());
        };
        let now = Instant::now();
        let unreachable = match make_host {
            true => view.host_chosen(peer, seq, now),
            false => view.left(peer, Some(seq), Some(seat.id), now),
        };
        self.follow_up(views, &seat.room, unreachable);
        Ok(())
    }

    /// Whether `seat` may send a host command (about `peer`, another person there), as
    /// this server sees it (the script checks again in Redis).
    fn check_host(&self, seat: &Seat, peer: Option<PeerId>) -> Result<(), ErrorCode> {
        let mut views = self.lock();
        let view = views.get_mut(&seat.room).ok_or(ErrorCode::NotJoined)?;
        if view.here(seat.id, Some(seat)).is_none() {
            return Err(ErrorCode::NotJoined);
        }
        if view.host() != Some(seat.id) {
            return Err(ErrorCode::NotHost);
        }
        match peer {
            Some(peer) if peer == seat.id || view.person(peer).is_none() => {
                Err(ErrorCode::UnknownPeer)
            }
            _ => Ok(()),
        }
    }

    /// The host locks (or unlocks) the room: in Redis, which tells the other servers;
    /// then everyone here is told.
    async fn lock_room(self: &Arc<Self>, seat: &Seat, locked: bool) -> Result<(), ErrorCode> {
        if !self.ready() {
            return Err(ErrorCode::Unavailable);
        }
        let lock = Lock {
            room: &seat.room,
            host: seat.id,
            locked,
        };
        let seq = match self.store.run(&lock).await {
            Ok(HostChange::Done { seq }) => seq,
            Ok(HostChange::Refused { code }) => return Err(code.into()),
            Err(e) => {
                tracing::warn!("cannot lock a room in Redis: {e}");
                return Err(ErrorCode::Unavailable);
            }
        };
        let unreachable = {
            let mut views = self.lock();
            let Some(view) = views.get_mut(&seat.room) else {
                return Ok(());
            };
            view.lock_changed(locked, seq, Instant::now())
        };
        for id in unreachable {
            self.evict(&seat.room, id);
        }
        Ok(())
    }

    /// The host answers `knock`: in Redis, which tells the host's server that the knock
    /// ended (so the host hears it before the newcomer it lets in) and then the knock's
    /// server the answer.
    async fn answer_knock(
        self: &Arc<Self>,
        seat: &Seat,
        knock: KnockId,
        admit: bool,
    ) -> Result<(), ErrorCode> {
        if !self.ready() {
            return Err(ErrorCode::Unavailable);
        }
        let answer = Answer {
            room: &seat.room,
            host: seat.id,
            knock,
            admit,
        };
        match self.store.run(&answer).await {
            Ok(Answered::Done) => {}
            Ok(Answered::Refused { code }) => return Err(code.into()),
            Err(e) => {
                tracing::warn!("cannot answer a knock in Redis: {e}");
                return Err(ErrorCode::Unavailable);
            }
        }
        Ok(())
    }

    /// Queues the server's `text` for `to`, here or on their server (not kept for a seat
    /// held for nobody).
    fn tell(self: &Arc<Self>, room: &str, to: PeerId, text: Utf8Bytes) -> Result<(), ErrorCode> {
        let mut views = self.lock();
        let person = views
            .get_mut(room)
            .and_then(|view| view.person(to))
            .ok_or(ErrorCode::UnknownPeer)?;
        match &mut person.place.at {
            Place::Here(at) => {
                if !at.deliver_news(text) {
                    drop(views);
                    self.evict(room, to);
                }
            }
            Place::There(Holder::Nobody { .. }) => {}
            Place::There(Holder::Server(server)) => {
                let server = server.clone();
                drop(views);
                self.send(
                    server,
                    Envelope::Deliver {
                        room: room.to_owned(),
                        to,
                        from: None,
                        text: text.as_str().to_owned(),
                        forwarded: false,
                        sent_us: 0,
                    },
                );
            }
        }
        Ok(())
    }

    /// A fresh resume token for `seat`, if this connection still holds it.
    pub fn fresh_token(&self, seat: &Seat) -> Option<String> {
        let views = self.lock();
        let person = views.get(&seat.room)?.people().iter().find(|p| {
            p.info.id == seat.id && matches!(&p.place.at, Place::Here(at) if at.is(seat))
        })?;
        Some(
            self.rules
                .tokens
                .issue(&seat.room, seat.id, &person.info.name, seat.epoch),
        )
    }

    pub fn detach(&self, seat: &Seat, slot: Option<IpSlot>) -> bool {
        let mut views = self.lock();
        match views
            .get_mut(&seat.room)
            .and_then(|view| view.here(seat.id, Some(seat)))
        {
            Some(at) => {
                at.detach(slot);
                true
            }
            None => false,
        }
    }

    pub async fn expire(self: &Arc<Self>, seat: &Seat) {
        let still_detached = |at: &Attachment| at.is(seat) && at.is_detached();
        self.free(&seat.room, seat.id, still_detached).await;
    }

    /// Frees the seat: at once if Redis answers, else as soon as it does (nothing
    /// reaches the seat meanwhile).
    pub async fn leave(self: &Arc<Self>, seat: &Seat) {
        self.free(&seat.room, seat.id, |at| at.is(seat)).await;
    }

    /// Shutting down: every seat this server holds is held for resume_grace instead, so
    /// that its people (told to reconnect) resume on another server.
    pub async fn hand_off(&self) {
        let handed = self
            .store
            .run(&HandOff {
                grace: self.timing.grace,
            })
            .await;
        match handed {
            Ok(()) => tracing::info!("seats handed over to the other servers"),
            Err(e) => tracing::warn!(
                "cannot hand seats over (they are freed once this server counts as gone): {e}"
            ),
        }
    }

    /// Rooms this server has people in, and seats it holds.
    pub fn counts(&self) -> (usize, usize) {
        let views = self.lock();
        let seats = views.values().map(View::seated_here).sum();
        (views.values().filter(|view| !view.unused()).count(), seats)
    }

    /// Frees `id`'s seat, if this server holds it and `still` says so: in Redis first
    /// (which tells the other servers), then here. Nothing reaches the seat meanwhile; if
    /// Redis cannot be reached, it is tried again until Redis confirms, in the background
    /// (the script is idempotent: a try whose answer was lost may have run).
    async fn free(
        self: &Arc<Self>,
        room: &str,
        id: PeerId,
        still: impl FnOnce(&Attachment) -> bool,
    ) {
        {
            let mut views = self.lock();
            let Some(person) = views.get_mut(room).and_then(|view| view.person(id)) else {
                return;
            };
            match &person.place.at {
                Place::Here(at) if !person.place.leaving && still(at) => {
                    person.place.leaving = true
                }
                _ => return,
            }
        }
        match self.store.run(&Leave { room, id }).await {
            Ok(left) => self.freed(room, id, left),
            Err(e) => {
                tracing::warn!(%room, peer = id.0, "cannot free a seat in Redis yet: {e}");
                let (rooms, room) = (self.clone(), room.to_owned());
                tokio::spawn(async move {
                    let left = rooms
                        .until_confirmed(|| rooms.store.run(&Leave { room: &room, id }))
                        .await;
                    rooms.freed(&room, id, left);
                });
            }
        }
    }

    /// Runs `call` until Redis answers, waiting longer after each failure.
    async fn until_confirmed<T, F: std::future::Future<Output = Result<T, redis::RedisError>>>(
        &self,
        call: impl Fn() -> F,
    ) -> T {
        let mut wait = RETRY_FIRST;
        loop {
            tokio::time::sleep(wait).await;
            match call().await {
                Ok(answer) => return answer,
                Err(e) => tracing::debug!("Redis still does not answer: {e}"),
            }
            wait = (wait * 2).min(RETRY_MAX);
        }
    }

    /// Redis answered a leave: the seat is freed (or another server's now).
    fn freed(self: &Arc<Self>, room: &str, id: PeerId, left: Left) {
        let mut views = self.lock();
        // Gone if Redis forgot this server meanwhile: its people were sent away.
        let Some(view) = views.get_mut(room) else {
            return;
        };
        let seq = match left {
            Left::Freed { seq } => Some(seq),
            // Resumed on another server meanwhile: theirs now, and nobody is told.
            Left::Elsewhere { holder } => {
                if let Some(person) = view.person(id) {
                    person.place.at = Place::There(holder);
                    person.place.leaving = false;
                }
                if view.unused() {
                    views.remove(room);
                }
                return;
            }
            // Freed already (by an earlier try whose answer was lost, or held too long
            // after this server counted as gone): tell everyone here.
            Left::Gone => None,
        };
        let unreachable = view.left(id, seq, None, Instant::now());
        self.follow_up(views, room, unreachable);
    }

    /// Seats `id` in Redis, trying again (same id: the script knows its own seat) if the
    /// answer does not come; if it never does, the seat, which may have been made, is
    /// freed once Redis answers.
    async fn seat_in_redis(
        self: &Arc<Self>,
        room: &str,
        id: PeerId,
        name: &str,
        door: Door,
    ) -> Result<Joined, redis::RedisError> {
        let mut tries = 1;
        loop {
            let join = Join {
                room,
                id,
                wanted: name,
                capacity: self.rules.capacity,
                door,
            };
            match self.store.run(&join).await {
                Err(_) if tries < JOIN_TRIES && self.ready() => tries += 1,
                Err(e) => {
                    let (rooms, room) = (self.clone(), room.to_owned());
                    tokio::spawn(async move {
                        let left = rooms
                            .until_confirmed(|| rooms.store.run(&Leave { room: &room, id }))
                            .await;
                        if let Left::Freed { seq } = left {
                            if let Some(view) = rooms.lock().get_mut(&room) {
                                view.heard(seq, Instant::now());
                            }
                        }
                    });
                    return Err(e);
                }
                answer => return answer,
            }
        }
    }

    /// Redis no longer knows this server: it lost its data, or counted this server gone
    /// (silent past its liveness) and held its seats for others to resume. Either way
    /// the seats here are not this server's any more: everyone here is sent away to
    /// reconnect and resume, or, if their seat is gone, join again.
    fn forgotten(&self) {
        let views = std::mem::take(&mut *self.lock());
        let mut sent = 0;
        for view in views.into_values() {
            for person in view.into_people() {
                let Place::Here(at) = person.place.at else {
                    continue;
                };
                if let (Some(mailbox), _) = at.hand_over() {
                    mailbox.kick(Kick::SentAway);
                    sent += 1;
                }
            }
        }
        tracing::warn!(
            sent,
            "Redis no longer knew this server: its people reconnect"
        );
    }

    /// News from another server.
    fn on_envelope(self: &Arc<Self>, payload: &[u8]) {
        let envelope = match decode_envelope(payload, self.max_envelope_bytes) {
            Ok(envelope) => envelope,
            Err(why) => {
                self.metrics.dropped.inc();
                tracing::warn!("ignored a message from another server: {why}");
                return;
            }
        };
        self.metrics.deliveries.inc();
        let mut views = self.lock();
        let now = Instant::now();
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
                // Accounted for already when the room was read.
                if !view.is_new(seq) {
                    return;
                }
                view.heard(seq, now);
                let mut unreachable = view.arrived(Person {
                    info: peer,
                    seq,
                    place: Whereabouts::new(Place::There(Holder::Server(server)), seq),
                });
                unreachable.extend(view.tell_host());
                (room, unreachable)
            }
            Envelope::Left {
                room,
                peer,
                seq,
                removed_by,
            } => {
                let Some(view) = views.get_mut(&room) else {
                    return;
                };
                let unreachable = view.left(peer, Some(seq), removed_by, now);
                if view.unused() {
                    views.remove(&room);
                }
                (room, unreachable)
            }
            Envelope::Moved {
                room,
                peer,
                server,
                seq,
                gen,
            } => {
                let Some(view) = views.get_mut(&room) else {
                    return;
                };
                view.heard(seq, now);
                self.move_away(view, &room, peer, server, seq, gen);
                if view.unused() {
                    views.remove(&room);
                }
                return;
            }
            Envelope::Host { room, peer, seq } => {
                let Some(view) = views.get_mut(&room) else {
                    return;
                };
                let unreachable = view.host_chosen(peer, seq, now);
                (room, unreachable)
            }
            Envelope::Locked { room, locked, seq } => {
                let Some(view) = views.get_mut(&room) else {
                    return;
                };
                let unreachable = view.lock_changed(locked, seq, now);
                (room, unreachable)
            }
            Envelope::Knock { room, knock, name } => {
                let Some(view) = views.get_mut(&room) else {
                    return;
                };
                let unreachable = view.tell_the_host(&ServerMessage::Knock { knock, name });
                (room, unreachable)
            }
            Envelope::KnockEnded { room, knock } => {
                let Some(view) = views.get_mut(&room) else {
                    return;
                };
                let unreachable = view.tell_the_host(&ServerMessage::KnockEnded { knock });
                (room, unreachable)
            }
            Envelope::Answered {
                room: _,
                knock,
                verdict,
                by,
            } => {
                drop(views);
                self.answered(knock, verdict, by);
                return;
            }
            Envelope::Deliver {
                room,
                to,
                from,
                text,
                forwarded,
                sent_us,
            } => {
                if sent_us > 0 {
                    let took = now_us().saturating_sub(sent_us);
                    self.metrics.relay_seconds.observe(took as f64 / 1e6);
                }
                let Some(person) = views.get_mut(&room).and_then(|view| view.person(to)) else {
                    // Gone meanwhile: the sender hears `peer_left` soon.
                    return;
                };
                match &mut person.place.at {
                    Place::Here(at) if !person.place.leaving => match from {
                        Some(from) => {
                            if at.deliver_signal(from, Utf8Bytes::from(text)).is_ok() {
                                return;
                            }
                            // The reader is slow: the sender is told, on its own server.
                            drop(views);
                            self.tell_busy(&room, from, to);
                            return;
                        }
                        None if at.deliver_news(Utf8Bytes::from(text)) => return,
                        None => (room, vec![to]),
                    },
                    // Sent before the sender heard that the person moved on.
                    Place::There(Holder::Server(server)) if !forwarded => {
                        let server = server.clone();
                        drop(views);
                        self.send(
                            server,
                            Envelope::Deliver {
                                room,
                                to,
                                from,
                                text,
                                forwarded: true,
                                sent_us,
                            },
                        );
                        return;
                    }
                    _ => return,
                }
            }
        };
        self.follow_up(views, &room, unreachable);
    }

    /// `peer`'s seat moved to `server` as change `seq`: their messages go there now, and
    /// what waited for them here follows. News older than what placed the seat is stale
    /// (two moves in quick succession, or news the view read past) and ignored.
    fn move_away(
        &self,
        view: &mut View,
        room: &str,
        peer: PeerId,
        server: String,
        seq: u64,
        gen: Option<u64>,
    ) {
        let Some(person) = view.person(peer) else {
            return;
        };
        if seq <= person.place.placed_at {
            self.metrics.stale.inc();
            return;
        }
        person.place.placed_at = seq;
        let before = std::mem::replace(
            &mut person.place.at,
            Place::There(Holder::Server(server.clone())),
        );
        if let Place::Here(at) = before {
            let (connection, waiting) = at.hand_over();
            // A connection still here is one whose seat was taken elsewhere: it is told,
            // with a token to take it back (if the news said of which generation), and
            // closed with the seat-taken code.
            if let Some(mailbox) = connection {
                if let Some(gen) = gen {
                    mailbox.post(self.rules.seat_taken(room, &person.info, gen));
                }
                mailbox.kick(Kick::Replaced);
            }
            for (from, text) in waiting {
                self.send(
                    server.clone(),
                    Envelope::Deliver {
                        room: room.to_owned(),
                        to: peer,
                        from,
                        text: text.as_str().to_owned(),
                        forwarded: true,
                        sent_us: 0,
                    },
                );
            }
        }
    }

    /// Carries out what a [`View::sync`] found; returns who could not take the news.
    fn settle(&self, view: &mut View, room: &str, synced: view::Synced) -> Vec<PeerId> {
        for (peer, server, seq) in synced.moved_away {
            self.move_away(view, room, peer, server, seq, None);
        }
        synced.unreachable
    }

    /// Reads `room` from Redis again and brings this server's view to it: news of its
    /// changes went missing.
    async fn resync(self: Arc<Self>, room: String) {
        let read = match self.store.read(&room).await {
            Ok(read) => read,
            Err(e) => {
                tracing::warn!(%room, "cannot read a room again: {e}");
                return;
            }
        };
        self.metrics.resyncs.inc();
        let mut views = self.lock();
        let Some(view) = views.get_mut(&room) else {
            return;
        };
        let read_host = host(read.chosen, read.seats.iter().map(|s| (s.info.id, s.seq)));
        let synced = view.sync(read.seq, read.seats, self.store.server(), Instant::now());
        let mut unreachable = self.settle(view, &room, synced);
        // The host as Redis has it (`room::host`, the rule Redis's own twin follows).
        view.chose(read_host, read.seq);
        unreachable.extend(view.tell_host());
        if view.lock_as_of(read.locked, read.seq) {
            let locked = read.locked;
            unreachable.extend(view.tell_everyone(&ServerMessage::Locked { locked }));
        }
        self.follow_up(views, &room, unreachable);
    }

    /// News may have been missed in every room (the subscription was lost): each is read
    /// again, until a read succeeds.
    fn doubt_every_room(&self) {
        self.lock().values_mut().for_each(View::doubt);
    }

    /// Reads again the rooms whose news has a gap (a failed read is tried again at the
    /// next call).
    fn resync_rooms(self: &Arc<Self>) {
        if !self.ready() {
            return;
        }
        let now = Instant::now();
        let rooms: Vec<String> = self
            .lock()
            .iter()
            .filter(|(_, view)| view.has_gap(now))
            .map(|(room, _)| room.clone())
            .collect();
        for room in rooms {
            tokio::spawn(self.clone().resync(room));
        }
    }

    /// Tells `sender`, on whichever server holds them, that `reader` is not keeping up
    /// with their signals (`peer_busy`).
    fn tell_busy(self: &Arc<Self>, room: &str, sender: PeerId, reader: PeerId) {
        let text = encode(&ServerMessage::Error {
            code: ErrorCode::PeerBusy,
            message: ErrorCode::PeerBusy.describe().to_owned(),
            peer: Some(reader),
        });
        // Gone meanwhile: nobody to tell.
        let _ = self.tell(room, sender, text);
    }

    /// What follows news carried out in `room`'s view, written once: a host of this
    /// server's new to the role is told who waits at the door, and the held seats that
    /// could not take the news are freed. The view goes if nothing here needs it; the
    /// lock is let go before either (both reach Redis).
    fn follow_up(
        self: &Arc<Self>,
        mut views: MutexGuard<'_, HashMap<String, View>>,
        room: &str,
        unreachable: Vec<PeerId>,
    ) {
        let owed = views.get_mut(room).and_then(View::owed_knocks);
        if views.get(room).is_some_and(View::unused) {
            views.remove(room);
        }
        drop(views);
        if let Some(host) = owed {
            self.tell_knocks(room, host);
        }
        for id in unreachable {
            self.evict(room, id);
        }
    }

    /// A held seat that cannot take the server's news any more loses the seat.
    fn evict(self: &Arc<Self>, room: &str, id: PeerId) {
        let (rooms, room) = (self.clone(), room.to_owned());
        tokio::spawn(async move { rooms.free(&room, id, |_| true).await });
    }

    /// A refused join or resume leaves no trace: the view made for it goes if nothing
    /// else needs it.
    fn refuse(&self, views: &mut HashMap<String, View>, room: &str, code: ErrorCode) -> NoSeat {
        if views.get(room).is_some_and(View::unused) {
            views.remove(room);
        }
        NoSeat::Refused(code)
    }

    fn new_epoch(&self) -> u64 {
        self.next_epoch.fetch_add(1, Ordering::Relaxed) << 32
    }

    /// Queues `envelope` for `server` (see [`Outgoing::send`]).
    fn send(&self, server: String, envelope: Envelope) -> bool {
        self.outgoing.send(server, &envelope)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, View>> {
        // Every change completes under the lock before anything could panic.
        self.views.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
        })
}
