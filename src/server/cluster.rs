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

use super::limits::IpSlot;
use super::mailbox::{Busy, Kick};
use super::metrics::RedisMetrics;
use super::rooms::{encode, Admitted, Attachment, Mailbox, NoSeat, RoomRules, Seat};
use crate::protocol::signaling::{ErrorCode, PeerId, PeerInfo, ServerMessage, Signal};
use axum::extract::ws::Utf8Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ProtocolVersion, PushKind, Value};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How long one Redis call may take before the person is told `unavailable`.
const REDIS_TIMEOUT: Duration = Duration::from_secs(1);
/// Messages sent to Redis in one pipeline at most.
const PUBLISH_BATCH: usize = 256;
/// Bytes of envelopes waiting to be published; past it (Redis is slow or away), relays to
/// people on other servers are refused with `unavailable` rather than queued without bound.
pub const PUBLISH_QUEUE_BYTES: usize = 16 << 20;
/// An envelope's fields around the text it carries.
const ENVELOPE_OVERHEAD: usize = 1024;
/// How often the subscription's connection is checked, so that it reconnects (and
/// subscribes again) after an outage even when no message comes.
const SUBSCRIPTION_CHECK: Duration = Duration::from_secs(2);

/// Seats a person: refuses a full room, refuses an id in use, else takes the room's next
/// number and returns it with everyone else there.
/// KEYS[1] room hash, KEYS[2] the set of rooms this server holds seats in;
/// ARGV id, server, name, capacity, room.
/// The hash holds `#seq` (the counter) and `<id>` = `<seq> <holder> <name>` per seat; the
/// holder is a server, or `~<ms>` for a seat held for nobody until then (see [`HOLD`]).
static JOIN: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
        local seats = redis.call('HLEN', KEYS[1])
        if seats > 0 then seats = seats - 1 end
        if seats >= tonumber(ARGV[4]) then return {'full'} end
        if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return {'taken'} end
        local seq = redis.call('HINCRBY', KEYS[1], '#seq', 1)
        redis.call('HSET', KEYS[1], ARGV[1], seq .. ' ' .. ARGV[2] .. ' ' .. ARGV[3])
        redis.call('SADD', KEYS[2], ARGV[5])
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
/// people still there; the room is deleted once nobody is left. A seat another server
/// took over (a resume there) is left alone, and that server named.
/// KEYS[1] room hash, KEYS[2] the set of rooms this server holds seats in;
/// ARGV id, server, room.
static LEAVE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
        local seat = redis.call('HGET', KEYS[1], ARGV[1])
        if not seat then return {'gone'} end
        local holder = string.match(seat, '^%d+ (%S+) ')
        if holder ~= ARGV[2] then return {'elsewhere', holder} end
        redis.call('HDEL', KEYS[1], ARGV[1])
        local seq = redis.call('HINCRBY', KEYS[1], '#seq', 1)
        local out = {'left', tostring(seq)}
        local all = redis.call('HGETALL', KEYS[1])
        if #all <= 2 then
          redis.call('DEL', KEYS[1])
          redis.call('SREM', KEYS[2], ARGV[3])
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
        if not seen[ARGV[2]] then redis.call('SREM', KEYS[2], ARGV[3]) end
        return out
        ",
    )
});

/// Moves a seat to this server, from whichever holds it (another server, a dead one's
/// hold, or this one): returns its number, its former holder, its name and everyone else
/// there. KEYS[1] room hash, KEYS[2] the set of rooms this server holds seats in;
/// ARGV id, server, room, prefix.
static RESUME: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
        local seat = redis.call('HGET', KEYS[1], ARGV[1])
        if not seat then return {'gone'} end
        local seq, holder, name = string.match(seat, '^(%d+) (%S+) (.*)$')
        redis.call('HSET', KEYS[1], ARGV[1], seq .. ' ' .. ARGV[2] .. ' ' .. name)
        redis.call('SADD', KEYS[2], ARGV[3])
        local out = {'resumed', seq, holder, name}
        local holder_stays = false
        local all = redis.call('HGETALL', KEYS[1])
        for i = 1, #all, 2 do
          if all[i] ~= '#seq' and all[i] ~= ARGV[1] then
            table.insert(out, all[i])
            table.insert(out, all[i + 1])
            if string.match(all[i + 1], '^%d+ (%S+) ') == holder then holder_stays = true end
          end
        end
        if not holder_stays and holder ~= ARGV[2] then
          redis.call('SREM', ARGV[4] .. ':rooms:' .. holder, ARGV[3])
        end
        return out
        ",
    )
});

/// Lua shared by the scripts that count a server gone. `hold` turns every seat `server`
/// holds into one held for nobody until `until_ms` (Redis's clock): any server may
/// resume it meanwhile, and the sweep frees it after. Keys: `<prefix>:servers` (each
/// live server and when it counts as gone), `<prefix>:rooms:<server>`, `<prefix>:held`
/// (rooms with held seats).
const HOLD: &str = r"
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function hold(prefix, server, until_ms)
  local rooms_key = prefix .. ':rooms:' .. server
  for _, room in ipairs(redis.call('SMEMBERS', rooms_key)) do
    local key = prefix .. ':room:' .. room
    local all = redis.call('HGETALL', key)
    for i = 1, #all, 2 do
      if all[i] ~= '#seq' then
        local seq, holder, name = string.match(all[i + 1], '^(%d+) (%S+) (.*)$')
        if holder == server then
          redis.call('HSET', key, all[i], seq .. ' ~' .. until_ms .. ' ' .. name)
          redis.call('SADD', prefix .. ':held', room)
        end
      end
    end
  end
  redis.call('DEL', rooms_key)
  redis.call('HDEL', prefix .. ':servers', server)
end
";

/// This server is alive until now + liveness. Returns 1 if Redis did not know it (the
/// first beat, or it was counted gone, or Redis lost its data).
/// ARGV prefix, server, liveness (ms).
static HEARTBEAT: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(&format!(
        r"{HOLD}
        return redis.call('HSET', ARGV[1] .. ':servers', ARGV[2], now_ms() + tonumber(ARGV[3]))
        "
    ))
});

/// A server shutting down hands its seats over: each is held for resume_grace, so that
/// its people resume on another server. ARGV prefix, server, grace (ms).
static HAND_OFF: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(&format!(
        r"{HOLD}
        hold(ARGV[1], ARGV[2], now_ms() + tonumber(ARGV[3]))
        "
    ))
});

/// Counts servers past their liveness gone (their seats are held for grace after that),
/// and frees held seats nobody resumed in time, telling the servers of everyone still in
/// those rooms. Returns how many seats it freed. ARGV prefix, grace (ms).
static SWEEP: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(&format!(
        r#"{HOLD}
        local prefix, grace = ARGV[1], tonumber(ARGV[2])
        local now = now_ms()
        local servers = redis.call('HGETALL', prefix .. ':servers')
        for i = 1, #servers, 2 do
          local gone_at = tonumber(servers[i + 1])
          if gone_at < now then hold(prefix, servers[i], gone_at + grace) end
        end
        local freed = 0
        for _, room in ipairs(redis.call('SMEMBERS', prefix .. ':held')) do
          local key = prefix .. ':room:' .. room
          local waiting = false
          local all = redis.call('HGETALL', key)
          for i = 1, #all, 2 do
            local until_ms = string.match(all[i + 1], '^%d+ ~(%d+) ')
            if all[i] ~= '#seq' and until_ms then
              if tonumber(until_ms) <= now then
                redis.call('HDEL', key, all[i])
                local seq = redis.call('HINCRBY', key, '#seq', 1)
                -- Room keys are letters, digits, - and _: nothing to escape.
                local news = '{{"kind":"left","room":"' .. room .. '","peer":' .. all[i]
                  .. ',"seq":' .. seq .. '}}'
                local told = {{}}
                for _, seat in ipairs(redis.call('HVALS', key)) do
                  local holder = string.match(seat, '^%d+ ([^~%s]%S*) ')
                  if holder and not told[holder] then
                    told[holder] = true
                    redis.call('PUBLISH', prefix .. ':server:' .. holder, news)
                  end
                end
                freed = freed + 1
              else
                waiting = true
              end
            end
          end
          if redis.call('HLEN', key) <= 1 then redis.call('DEL', key) end
          if not waiting then redis.call('SREM', prefix .. ':held', room) end
        end
        return freed
        "#
    ))
});

/// What one server tells another, on the addressee's channel.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
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
    /// `peer`'s seat in `room` moved to `server` (they resumed there): messages for
    /// them go there now, and whatever waited for them here follows.
    Moved {
        room: String,
        peer: PeerId,
        server: String,
    },
    /// An encoded server message for the person `to` in `room`: a signal relayed from
    /// `from`, or (without `from`) the server's own news.
    Deliver {
        room: String,
        to: PeerId,
        #[serde(default)]
        from: Option<PeerId>,
        text: String,
        /// Passed on by a server the person had left: never passed on again.
        #[serde(default)]
        forwarded: bool,
        /// When the sending server sent it (µs since the Unix epoch; 0 for what waited).
        #[serde(default)]
        sent_us: u64,
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
    /// Connected to that server; or, for `~<ms>`, held for nobody (see [`HOLD`]).
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

    /// Everyone but `id`, in the order of the view.
    fn others(&self, id: PeerId) -> Vec<PeerInfo> {
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
    fn learn(&mut self, listed: Vec<Person>, this_server: &str) -> Vec<PeerId> {
        let mut unreachable = Vec::new();
        for person in listed {
            let elsewhere = matches!(&person.place, Place::There(s) if s != this_server);
            if elsewhere && !self.knows(person.info.id) {
                unreachable.extend(self.tell_earlier(
                    person.seq,
                    &ServerMessage::PeerJoined {
                        peer: person.info.clone(),
                        polite: false,
                    },
                ));
                self.people.push(person);
            }
        }
        unreachable
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
                Place::Here(at) => (!at.deliver_news(text.clone())).then_some(p.info.id),
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

/// A seat the resume script moved here.
struct Moved {
    seq: u64,
    holder: String,
    name: String,
    others: Vec<Person>,
}

/// How long a server may be silent in Redis, and how long its seats then wait.
pub struct Timing {
    pub liveness: Duration,
    pub grace: Duration,
}

pub struct SharedRooms {
    redis: ConnectionManager,
    prefix: String,
    /// This server's name among the others: random per process.
    server: String,
    rules: RoomRules,
    timing: Timing,
    views: Mutex<HashMap<String, View>>,
    /// Encoded envelopes for the publisher, and their bytes waiting (see
    /// [`PUBLISH_QUEUE_BYTES`]).
    outgoing: mpsc::UnboundedSender<(String, String)>,
    queued_bytes: Arc<AtomicUsize>,
    /// What another server may send in one envelope.
    max_envelope_bytes: usize,
    /// Whether the last heartbeat reached Redis.
    reachable: AtomicBool,
    metrics: RedisMetrics,
    /// Where the epochs of the next seat moved here start: far apart, so a seat that
    /// comes back never matches a connection from its earlier stay.
    next_epoch: AtomicU64,
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
            timing,
            views: Mutex::default(),
            outgoing,
            // A signal's text, JSON-escaped inside the envelope (at most twice as long),
            // and the envelope's own fields.
            max_envelope_bytes: 2 * max_message_bytes + ENVELOPE_OVERHEAD,
            queued_bytes: Arc::new(AtomicUsize::new(0)),
            reachable: AtomicBool::new(true),
            metrics: metrics.clone(),
            next_epoch: AtomicU64::new(1),
        });
        rooms.heartbeat().await?;
        tokio::spawn(publish(
            redis,
            prefix.to_owned(),
            to_publish,
            rooms.queued_bytes.clone(),
            metrics,
        ));
        tokio::spawn(keep_alive(Arc::downgrade(&rooms)));
        let weak = Arc::downgrade(&rooms);
        tokio::spawn(async move {
            let mut check = tokio::time::interval(SUBSCRIPTION_CHECK);
            loop {
                tokio::select! {
                    push = pushed.recv() => {
                        let Some(push) = push else { return };
                        let Some(rooms) = weak.upgrade() else { return };
                        match push.kind {
                            PushKind::Message => {
                                if let Some(Value::BulkString(payload)) = push.data.get(1) {
                                    rooms.on_envelope(payload);
                                }
                            }
                            // The manager reconnects and subscribes again by itself.
                            PushKind::Disconnection => {
                                rooms.metrics.reconnects.inc();
                                tracing::info!("subscription to Redis lost; reconnecting");
                            }
                            _ => {}
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

    /// Whether this server can seat people now: Redis answered its last heartbeat.
    pub fn ready(&self) -> bool {
        self.reachable.load(Ordering::Relaxed)
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
        view.arriving = view.arriving.saturating_sub(1);
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
        let servers = self.servers_of(&others, None);
        let mut unreachable = view.learn(others, &self.server);
        let at = Attachment::at_epoch(mailbox, self.new_epoch());
        let epoch = at.epoch();
        if !mailbox.post(encode(&joined)) {
            // Seated in Redis all the same: added, so that it can be freed.
            view.people.push(Person {
                info,
                seq,
                place: Place::Here(at),
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
            place: Place::Here(at),
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
                epoch,
            },
            people,
        })
    }

    /// Gives a seat back to a new connection of the same person: here at once if this
    /// server holds it, else moved here from wherever it is (another server, or one that
    /// is gone), with nobody told. What waited for the person on their former server
    /// follows them.
    ///
    /// Not yet across servers: a `fresh` page is refused with `resume_expired` (it then
    /// joins under a new id, and the old seat is freed after its grace), and a token that
    /// was used already still works while its seat lives.
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
        {
            let mut views = self.lock();
            let view = views.entry(room.clone()).or_default();
            if let Some(at) = view.here(id, None) {
                let gen = at.epoch() + 1;
                let info = PeerInfo {
                    id,
                    name: name.clone(),
                };
                let resumed = self.rules.resumed(&room, &info, gen, view.others(id));
                let take_back = || self.rules.seat_taken(&room, &info, gen);
                let at = view.here(id, None).expect("found just above");
                return match at.take_over(mailbox, encode(&resumed), take_back) {
                    Some(epoch) => Ok(Seat { room, id, epoch }),
                    None => {
                        drop(views);
                        self.evict(&room, id);
                        Err(NoSeat::NotReading)
                    }
                };
            }
            view.arriving += 1;
        }
        let outcome = self.run_resume(&room, id).await;
        let mut views = self.lock();
        let view = views.entry(room.clone()).or_default();
        view.arriving = view.arriving.saturating_sub(1);
        let moved = match outcome {
            Ok(Some(moved)) => moved,
            Ok(None) => return Err(self.refuse(&mut views, &room, ErrorCode::ResumeExpired)),
            Err(e) => {
                tracing::warn!("cannot move a seat in Redis: {e}");
                return Err(self.refuse(&mut views, &room, ErrorCode::Unavailable));
            }
        };
        let servers = self.servers_of(&moved.others, Some(&moved.holder));
        let at = Attachment::at_epoch(mailbox, self.new_epoch());
        let epoch = at.epoch();
        let info = PeerInfo {
            id,
            name: moved.name,
        };
        let resumed = self.rules.resumed(
            &room,
            &info,
            epoch,
            moved.others.iter().map(|p| p.info.clone()).collect(),
        );
        view.people.retain(|p| p.info.id != id);
        let mut unreachable = view.learn(moved.others, &self.server);
        view.people.push(Person {
            info,
            seq: moved.seq,
            place: Place::Here(at),
            leaving: false,
        });
        drop(views);
        let posted = mailbox.post(encode(&resumed));
        for server in servers {
            self.send(
                server,
                Envelope::Moved {
                    room: room.clone(),
                    peer: id,
                    server: self.server.clone(),
                },
            );
        }
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
            .people
            .iter_mut()
            .find(|p| p.info.id == to && to != seat.id)
            .ok_or(ErrorCode::UnknownPeer)?;
        let text = encode(&ServerMessage::Signal {
            from: seat.id,
            signal,
        });
        match &mut target.place {
            // A slow reader keeps its seat: it is the sender who waits.
            Place::Here(at) => at
                .deliver_signal(seat.id, text)
                .map_err(|Busy| ErrorCode::PeerBusy)?,
            Place::There(_) if !self.ready() => return Err(ErrorCode::Unavailable),
            Place::There(server) => {
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

    /// A fresh resume token for `seat`, if this connection still holds it.
    pub fn fresh_token(&self, seat: &Seat) -> Option<String> {
        let views = self.lock();
        let person =
            views.get(&seat.room)?.people.iter().find(|p| {
                p.info.id == seat.id && matches!(&p.place, Place::Here(at) if at.is(seat))
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

    /// Shutting down: every seat this server holds is held for resume_grace instead, so
    /// that its people (told to reconnect) resume on another server.
    pub async fn hand_off(&self) {
        let handed: Result<(), _> = HAND_OFF
            .arg(&self.prefix)
            .arg(&self.server)
            .arg(millis(self.timing.grace))
            .invoke_async(&mut self.redis.clone())
            .await
            .inspect_err(|_| self.count_error());
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
            .key(self.own_rooms_key())
            .arg(id.0)
            .arg(&self.server)
            .arg(room)
            .invoke_async(&mut self.redis.clone())
            .await
            .inspect_err(|_| self.count_error());
        let mut views = self.lock();
        // Gone if Redis forgot this server meanwhile: its people were sent away.
        let Some(view) = views.get_mut(room) else {
            return Ok(());
        };
        let person = view.people.iter_mut().find(|p| p.info.id == id);
        let (seq, servers) = match (answer, person) {
            (Err(e), Some(person)) => {
                person.leaving = false;
                return Err(e);
            }
            (Err(e), None) => return Err(e),
            (Ok(answer), person) => match answer.as_slice() {
                [outcome, seq, servers @ ..] if outcome == "left" => {
                    (seq.parse::<u64>().unwrap_or(u64::MAX), servers.to_vec())
                }
                // Resumed on another server meanwhile: theirs now, and nobody is told.
                [outcome, holder] if outcome == "elsewhere" => {
                    if let Some(person) = person {
                        person.place = Place::There(holder.clone());
                        person.leaving = false;
                    }
                    if view.unused() {
                        views.remove(room);
                    }
                    return Ok(());
                }
                // Freed already (held too long after this server counted as gone): tell
                // everyone here.
                _ => (u64::MAX, Vec::new()),
            },
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
            .key(self.own_rooms_key())
            .arg(id.0)
            .arg(&self.server)
            .arg(name)
            .arg(self.rules.capacity)
            .arg(room)
            .invoke_async(&mut self.redis.clone())
            .await
            .inspect_err(|_| self.count_error())?;
        match answer.as_slice() {
            [outcome] if outcome == "full" => Ok(JoinOutcome::Full),
            [outcome] if outcome == "taken" => Ok(JoinOutcome::Taken),
            [outcome, seq, rest @ ..] if outcome == "seated" => {
                let seq = seq.parse().map_err(|_| unexpected("JOIN"))?;
                let others = people(rest).ok_or_else(|| unexpected("JOIN"))?;
                Ok(JoinOutcome::Seated { seq, others })
            }
            _ => Err(unexpected("JOIN")),
        }
    }

    /// Moves `id`'s seat here; `None` if it is gone.
    async fn run_resume(&self, room: &str, id: PeerId) -> Result<Option<Moved>, redis::RedisError> {
        let answer: Vec<String> = RESUME
            .key(self.room_key(room))
            .key(self.own_rooms_key())
            .arg(id.0)
            .arg(&self.server)
            .arg(room)
            .arg(&self.prefix)
            .invoke_async(&mut self.redis.clone())
            .await
            .inspect_err(|_| self.count_error())?;
        match answer.as_slice() {
            [outcome] if outcome == "gone" => Ok(None),
            [outcome, seq, holder, name, rest @ ..] if outcome == "resumed" => Ok(Some(Moved {
                seq: seq.parse().map_err(|_| unexpected("RESUME"))?,
                holder: holder.clone(),
                name: name.clone(),
                others: people(rest).ok_or_else(|| unexpected("RESUME"))?,
            })),
            _ => Err(unexpected("RESUME")),
        }
    }

    /// Tells Redis this server is alive; true if Redis had not known it.
    async fn heartbeat(&self) -> Result<bool, redis::RedisError> {
        let fresh: i64 = HEARTBEAT
            .arg(&self.prefix)
            .arg(&self.server)
            .arg(millis(self.timing.liveness))
            .invoke_async(&mut self.redis.clone())
            .await
            .inspect_err(|_| self.count_error())?;
        Ok(fresh == 1)
    }

    async fn sweep(&self) -> Result<(), redis::RedisError> {
        let freed: i64 = SWEEP
            .arg(&self.prefix)
            .arg(millis(self.timing.grace))
            .invoke_async(&mut self.redis.clone())
            .await
            .inspect_err(|_| self.count_error())?;
        if freed > 0 {
            tracing::info!(freed, "freed the seats of a server that is gone");
        }
        Ok(())
    }

    /// Redis no longer knows this server: it lost its data, or counted this server gone
    /// (silent past its liveness) and held its seats for others to resume. Either way
    /// the seats here are not this server's any more: everyone here is sent away to
    /// reconnect and resume, or, if their seat is gone, join again.
    fn forgotten(&self) {
        let views = std::mem::take(&mut *self.lock());
        let mut sent = 0;
        for person in views.into_values().flat_map(|view| view.people) {
            if let Place::Here(at) = person.place {
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
            Envelope::Moved { room, peer, server } => {
                let Some(view) = views.get_mut(&room) else {
                    return;
                };
                let Some(person) = view.people.iter_mut().find(|p| p.info.id == peer) else {
                    return;
                };
                let before = std::mem::replace(&mut person.place, Place::There(server.clone()));
                if let Place::Here(at) = before {
                    let (connection, waiting) = at.hand_over();
                    // A connection still here is one its client already replaced.
                    if let Some(mailbox) = connection {
                        mailbox.kick(Kick::Replaced);
                    }
                    for (from, text) in waiting {
                        self.send(
                            server.clone(),
                            Envelope::Deliver {
                                room: room.clone(),
                                to: peer,
                                from,
                                text: text.as_str().to_owned(),
                                forwarded: true,
                                sent_us: 0,
                            },
                        );
                    }
                }
                if view.unused() {
                    views.remove(&room);
                }
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
                let Some(person) = views
                    .get_mut(&room)
                    .and_then(|view| view.people.iter_mut().find(|p| p.info.id == to))
                else {
                    // Gone meanwhile: the sender hears `peer_left` soon.
                    return;
                };
                match &mut person.place {
                    Place::Here(at) if !person.leaving => match from {
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
                    Place::There(server) if !forwarded => {
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
        drop(views);
        for id in unreachable {
            self.evict(&room, id);
        }
    }

    /// Tells `sender`, on whichever server holds them, that `reader` is not keeping up
    /// with their signals (`peer_busy`).
    fn tell_busy(&self, room: &str, sender: PeerId, reader: PeerId) {
        let text = encode(&ServerMessage::Error {
            code: ErrorCode::PeerBusy,
            message: ErrorCode::PeerBusy.describe().to_owned(),
            peer: Some(reader),
        });
        let mut views = self.lock();
        let Some(person) = views
            .get_mut(room)
            .and_then(|view| view.people.iter_mut().find(|p| p.info.id == sender))
        else {
            return;
        };
        match &mut person.place {
            Place::Here(at) => {
                at.deliver_news(text);
            }
            Place::There(server) => {
                let server = server.clone();
                drop(views);
                self.send(
                    server,
                    Envelope::Deliver {
                        room: room.to_owned(),
                        to: sender,
                        from: None,
                        text: text.as_str().to_owned(),
                        forwarded: false,
                        sent_us: 0,
                    },
                );
            }
        }
    }

    /// A held seat that cannot take the server's news any more loses the seat.
    fn evict(self: &Arc<Self>, room: &str, id: PeerId) {
        let (rooms, room) = (self.clone(), room.to_owned());
        tokio::spawn(async move {
            if let Err(e) = rooms.free(&room, id, |_| true).await {
                tracing::warn!(%room, peer = id.0, "cannot free a seat in Redis: {e}");
            }
        });
    }

    /// A refused join or resume leaves no trace: the view made for it goes if nothing
    /// else needs it.
    fn refuse(&self, views: &mut HashMap<String, View>, room: &str, code: ErrorCode) -> NoSeat {
        if views.get(room).is_some_and(View::unused) {
            views.remove(room);
        }
        NoSeat::Refused(code)
    }

    /// The servers other than this one that hold the seats of `people` (and `also`).
    fn servers_of(&self, people: &[Person], also: Option<&String>) -> BTreeSet<String> {
        people
            .iter()
            .filter_map(|p| match &p.place {
                Place::There(server) => Some(server),
                Place::Here(_) => None,
            })
            .chain(also)
            .filter(|s| **s != self.server && !s.starts_with('~'))
            .cloned()
            .collect()
    }

    fn count_error(&self) {
        self.metrics.errors.inc();
    }

    fn new_epoch(&self) -> u64 {
        self.next_epoch.fetch_add(1, Ordering::Relaxed) << 32
    }

    /// Queues `envelope` for `server`; false when it is a relay and the queue already
    /// holds [`PUBLISH_QUEUE_BYTES`] (Redis is slow): the sender is told `unavailable`.
    /// News of who is where is always queued.
    fn send(&self, server: String, envelope: Envelope) -> bool {
        // A seat held for nobody has no server to tell.
        if server.starts_with('~') {
            return true;
        }
        let payload = serde_json::to_string(&envelope).expect("envelopes always serialize");
        let queued = self.queued_bytes.load(Ordering::Relaxed);
        if matches!(envelope, Envelope::Deliver { .. })
            && queued + payload.len() > PUBLISH_QUEUE_BYTES
        {
            self.metrics.dropped.inc();
            return false;
        }
        self.queued_bytes
            .fetch_add(payload.len(), Ordering::Relaxed);
        // The publisher lives as long as the rooms.
        let _ = self.outgoing.send((server, payload));
        true
    }

    fn room_key(&self, room: &str) -> String {
        format!("{}:room:{room}", self.prefix)
    }

    /// The set of rooms in which this server holds seats.
    fn own_rooms_key(&self) -> String {
        format!("{}:rooms:{}", self.prefix, self.server)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, View>> {
        // Every change completes under the lock before anything could panic.
        self.views.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Beats every `liveness / 5` (at most every half second): says this server is alive,
/// tells the rooms whether Redis answers, and sweeps out servers that are gone. After an
/// outage (of Redis, or of this server's link to it) it waits a whole liveness period
/// before sweeping again, so that every other server has had the time to beat again.
async fn keep_alive(rooms: Weak<SharedRooms>) {
    let (every, liveness) = match rooms.upgrade() {
        Some(rooms) => (
            (rooms.timing.liveness / 5).min(Duration::from_millis(500)),
            rooms.timing.liveness,
        ),
        None => return,
    };
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first beat was in `start`.
    tick.tick().await;
    // A fresh start is no outage: other servers have been beating all along.
    let mut beating_since = Instant::now().checked_sub(liveness);
    loop {
        tick.tick().await;
        let Some(rooms) = rooms.upgrade() else { return };
        match rooms.heartbeat().await {
            Ok(fresh) => {
                if !rooms.reachable.swap(true, Ordering::Relaxed) {
                    rooms.metrics.reconnects.inc();
                    tracing::info!("Redis answers again");
                }
                if fresh {
                    rooms.forgotten();
                }
                let since = *beating_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= liveness {
                    if let Err(e) = rooms.sweep().await {
                        tracing::warn!("cannot sweep out servers that are gone: {e}");
                    }
                }
            }
            Err(e) => {
                beating_since = None;
                if rooms.reachable.swap(false, Ordering::Relaxed) {
                    tracing::warn!("Redis does not answer; refusing joins meanwhile: {e}");
                }
            }
        }
    }
}

/// The seats a script listed, as `[id, "<seq> <holder> <name>", …]`.
fn people(pairs: &[String]) -> Option<Vec<Person>> {
    pairs.chunks(2).map(person).collect()
}

fn person(pair: &[String]) -> Option<Person> {
    let [id, seat] = pair else { return None };
    let mut parts = seat.splitn(3, ' ');
    let (seq, holder, name) = (parts.next()?, parts.next()?, parts.next()?);
    Some(Person {
        info: PeerInfo {
            id: PeerId(id.parse().ok()?),
            name: name.to_owned(),
        },
        seq: seq.parse().ok()?,
        place: Place::There(holder.to_owned()),
        leaving: false,
    })
}

fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
        })
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
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
    mut queued: mpsc::UnboundedReceiver<(String, String)>,
    queued_bytes: Arc<AtomicUsize>,
    metrics: RedisMetrics,
) {
    let mut batch = Vec::with_capacity(PUBLISH_BATCH);
    while queued.recv_many(&mut batch, PUBLISH_BATCH).await > 0 {
        let count = batch.len() as u64;
        let bytes: usize = batch.iter().map(|(_, payload)| payload.len()).sum();
        let mut pipe = redis::pipe();
        for (server, payload) in batch.drain(..) {
            pipe.cmd("PUBLISH")
                .arg(channel(&prefix, &server))
                .arg(payload)
                .ignore();
        }
        let published = pipe.exec_async(&mut redis).await;
        queued_bytes.fetch_sub(bytes, Ordering::Relaxed);
        match published {
            Ok(()) => {
                metrics.publishes.inc_by(count);
            }
            Err(e) => {
                metrics.errors.inc();
                tracing::warn!("cannot publish to other servers: {e}");
            }
        }
    }
}

#[doc(hidden)]
/// For the fuzzer: `payload` as it would come from Redis, with a bound of `max_bytes`.
/// Whatever is accepted must be a genuine envelope: re-encoded, it decodes to itself and
/// is accepted again. Panics otherwise.
pub fn check_envelope(payload: &[u8], max_bytes: usize) {
    if let Ok(envelope) = decode_envelope(payload, max_bytes) {
        let again = serde_json::to_vec(&envelope).expect("envelopes always serialize");
        let back = decode_envelope(&again, usize::MAX).expect("an accepted envelope decodes again");
        assert_eq!(back, envelope);
    }
}

/// What comes from another server, decoded with a size bound, and what it carries for a
/// person here checked to be a server message (Redis may be shared, or written to).
fn decode_envelope(payload: &[u8], max_bytes: usize) -> Result<Envelope, String> {
    if payload.len() > max_bytes {
        return Err(format!("{} bytes, over {max_bytes}", payload.len()));
    }
    let envelope: Envelope = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
    if let Envelope::Deliver { text, .. } = &envelope {
        serde_json::from_str::<ServerMessage>(text)
            .map_err(|e| format!("what it carries is not a server message: {e}"))?;
    }
    Ok(envelope)
}

// The integration tests' own, so that there is one way to start a Redis for a test.
#[cfg(test)]
#[path = "../../tests/common/redis_server.rs"]
#[allow(dead_code)]
mod test_redis;

/// Each script, run on a real Redis: the cases the servers' code relies on.
#[cfg(test)]
mod scripts {
    use super::*;
    use redis::aio::MultiplexedConnection;

    use super::test_redis::RedisServer;

    async fn join(
        redis: &mut MultiplexedConnection,
        id: u64,
        server: &str,
        capacity: usize,
    ) -> Vec<String> {
        JOIN.key("t:room:r")
            .key(format!("t:rooms:{server}"))
            .arg(id)
            .arg(server)
            .arg(format!("name {id}"))
            .arg(capacity)
            .arg("r")
            .invoke_async(redis)
            .await
            .unwrap()
    }

    async fn leave(redis: &mut MultiplexedConnection, id: u64, server: &str) -> Vec<String> {
        LEAVE
            .key("t:room:r")
            .key(format!("t:rooms:{server}"))
            .arg(id)
            .arg(server)
            .arg("r")
            .invoke_async(redis)
            .await
            .unwrap()
    }

    async fn resume(redis: &mut MultiplexedConnection, id: u64) -> Vec<String> {
        RESUME
            .key("t:room:r")
            .key("t:rooms:c")
            .arg(id)
            .arg("c")
            .arg("r")
            .arg("t")
            .invoke_async(redis)
            .await
            .unwrap()
    }

    async fn beat(redis: &mut MultiplexedConnection, server: &str, liveness: u64) -> i64 {
        HEARTBEAT
            .arg("t")
            .arg(server)
            .arg(liveness)
            .invoke_async(redis)
            .await
            .unwrap()
    }

    async fn sweep(redis: &mut MultiplexedConnection, grace: u64) -> i64 {
        SWEEP.arg("t").arg(grace).invoke_async(redis).await.unwrap()
    }

    async fn seat(redis: &mut MultiplexedConnection, id: u64) -> Option<String> {
        redis::cmd("HGET")
            .arg("t:room:r")
            .arg(id)
            .query_async(redis)
            .await
            .unwrap()
    }

    async fn members(redis: &mut MultiplexedConnection, key: &str) -> Vec<String> {
        let mut members: Vec<String> = redis::cmd("SMEMBERS")
            .arg(key)
            .query_async(redis)
            .await
            .unwrap();
        members.sort();
        members
    }

    async fn redis_ms(redis: &mut MultiplexedConnection) -> u64 {
        let (secs, micros): (u64, u64) = redis::cmd("TIME").query_async(redis).await.unwrap();
        secs * 1000 + micros / 1000
    }

    #[tokio::test]
    async fn join_numbers_seats_lists_the_others_and_refuses_full_rooms_and_taken_ids() {
        let server = RedisServer::start();
        let mut redis = server.connect().await;
        assert_eq!(join(&mut redis, 1, "a", 2).await, ["seated", "1"]);
        assert_eq!(join(&mut redis, 1, "b", 2).await, ["taken"]);
        assert_eq!(
            join(&mut redis, 2, "b", 2).await,
            ["seated", "2", "1", "1 a name 1"]
        );
        assert_eq!(join(&mut redis, 3, "b", 2).await, ["full"]);
        assert_eq!(members(&mut redis, "t:rooms:b").await, ["r"]);
        assert_eq!(seat(&mut redis, 2).await.unwrap(), "2 b name 2");
    }

    #[tokio::test]
    async fn leave_frees_only_its_own_seats_and_deletes_the_room_when_empty() {
        let server = RedisServer::start();
        let mut redis = server.connect().await;
        assert_eq!(leave(&mut redis, 1, "a").await, ["gone"]);
        join(&mut redis, 1, "a", 6).await;
        join(&mut redis, 2, "b", 6).await;
        join(&mut redis, 3, "b", 6).await;
        assert_eq!(leave(&mut redis, 1, "b").await, ["elsewhere", "a"]);
        // The change takes the next number; the servers of those still there are named.
        assert_eq!(leave(&mut redis, 1, "a").await, ["left", "4", "b"]);
        assert!(members(&mut redis, "t:rooms:a").await.is_empty());
        assert_eq!(leave(&mut redis, 2, "b").await, ["left", "5", "b"]);
        assert_eq!(members(&mut redis, "t:rooms:b").await, ["r"]);
        assert_eq!(leave(&mut redis, 3, "b").await, ["left", "6"]);
        let exists: bool = redis::cmd("EXISTS")
            .arg("t:room:r")
            .query_async(&mut redis)
            .await
            .unwrap();
        assert!(!exists);
        assert!(members(&mut redis, "t:rooms:b").await.is_empty());
    }

    #[tokio::test]
    async fn resume_moves_a_seat_from_any_holder_and_keeps_its_number() {
        let server = RedisServer::start();
        let mut redis = server.connect().await;
        join(&mut redis, 1, "a", 6).await;
        join(&mut redis, 2, "b", 6).await;
        assert_eq!(resume(&mut redis, 9).await, ["gone"]);
        assert_eq!(
            resume(&mut redis, 1).await,
            ["resumed", "1", "a", "name 1", "2", "2 b name 2"]
        );
        assert_eq!(seat(&mut redis, 1).await.unwrap(), "1 c name 1");
        // A held nobody else there; C holds a seat in the room now.
        assert!(members(&mut redis, "t:rooms:a").await.is_empty());
        assert_eq!(members(&mut redis, "t:rooms:c").await, ["r"]);
        // The former holder can no longer free it.
        assert_eq!(leave(&mut redis, 1, "a").await, ["elsewhere", "c"]);
    }

    #[tokio::test]
    async fn a_silent_server_s_seats_are_held_for_the_grace_then_freed_and_announced() {
        let server = RedisServer::start();
        let mut redis = server.connect().await;
        assert_eq!(beat(&mut redis, "a", 60_000).await, 1);
        assert_eq!(beat(&mut redis, "b", 60_000).await, 1);
        assert_eq!(beat(&mut redis, "b", 60_000).await, 0);
        join(&mut redis, 1, "a", 6).await;
        join(&mut redis, 2, "b", 6).await;
        let mut news = redis::Client::open(server.url())
            .unwrap()
            .get_async_pubsub()
            .await
            .unwrap();
        news.subscribe("t:server:b").await.unwrap();
        assert_eq!(sweep(&mut redis, 60_000).await, 0);
        assert_eq!(seat(&mut redis, 1).await.unwrap(), "1 a name 1");
        // A's liveness ran out: its seat is held for nobody, for the grace after that.
        let gone_at = redis_ms(&mut redis).await - 1;
        redis::cmd("HSET")
            .arg("t:servers")
            .arg("a")
            .arg(gone_at)
            .exec_async(&mut redis)
            .await
            .unwrap();
        assert_eq!(sweep(&mut redis, 60_000).await, 0);
        assert_eq!(
            seat(&mut redis, 1).await.unwrap(),
            format!("1 ~{} name 1", gone_at + 60_000)
        );
        assert_eq!(members(&mut redis, "t:held").await, ["r"]);
        let servers: Vec<String> = redis::cmd("HKEYS")
            .arg("t:servers")
            .query_async(&mut redis)
            .await
            .unwrap();
        assert_eq!(servers, ["b"]);
        // Its grace over, the seat is freed and B is told, with the change's number.
        redis::cmd("HSET")
            .arg("t:room:r")
            .arg(1)
            .arg("1 ~1 name 1")
            .exec_async(&mut redis)
            .await
            .unwrap();
        assert_eq!(sweep(&mut redis, 60_000).await, 1);
        assert!(seat(&mut redis, 1).await.is_none());
        assert!(members(&mut redis, "t:held").await.is_empty());
        let message: String = futures::StreamExt::next(&mut news.on_message())
            .await
            .unwrap()
            .get_payload()
            .unwrap();
        assert_eq!(message, r#"{"kind":"left","room":"r","peer":1,"seq":3}"#);
        assert!(matches!(
            serde_json::from_str::<Envelope>(&message).unwrap(),
            Envelope::Left {
                peer: PeerId(1),
                seq: 3,
                ..
            }
        ));
    }

    #[tokio::test]
    async fn a_server_handing_off_holds_its_seats_for_the_grace() {
        let server = RedisServer::start();
        let mut redis = server.connect().await;
        HEARTBEAT
            .arg("t")
            .arg("a")
            .arg(60_000)
            .invoke_async::<i64>(&mut redis)
            .await
            .unwrap();
        join(&mut redis, 1, "a", 6).await;
        join(&mut redis, 2, "b", 6).await;
        let before = redis_ms(&mut redis).await;
        HAND_OFF
            .arg("t")
            .arg("a")
            .arg(5_000)
            .invoke_async::<()>(&mut redis)
            .await
            .unwrap();
        let held = seat(&mut redis, 1).await.unwrap();
        let until: u64 = held[3..held.len() - 7].parse().unwrap();
        assert!((before + 5_000..before + 6_000).contains(&until), "{held}");
        assert_eq!(seat(&mut redis, 2).await.unwrap(), "2 b name 2");
        assert_eq!(members(&mut redis, "t:held").await, ["r"]);
        assert!(members(&mut redis, "t:rooms:a").await.is_empty());
        // Not yet due: a sweep leaves it.
        let freed: i64 = SWEEP
            .arg("t")
            .arg(5_000)
            .invoke_async(&mut redis)
            .await
            .unwrap();
        assert_eq!(freed, 0);
        assert_eq!(seat(&mut redis, 1).await.unwrap(), held);
    }
}
