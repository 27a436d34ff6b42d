//! The rooms' state in Redis: the key schema, the seat record, and the Lua scripts (in
//! the `.lua` files beside this one) that are the only code to change them.
//!
//! Keys, under the deployment's prefix:
//! - `<prefix>:room:<room>`, a hash: `#seq` (the room's change counter) and, per seat,
//!   `<id>` = `<seq> <holder> <fold> <name>` (see [`Listed`]);
//! - `<prefix>:room:<room>:gen`, a hash: per resumed seat, the generation of its one
//!   valid token (none yet: the join's token is the only one);
//! - `<prefix>:room:<room>:host`, a string: the seat the host handed the role to (while
//!   it is there it hosts the room; else the seat taken earliest does);
//! - `<prefix>:rooms:<server>`, a set: the rooms in which that server holds seats;
//! - `<prefix>:servers`, a hash: each live server and when it counts as gone (ms);
//! - `<prefix>:held`, a set: rooms with seats held for nobody;
//! - `<prefix>:server:<server>`, a channel: what is sent to that server.

use crate::protocol::signaling::{
    fold_name, name_candidates, ErrorCode, KnockId, PeerId, PeerInfo,
};
use crate::server::metrics::RedisMetrics;
use crate::server::room::door::MAX_KNOCKS;
use redis::aio::ConnectionManager;
use std::sync::LazyLock;
use std::time::Duration;

/// One script, built from its `.lua` files.
macro_rules! script {
    ($($file:literal),+) => {
        LazyLock::new(|| redis::Script::new(concat!($(include_str!($file), "\n"),+)))
    };
}

/// Seats a person: refuses a full room, refuses an id in use, else gives them the first
/// of their candidate names that looks like nobody's there, takes the room's next
/// number, tells the other servers there (`joined`), and returns the number and name with
/// everyone else there. Run again by the server that seated it, it answers the same and
/// changes nothing. At a locked room (`:locked`) the person is not seated but listed at
/// the door (`:knocks`, at most `most knocks`) and the host's server told (`knock`),
/// unless the host let this knock in (`:admitted`, used once). KEYS room hash, own rooms
/// set; ARGV id, server, capacity, room, prefix, knock id, let in, may knock, most
/// knocks, then name and folded name (hex) per candidate.
static JOIN: LazyLock<redis::Script> = script!("seat.lua", "tell.lua", "join.lua");
/// Frees a seat this server holds, as the room's next change, and tells the other
/// servers there (`left`); an empty room's hash expires after an hour. A seat another
/// server took over (a resume there) is left alone, and that server named; one freed
/// already is `gone`. KEYS room hash, own rooms set; ARGV id, server, room, prefix.
static LEAVE: LazyLock<redis::Script> = script!("seat.lua", "tell.lua", "leave.lua");
/// Moves a seat to this server, from whichever holds it (another server, a dead one's
/// hold), as the room's next change, and tells the other servers there and the former
/// holder (`moved`); returns the seat's number, the change's, its former holder, its name
/// and everyone else there (what waited on the former holder follows when it hears). A
/// seat here already stays, with nobody told. Either way the token's generation must be
/// the seat's current one (`used` if not), and the seat's is then the next: a token works
/// once, whichever server it is shown to. Run again with the same next generation by the
/// server that ran it, it answers the same and changes nothing.
/// KEYS room hash, own rooms set; ARGV id, server, room, prefix, generation, next one.
static RESUME: LazyLock<redis::Script> = script!("seat.lua", "tell.lua", "resume.lua");
/// This server is alive until now + liveness. Returns 1 if Redis did not know it (the
/// first beat, or it was counted gone, or Redis lost its data).
/// ARGV prefix, server, liveness (ms).
static HEARTBEAT: LazyLock<redis::Script> = script!("seat.lua", "hold.lua", "heartbeat.lua");
/// A server shutting down hands its seats over: each is held for resume_grace, so that
/// its people resume on another server. ARGV prefix, server, grace (ms).
static HAND_OFF: LazyLock<redis::Script> = script!("seat.lua", "hold.lua", "hand_off.lua");
/// Counts servers past their liveness gone (their seats are held for grace after that),
/// and frees held seats nobody resumed in time, telling the servers of everyone still in
/// those rooms. Returns how many seats it freed. ARGV prefix, grace (ms).
static SWEEP: LazyLock<redis::Script> = script!("seat.lua", "hold.lua", "tell.lua", "sweep.lua");

/// Hands the host's role to another seat, as the room's next change, and tells the other
/// servers there (`host`). Refused (`not_joined`, `not_host`, `unknown_peer`) unless the
/// first seat is this server's and hosts the room, and the second is another seat there.
/// KEYS room hash; ARGV host's id, new host's id, server, room, prefix.
static MAKE_HOST: LazyLock<redis::Script> = script!("seat.lua", "tell.lua", "make_host.lua");
/// The host removes a seat: freed as the room's next change, and the other servers there
/// told (`left` with `removed_by`), its own server included. Refused as `MAKE_HOST`.
/// KEYS room hash; ARGV host's id, removed id, server, room, prefix.
static REMOVE: LazyLock<redis::Script> = script!("seat.lua", "tell.lua", "remove.lua");
/// The host locks or unlocks the room, as its next change, and the other servers there
/// are told (`locked`). Refused (`not_joined`, `not_host`) unless the seat is this
/// server's and hosts the room. KEYS room hash; ARGV host's id, 1 or 0, server, room,
/// prefix.
static LOCK: LazyLock<redis::Script> = script!("seat.lua", "tell.lua", "lock.lua");
/// The host answers a knock: it leaves the list (admitted, it may take a seat past the
/// lock, once), and its server is told (`answered`). Refused as `LOCK`, or
/// `unknown_knock`. KEYS room hash; ARGV host's id, knock id, server, room, prefix,
/// `admit` or `deny`.
static ANSWER: LazyLock<redis::Script> = script!("seat.lua", "tell.lua", "answer.lua");
/// A knock's wait ended on its server: off the list, and the host's server told
/// (`knock_ended`). KEYS room hash; ARGV knock id, room, prefix.
static UNKNOCK: LazyLock<redis::Script> = script!("seat.lua", "tell.lua", "unknock.lua");

/// What a host command's script answered: done as change `seq`, or refused.
pub(super) enum HostChange {
    Done { seq: u64 },
    Refused(ErrorCode),
}

/// How a join meets a locked room's door.
#[derive(Clone, Copy)]
pub(super) struct Door {
    /// The knock this join is (listed under it if the room is locked), or was (let in).
    pub knock: KnockId,
    /// The host admitted `knock`: seated past the lock.
    pub let_in: bool,
    /// Whether this person may wait at the door (this server's limits for their address).
    pub may_knock: bool,
}

/// Which host command to run in Redis.
#[derive(Clone, Copy)]
pub(super) enum HostScript {
    MakeHost,
    Remove,
}

/// Who holds a seat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Holder {
    /// The server its person is connected to.
    Server(String),
    /// Nobody, until then (Redis's clock, ms): its server is gone, and any server may
    /// resume the seat meanwhile. Stored as `~<ms>`.
    Nobody { until_ms: u64 },
}

impl Holder {
    fn parse(text: &str) -> Option<Holder> {
        match text.strip_prefix('~') {
            Some(ms) => Some(Holder::Nobody {
                until_ms: ms.parse().ok()?,
            }),
            None if !text.is_empty() => Some(Holder::Server(text.to_owned())),
            None => None,
        }
    }

    /// The server to tell of changes to this seat, if any.
    pub(super) fn server(&self) -> Option<&str> {
        match self {
            Holder::Server(server) => Some(server),
            Holder::Nobody { .. } => None,
        }
    }
}

/// A seat as a script lists it: `<id>` and `<seq> <holder> <fold> <name>`, where `fold` is
/// the name's [folded form](fold_name) in hex (no spaces: the scripts compare it).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Listed {
    pub info: PeerInfo,
    /// The seat's number in the room's order.
    pub seq: u64,
    pub holder: Holder,
}

impl Listed {
    fn parse(id: &str, record: &str) -> Option<Listed> {
        let mut parts = record.splitn(4, ' ');
        let (seq, holder, _fold, name) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        Some(Listed {
            info: PeerInfo {
                id: PeerId(id.parse().ok()?),
                name: name.to_owned(),
            },
            seq: seq.parse().ok()?,
            holder: Holder::parse(holder)?,
        })
    }

    /// `[id, record, …]`, as the scripts return them.
    fn all(pairs: &[String]) -> Option<Vec<Listed>> {
        pairs
            .chunks(2)
            .map(|pair| match pair {
                [id, record] => Listed::parse(id, record),
                _ => None,
            })
            .collect()
    }
}

/// How a join script answered.
pub(super) enum Joined {
    Seated {
        seq: u64,
        name: String,
        /// Who hosts the room, with them seated.
        host: PeerId,
        locked: bool,
        others: Vec<Listed>,
    },
    Full,
    Taken,
    /// At the door of the locked room, whose host is `host_name`.
    Knocking {
        host_name: String,
    },
    /// The room is locked, and this person may not wait at its door (the list is full,
    /// or this server's limits for their address say no, or a knock let in is no more).
    Locked,
}

/// How a leave script answered.
pub(super) enum Left {
    /// Freed as change `seq`.
    Freed { seq: u64 },
    /// Resumed elsewhere meanwhile: theirs now.
    Elsewhere(Holder),
    /// Freed already.
    Gone,
}

/// How a resume script answered.
pub(super) enum Resumed {
    /// The seat is here now (moved, or here already).
    Here(Moved),
    /// The token was used already: the seat has moved on to a later one.
    Used,
    /// Freed already.
    Gone,
}

/// A seat the resume script moved here.
pub(super) struct Moved {
    /// The seat's number in the room's order.
    pub seq: u64,
    /// The move's number among the room's changes.
    pub change: u64,
    pub name: String,
    /// Who hosts the room.
    pub host: PeerId,
    pub locked: bool,
    pub others: Vec<Listed>,
}

/// A room as read from Redis.
pub(super) struct Read {
    /// Its last change's number.
    pub seq: u64,
    pub seats: Vec<Listed>,
    /// The seat the host handed the role to, if any (it hosts while it is there).
    pub chosen: Option<PeerId>,
    pub locked: bool,
}

/// This server's way to the shared state.
pub(super) struct Store {
    redis: ConnectionManager,
    prefix: String,
    /// This server's name among the others: random per process.
    server: String,
    metrics: RedisMetrics,
}

impl Store {
    pub(super) fn new(redis: ConnectionManager, prefix: &str, metrics: RedisMetrics) -> Store {
        Store {
            redis,
            prefix: prefix.to_owned(),
            server: format!("{:016x}", rand::random::<u64>()),
            metrics,
        }
    }

    pub(super) fn server(&self) -> &str {
        &self.server
    }

    /// The channel on which `server` hears from the others.
    pub(super) fn channel(&self, server: &str) -> String {
        channel(&self.prefix, server)
    }

    fn room_key(&self, room: &str) -> String {
        format!("{}:room:{room}", self.prefix)
    }

    /// The set of rooms in which this server holds seats.
    fn own_rooms_key(&self) -> String {
        format!("{}:rooms:{}", self.prefix, self.server)
    }

    /// `script` about `id`'s seat in `room`, by this server: KEYS room hash, own rooms
    /// set; ARGV id, server, room, prefix.
    fn on_seat<'a>(
        &self,
        script: &'a redis::Script,
        room: &str,
        id: PeerId,
    ) -> redis::ScriptInvocation<'a> {
        let mut invocation = script.prepare_invoke();
        invocation
            .key(self.room_key(room))
            .key(self.own_rooms_key())
            .arg(id.0)
            .arg(&self.server)
            .arg(room)
            .arg(&self.prefix);
        invocation
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<T, redis::RedisError> {
        invocation
            .invoke_async(&mut self.redis.clone())
            .await
            .inspect_err(|_| {
                self.metrics.errors.inc();
            })
    }

    /// Seats `id` under `wanted` or, if someone there looks like that, the next free
    /// numbered name (as [`distinct_name`](crate::protocol::signaling::distinct_name)).
    pub(super) async fn join(
        &self,
        room: &str,
        id: PeerId,
        wanted: &str,
        capacity: usize,
        door: Door,
    ) -> Result<Joined, redis::RedisError> {
        let mut join = JOIN.prepare_invoke();
        join.key(self.room_key(room))
            .key(self.own_rooms_key())
            .arg(id.0)
            .arg(&self.server)
            .arg(capacity)
            .arg(room)
            .arg(&self.prefix)
            .arg(door.knock.0)
            .arg(u8::from(door.let_in))
            .arg(u8::from(door.may_knock))
            .arg(MAX_KNOCKS);
        // Everyone there could have the name already.
        for name in name_candidates(wanted).take(capacity + 1) {
            let fold = fold_hex(&name);
            join.arg(name).arg(fold);
        }
        let answer: Vec<String> = self.run(&join).await?;
        match answer.as_slice() {
            [outcome] if outcome == "full" => Ok(Joined::Full),
            [outcome] if outcome == "taken" => Ok(Joined::Taken),
            [outcome] if outcome == "locked" => Ok(Joined::Locked),
            [outcome, host_name] if outcome == "knocking" => Ok(Joined::Knocking {
                host_name: host_name.clone(),
            }),
            [outcome, seq, name, host, locked, rest @ ..] if outcome == "seated" => {
                Ok(Joined::Seated {
                    seq: seq.parse().map_err(|_| unexpected("JOIN"))?,
                    name: name.clone(),
                    host: PeerId(host.parse().map_err(|_| unexpected("JOIN"))?),
                    locked: locked == "1",
                    others: Listed::all(rest).ok_or_else(|| unexpected("JOIN"))?,
                })
            }
            _ => Err(unexpected("JOIN")),
        }
    }

    pub(super) async fn leave(&self, room: &str, id: PeerId) -> Result<Left, redis::RedisError> {
        let answer: Vec<String> = self.run(&self.on_seat(&LEAVE, room, id)).await?;
        match answer.as_slice() {
            [outcome, seq] if outcome == "left" => Ok(Left::Freed {
                seq: seq.parse().map_err(|_| unexpected("LEAVE"))?,
            }),
            [outcome, holder] if outcome == "elsewhere" => Ok(Left::Elsewhere(
                Holder::parse(holder).ok_or_else(|| unexpected("LEAVE"))?,
            )),
            [outcome] if outcome == "gone" => Ok(Left::Gone),
            _ => Err(unexpected("LEAVE")),
        }
    }

    /// Moves `id`'s seat here for a token of generation `gen`, whose next one is `next`.
    pub(super) async fn resume(
        &self,
        room: &str,
        id: PeerId,
        gen: u64,
        next: u64,
    ) -> Result<Resumed, redis::RedisError> {
        let mut resume = self.on_seat(&RESUME, room, id);
        resume.arg(gen).arg(next);
        let answer: Vec<String> = self.run(&resume).await?;
        match answer.as_slice() {
            [outcome] if outcome == "gone" => Ok(Resumed::Gone),
            [outcome] if outcome == "used" => Ok(Resumed::Used),
            [outcome, seq, change, _holder, name, host, locked, rest @ ..]
                if outcome == "resumed" =>
            {
                Ok(Resumed::Here(Moved {
                    seq: seq.parse().map_err(|_| unexpected("RESUME"))?,
                    change: change.parse().map_err(|_| unexpected("RESUME"))?,
                    name: name.clone(),
                    host: PeerId(host.parse().map_err(|_| unexpected("RESUME"))?),
                    locked: locked == "1",
                    others: Listed::all(rest).ok_or_else(|| unexpected("RESUME"))?,
                }))
            }
            _ => Err(unexpected("RESUME")),
        }
    }

    /// Runs a host command of `host` about `peer` in `room`.
    pub(super) async fn host_command(
        &self,
        script: HostScript,
        room: &str,
        host: PeerId,
        peer: PeerId,
    ) -> Result<HostChange, redis::RedisError> {
        let script = match script {
            HostScript::MakeHost => &*MAKE_HOST,
            HostScript::Remove => &*REMOVE,
        };
        let mut invocation = script.prepare_invoke();
        invocation
            .key(self.room_key(room))
            .arg(host.0)
            .arg(peer.0)
            .arg(&self.server)
            .arg(room)
            .arg(&self.prefix);
        let answer: Vec<String> = self.run(&invocation).await?;
        match answer.as_slice() {
            [outcome, seq] if outcome == "done" || outcome == "removed" => Ok(HostChange::Done {
                seq: seq.parse().map_err(|_| unexpected("HOST"))?,
            }),
            [refusal] => Ok(HostChange::Refused(refusal_named(refusal, "HOST")?)),
            _ => Err(unexpected("HOST")),
        }
    }

    /// Runs `host`'s lock (or unlock) of `room`.
    pub(super) async fn lock(
        &self,
        room: &str,
        host: PeerId,
        locked: bool,
    ) -> Result<HostChange, redis::RedisError> {
        let mut invocation = LOCK.prepare_invoke();
        invocation
            .key(self.room_key(room))
            .arg(host.0)
            .arg(u8::from(locked))
            .arg(&self.server)
            .arg(room)
            .arg(&self.prefix);
        let answer: Vec<String> = self.run(&invocation).await?;
        match answer.as_slice() {
            [outcome, seq] if outcome == "done" => Ok(HostChange::Done {
                seq: seq.parse().map_err(|_| unexpected("LOCK"))?,
            }),
            [refusal] => Ok(HostChange::Refused(refusal_named(refusal, "LOCK")?)),
            _ => Err(unexpected("LOCK")),
        }
    }

    /// Runs `host`'s answer to `knock` at `room`'s door: `Ok(None)` when done.
    pub(super) async fn answer(
        &self,
        room: &str,
        host: PeerId,
        knock: KnockId,
        admit: bool,
    ) -> Result<Option<ErrorCode>, redis::RedisError> {
        let mut invocation = ANSWER.prepare_invoke();
        invocation
            .key(self.room_key(room))
            .arg(host.0)
            .arg(knock.0)
            .arg(&self.server)
            .arg(room)
            .arg(&self.prefix)
            .arg(if admit { "admit" } else { "deny" });
        let answer: Vec<String> = self.run(&invocation).await?;
        match answer.as_slice() {
            [outcome] if outcome == "done" => Ok(None),
            [refusal] => Ok(Some(refusal_named(refusal, "ANSWER")?)),
            _ => Err(unexpected("ANSWER")),
        }
    }

    /// `knock`'s wait at `room`'s door ended here.
    pub(super) async fn unknock(
        &self,
        room: &str,
        knock: KnockId,
    ) -> Result<(), redis::RedisError> {
        let mut invocation = UNKNOCK.prepare_invoke();
        invocation
            .key(self.room_key(room))
            .arg(knock.0)
            .arg(room)
            .arg(&self.prefix);
        let _: i64 = self.run(&invocation).await?;
        Ok(())
    }

    /// Who waits at `room`'s door: each knock and the name it gave.
    pub(super) async fn knocks(
        &self,
        room: &str,
    ) -> Result<Vec<(KnockId, String)>, redis::RedisError> {
        let all: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(format!("{}:knocks", self.room_key(room)))
            .query_async(&mut self.redis.clone())
            .await
            .inspect_err(|_| {
                self.metrics.errors.inc();
            })?;
        all.into_iter()
            .map(|(knock, record)| {
                let knock = knock.parse().map_err(|_| unexpected("HGETALL"))?;
                let name = record.split_once(' ').map(|(_, name)| name.to_owned());
                Ok((KnockId(knock), name.ok_or_else(|| unexpected("HGETALL"))?))
            })
            .collect()
    }

    /// The room as it is: its last change's number, every seat, and the seat the host
    /// chose, if any.
    pub(super) async fn read(&self, room: &str) -> Result<Read, redis::RedisError> {
        let key = self.room_key(room);
        let (mut all, chosen, locked): (Vec<(String, String)>, Option<String>, bool) =
            redis::pipe()
                .atomic()
                .cmd("HGETALL")
                .arg(&key)
                .cmd("GET")
                .arg(format!("{key}:host"))
                .cmd("EXISTS")
                .arg(format!("{key}:locked"))
                .query_async(&mut self.redis.clone())
                .await
                .inspect_err(|_| {
                    self.metrics.errors.inc();
                })?;
        let mut seq = 0;
        if let Some(at) = all.iter().position(|(field, _)| field == "#seq") {
            seq = all
                .swap_remove(at)
                .1
                .parse()
                .map_err(|_| unexpected("HGETALL"))?;
        }
        let all: Vec<String> = all.into_iter().flat_map(|(id, seat)| [id, seat]).collect();
        let seats = Listed::all(&all).ok_or_else(|| unexpected("HGETALL"))?;
        let chosen = match chosen {
            Some(id) => Some(PeerId(id.parse().map_err(|_| unexpected("GET"))?)),
            None => None,
        };
        Ok(Read {
            seq,
            seats,
            chosen,
            locked,
        })
    }

    /// Tells Redis this server is alive; true if Redis had not known it.
    pub(super) async fn heartbeat(&self, liveness: Duration) -> Result<bool, redis::RedisError> {
        let fresh: i64 = self
            .run(
                HEARTBEAT
                    .arg(&self.prefix)
                    .arg(&self.server)
                    .arg(millis(liveness)),
            )
            .await?;
        Ok(fresh == 1)
    }

    /// Counts silent servers gone and frees the seats held too long; returns how many.
    pub(super) async fn sweep(&self, grace: Duration) -> Result<i64, redis::RedisError> {
        self.run(SWEEP.arg(&self.prefix).arg(millis(grace))).await
    }

    pub(super) async fn hand_off(&self, grace: Duration) -> Result<(), redis::RedisError> {
        self.run(
            HAND_OFF
                .arg(&self.prefix)
                .arg(&self.server)
                .arg(millis(grace)),
        )
        .await
    }
}

/// A name's folded form, in hex: what the join script compares.
fn fold_hex(name: &str) -> String {
    fold_name(name)
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(super) fn channel(prefix: &str, server: &str) -> String {
    format!("{prefix}:server:{server}")
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The refusal a host script named.
fn refusal_named(refusal: &str, script: &str) -> Result<ErrorCode, redis::RedisError> {
    [
        ErrorCode::NotJoined,
        ErrorCode::NotHost,
        ErrorCode::UnknownPeer,
        ErrorCode::UnknownKnock,
    ]
    .into_iter()
    .find(|code| code.name() == refusal)
    .ok_or_else(|| unexpected(script))
}

fn unexpected(script: &str) -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::UnexpectedReturnType,
        "unexpected answer from a script",
        script.to_owned(),
    ))
}

#[cfg(test)]
mod records {
    use super::*;

    #[test]
    fn a_seat_record_names_its_holder_or_when_it_is_held_for_nobody_until() {
        let seat = Listed::parse("7", "3 abc 616e6e206c6565 Ann Lee").expect("a valid record");
        assert_eq!(seat.seq, 3);
        assert_eq!(seat.info.name, "Ann Lee");
        assert_eq!(seat.holder, Holder::Server("abc".into()));
        let held = Listed::parse("7", "3 ~1700 616e6e Ann").expect("a valid record");
        assert_eq!(held.holder, Holder::Nobody { until_ms: 1700 });
        assert_eq!(held.holder.server(), None);
        for bad in [
            "3 ~soon f Ann",
            "x abc f Ann",
            "3 abc f",
            "3  f Ann",
            "3 abc Ann",
        ] {
            assert_eq!(Listed::parse("7", bad), None, "{bad}");
        }
        assert_eq!(Listed::parse("seven", "3 abc f Ann"), None);
        assert_eq!(fold_hex("Ann Lee"), "616e6e206c6565");
        assert_eq!(fold_hex("ÅSA"), fold_hex("åsa"));
        assert_eq!(Listed::all(&["1".into()]), None);
    }
}

// The integration tests' own, so that there is one way to start a Redis for a test.
#[cfg(test)]
#[path = "test_redis.rs"]
#[allow(dead_code)]
pub(super) mod test_redis;

/// Each script, run on a real Redis: the cases the servers' code relies on.
#[cfg(test)]
mod scripts {
    use super::super::pubsub::Envelope;
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
            .arg(capacity)
            .arg("r")
            .arg("t")
            // No knock: the test rooms are never locked.
            .arg(1000 + id)
            .arg(0)
            .arg(1)
            .arg(10)
            .arg(format!("name {id}"))
            .arg(format!("f{id}"))
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
            .arg("t")
            .invoke_async(redis)
            .await
            .unwrap()
    }

    async fn resume(redis: &mut MultiplexedConnection, id: u64) -> Vec<String> {
        resume_as(redis, id, "c", "", "1").await
    }

    /// A host command of `host`'s (held by `server`) about `peer`.
    async fn host_command(
        redis: &mut MultiplexedConnection,
        script: &redis::Script,
        host: u64,
        peer: u64,
        server: &str,
    ) -> Vec<String> {
        script
            .key("t:room:r")
            .arg(host)
            .arg(peer)
            .arg(server)
            .arg("r")
            .arg("t")
            .invoke_async(redis)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn only_the_host_hands_the_role_on_or_removes_and_the_earliest_follows_a_host_who_left() {
        let server = RedisServer::start();
        let mut redis = server.connect().await;
        join(&mut redis, 1, "a", 6).await;
        join(&mut redis, 2, "b", 6).await;
        join(&mut redis, 3, "b", 6).await;
        let mut news = redis::Client::open(server.url())
            .unwrap()
            .get_async_pubsub()
            .await
            .unwrap();
        news.subscribe("t:server:b").await.unwrap();
        let refusals = [
            (2, 3, "b", "not_host"),
            (1, 3, "b", "not_joined"),
            (1, 1, "a", "unknown_peer"),
            (1, 9, "a", "unknown_peer"),
        ];
        for (host, peer, on, refusal) in refusals {
            for script in [&*MAKE_HOST, &*REMOVE] {
                let answer = host_command(&mut redis, script, host, peer, on).await;
                assert_eq!(answer, [refusal], "{host} about {peer} on {on}");
            }
        }
        assert!(heard(&mut news).await.is_empty(), "a refusal tells nobody");
        assert_eq!(
            host_command(&mut redis, &MAKE_HOST, 1, 3, "a").await,
            ["done", "4"]
        );
        assert_eq!(
            serde_json::from_str::<Envelope>(&heard(&mut news).await[0]).unwrap(),
            Envelope::Host {
                room: "r".into(),
                peer: PeerId(3),
                seq: 4
            }
        );
        assert_eq!(
            join(&mut redis, 4, "a", 6).await[3],
            "3",
            "joined names the host"
        );
        assert_eq!(
            host_command(&mut redis, &REMOVE, 1, 2, "a").await,
            ["not_host"]
        );
        assert_eq!(
            host_command(&mut redis, &MAKE_HOST, 3, 4, "b").await,
            ["done", "6"]
        );
        heard(&mut news).await;
        assert_eq!(
            host_command(&mut redis, &REMOVE, 4, 2, "a").await,
            ["removed", "7"]
        );
        assert!(seat(&mut redis, 2).await.is_none());
        assert_eq!(
            members(&mut redis, "t:rooms:b").await,
            ["r"],
            "3 is still b's"
        );
        // The removed person's server is told, to close their socket.
        assert_eq!(
            serde_json::from_str::<Envelope>(&heard(&mut news).await[0]).unwrap(),
            Envelope::Left {
                room: "r".into(),
                peer: PeerId(2),
                seq: 7,
                removed_by: Some(PeerId(4))
            }
        );
        assert_eq!(leave(&mut redis, 4, "a").await, ["left", "8"]);
        assert_eq!(
            join(&mut redis, 5, "b", 6).await[3],
            "1",
            "the chosen host left: the earliest seat hosts"
        );
    }

    /// A resume on `server` with a token of generation `gen` ("" for none) making `next`.
    async fn resume_as(
        redis: &mut MultiplexedConnection,
        id: u64,
        server: &str,
        gen: &str,
        next: &str,
    ) -> Vec<String> {
        RESUME
            .key("t:room:r")
            .key(format!("t:rooms:{server}"))
            .arg(id)
            .arg(server)
            .arg("r")
            .arg("t")
            .arg(gen)
            .arg(next)
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
        assert_eq!(
            join(&mut redis, 1, "a", 2).await,
            ["seated", "1", "name 1", "1", "0"]
        );
        assert_eq!(join(&mut redis, 1, "b", 2).await, ["taken"]);
        assert_eq!(
            join(&mut redis, 2, "b", 2).await,
            ["seated", "2", "name 2", "1", "0", "1", "1 a f1 name 1"]
        );
        assert_eq!(join(&mut redis, 3, "b", 2).await, ["full"]);
        assert_eq!(members(&mut redis, "t:rooms:b").await, ["r"]);
        assert_eq!(seat(&mut redis, 2).await.unwrap(), "2 b f2 name 2");
    }

    #[tokio::test]
    async fn join_gives_the_first_name_that_looks_like_nobody_s_in_the_room() {
        let server = RedisServer::start();
        let mut redis = server.connect().await;
        join(&mut redis, 1, "a", 6).await;
        join(&mut redis, 2, "a", 6).await;
        // "NAME 1" folds as "name 1" does (f1); so does "NAME 2"'s first try.
        let answer: Vec<String> = JOIN
            .key("t:room:r")
            .key("t:rooms:b")
            .arg(3)
            .arg("b")
            .arg(6)
            .arg("r")
            .arg("t")
            .arg(1003)
            .arg(0)
            .arg(1)
            .arg(10)
            .arg("NAME 1")
            .arg("f1")
            .arg("NAME 1 (2)")
            .arg("f2")
            .arg("NAME 1 (3)")
            .arg("f3")
            .invoke_async(&mut redis)
            .await
            .unwrap();
        assert_eq!(answer[..3], ["seated", "3", "NAME 1 (3)"]);
        assert_eq!(seat(&mut redis, 3).await.unwrap(), "3 b f3 NAME 1 (3)");
    }

    #[tokio::test]
    async fn leave_frees_only_its_own_seats_and_an_empty_room_keeps_its_counter_an_hour() {
        let server = RedisServer::start();
        let mut redis = server.connect().await;
        assert_eq!(leave(&mut redis, 1, "a").await, ["gone"]);
        join(&mut redis, 1, "a", 6).await;
        join(&mut redis, 2, "b", 6).await;
        join(&mut redis, 3, "b", 6).await;
        assert_eq!(leave(&mut redis, 1, "b").await, ["elsewhere", "a"]);
        // The change takes the next number.
        assert_eq!(leave(&mut redis, 1, "a").await, ["left", "4"]);
        assert!(members(&mut redis, "t:rooms:a").await.is_empty());
        assert_eq!(leave(&mut redis, 2, "b").await, ["left", "5"]);
        assert_eq!(members(&mut redis, "t:rooms:b").await, ["r"]);
        assert_eq!(leave(&mut redis, 3, "b").await, ["left", "6"]);
        assert!(members(&mut redis, "t:rooms:b").await.is_empty());
        let ttl: i64 = redis::cmd("PTTL")
            .arg("t:room:r")
            .query_async(&mut redis)
            .await
            .unwrap();
        assert!((3_500_000..=3_600_000).contains(&ttl), "{ttl}");
        // Numbers go on, and the room stays.
        assert_eq!(
            join(&mut redis, 4, "a", 6).await,
            ["seated", "7", "name 4", "4", "0"]
        );
        let ttl: i64 = redis::cmd("PTTL")
            .arg("t:room:r")
            .query_async(&mut redis)
            .await
            .unwrap();
        assert_eq!(ttl, -1);
    }

    /// What server `server` hears on its channel within a moment.
    async fn heard(news: &mut redis::aio::PubSub) -> Vec<String> {
        let mut heard = Vec::new();
        let mut stream = news.on_message();
        while let Ok(Some(message)) = tokio::time::timeout(
            Duration::from_millis(300),
            futures::StreamExt::next(&mut stream),
        )
        .await
        {
            heard.push(message.get_payload().unwrap());
        }
        heard
    }

    /// The host rule's twin in Lua (`host_of`, which every host-only script and the join
    /// script use) finds the host `room::host` finds, room by room.
    #[tokio::test]
    async fn redis_finds_the_host_the_room_model_finds() {
        use crate::server::room::host::{host, tests::CASES};
        let server = RedisServer::start();
        let mut redis = server.connect().await;
        let host_of = redis::Script::new(concat!(
            include_str!("seat.lua"),
            "\n",
            include_str!("tell.lua"),
            "\nreturn host_of(KEYS[1])"
        ));
        for (i, (seats, chosen, expected)) in CASES.iter().enumerate() {
            let key = format!("t:room:case{i}");
            redis::cmd("HSET")
                .arg(&key)
                .arg("#seq")
                .arg(99)
                .exec_async(&mut redis)
                .await
                .unwrap();
            for (id, seq) in seats.iter() {
                let record = format!("{seq} a f{id} P{id}");
                redis::cmd("HSET")
                    .arg(&key)
                    .arg(id)
                    .arg(record)
                    .exec_async(&mut redis)
                    .await
                    .unwrap();
            }
            if let Some(chosen) = chosen {
                redis::cmd("SET")
                    .arg(format!("{key}:host"))
                    .arg(chosen)
                    .exec_async(&mut redis)
                    .await
                    .unwrap();
            }
            let found: Option<String> = host_of.key(&key).invoke_async(&mut redis).await.unwrap();
            let ours = host(
                chosen.map(PeerId),
                seats.iter().map(|(id, seq)| (PeerId(*id), *seq)),
            );
            assert_eq!(found, ours.map(|id| id.0.to_string()), "case {i}");
            assert_eq!(ours, expected.map(PeerId), "case {i}");
        }
    }

    /// A join of `name` as `id` on `server`, at a door: as knock `knock`, let in or not.
    async fn join_at_door(
        redis: &mut MultiplexedConnection,
        id: u64,
        server: &str,
        knock: u64,
        let_in: bool,
        name: &str,
    ) -> Vec<String> {
        JOIN.key("t:room:r")
            .key(format!("t:rooms:{server}"))
            .arg(id)
            .arg(server)
            .arg(6)
            .arg("r")
            .arg("t")
            .arg(knock)
            .arg(if let_in { 1 } else { 0 })
            .arg(1)
            .arg(MAX_KNOCKS)
            .arg(name)
            .arg(fold_hex(name))
            .invoke_async(redis)
            .await
            .unwrap()
    }

    /// Everything published to any server within a moment, each decoded as a server
    /// decodes it (size-checked; names and what a delivery carries re-checked).
    async fn envelopes(news: &mut redis::aio::PubSub) -> Vec<(String, Envelope)> {
        let mut heard = Vec::new();
        let mut stream = news.on_message();
        while let Ok(Some(message)) = tokio::time::timeout(
            Duration::from_millis(300),
            futures::StreamExt::next(&mut stream),
        )
        .await
        {
            let channel = message.get_channel_name().trim_start_matches("t:server:");
            let payload: Vec<u8> = message.get_payload().unwrap();
            let envelope = super::super::pubsub::decode_envelope(&payload, 1 << 16)
                .unwrap_or_else(|e| panic!("{}: {e}", String::from_utf8_lossy(&payload)));
            heard.push((channel.to_owned(), envelope));
        }
        heard
    }

    /// Issue 35, item 3: every script that publishes, run on a real Redis, and every kind
    /// of envelope they publish decoded as a server decodes it, with ids and knocks at
    /// their largest (2^53 - 1: a browser holds them as numbers), a token generation near
    /// u64's largest, and a name that needs escaping. The scripts build every envelope
    /// through one helper (`news` in tell.lua); this holds it to the `Envelope` type.
    #[tokio::test]
    async fn every_envelope_every_script_publishes_decodes_with_the_largest_numbers() {
        let server = RedisServer::start();
        let mut redis = server.connect().await;
        let client = redis::Client::open(server.url()).unwrap();
        let mut news = client.get_async_pubsub().await.unwrap();
        news.psubscribe("t:server:*").await.unwrap();
        const BIG: u64 = (1 << 53) - 1;
        let (host, guest, late, later) = (BIG, BIG - 1, BIG - 2, BIG - 3);
        let (knock, next_knock) = (BIG - 4, BIG - 5);
        let name = "Zoë \"Z\" \\ / ✋";
        let gen = u64::MAX - 1;
        let room = || "r".to_owned();
        let mut kinds = std::collections::BTreeSet::new();
        let mut expect = |heard: Vec<(String, Envelope)>, wanted: &[(&str, Envelope)]| {
            for (_, envelope) in &heard {
                let kind = serde_json::to_value(envelope).unwrap()["kind"].clone();
                kinds.insert(kind.as_str().unwrap().to_owned());
            }
            let mut heard: Vec<(String, Envelope)> = heard;
            let mut wanted: Vec<(String, Envelope)> = wanted
                .iter()
                .map(|(to, e)| ((*to).to_owned(), e.clone()))
                .collect();
            let order = |v: &mut Vec<(String, Envelope)>| {
                v.sort_by_key(|(to, e)| (to.clone(), serde_json::to_string(e).unwrap()))
            };
            order(&mut heard);
            order(&mut wanted);
            assert_eq!(heard, wanted);
        };
        // Joined: the host on a, a guest with that name on b.
        join_at_door(&mut redis, host, "a", 1, false, "Host").await;
        assert_eq!(
            join_at_door(&mut redis, guest, "b", 2, false, name).await[..3],
            ["seated", "2", name]
        );
        let joined = |id: u64, name: &str, seq: u64, server: &str| Envelope::Joined {
            room: room(),
            peer: PeerInfo {
                id: PeerId(id),
                name: name.into(),
            },
            seq,
            server: server.into(),
        };
        expect(
            envelopes(&mut news).await,
            &[("a", joined(guest, name, 2, "b"))],
        );
        // Locked.
        let lock: Vec<String> = LOCK
            .key("t:room:r")
            .arg(host)
            .arg(1)
            .arg("a")
            .arg("r")
            .arg("t")
            .invoke_async(&mut redis)
            .await
            .unwrap();
        assert_eq!(lock, ["done", "3"]);
        let locked = Envelope::Locked {
            room: room(),
            locked: true,
            seq: 3,
        };
        expect(envelopes(&mut news).await, &[("b", locked)]);
        // Knock, then knock_ended and answered (admit) on the host's answer, then the
        // person let in is seated past the lock.
        let late_name = "Late \"L\" ✋";
        assert_eq!(
            join_at_door(&mut redis, late, "c", knock, false, late_name).await,
            ["knocking", "Host"]
        );
        let knocked = |knock: u64| Envelope::Knock {
            room: room(),
            knock: KnockId(knock),
            name: late_name.into(),
        };
        expect(envelopes(&mut news).await, &[("a", knocked(knock))]);
        let answer: Vec<String> = ANSWER
            .key("t:room:r")
            .arg(host)
            .arg(knock)
            .arg("a")
            .arg("r")
            .arg("t")
            .arg("admit")
            .invoke_async(&mut redis)
            .await
            .unwrap();
        assert_eq!(answer, ["done"]);
        let ended = |knock: u64| Envelope::KnockEnded {
            room: room(),
            knock: KnockId(knock),
        };
        let answered = Envelope::Answered {
            room: room(),
            knock: KnockId(knock),
            verdict: super::super::pubsub::Verdict::Admit,
            by: Some("Host".into()),
        };
        expect(
            envelopes(&mut news).await,
            &[("a", ended(knock)), ("c", answered)],
        );
        assert_eq!(
            join_at_door(&mut redis, late, "c", knock, true, late_name).await[..3],
            ["seated", "4", late_name]
        );
        let seated = joined(late, late_name, 4, "c");
        expect(
            envelopes(&mut news).await,
            &[("a", seated.clone()), ("b", seated)],
        );
        // A knock given up: knock_ended to the host's server.
        join_at_door(&mut redis, later, "c", next_knock, false, "Dave").await;
        let given_up: i64 = UNKNOCK
            .key("t:room:r")
            .arg(next_knock)
            .arg("r")
            .arg("t")
            .invoke_async(&mut redis)
            .await
            .unwrap();
        assert_eq!(given_up, 1);
        let heard = envelopes(&mut news).await;
        assert!(
            heard.iter().any(|(_, e)| *e == ended(next_knock)),
            "{heard:?}"
        );
        // Host, then left (removed by the new host).
        assert_eq!(
            host_command(&mut redis, &MAKE_HOST, host, guest, "a").await,
            ["done", "5"]
        );
        let hosted = Envelope::Host {
            room: room(),
            peer: PeerId(guest),
            seq: 5,
        };
        expect(
            envelopes(&mut news).await,
            &[("b", hosted.clone()), ("c", hosted)],
        );
        assert_eq!(
            host_command(&mut redis, &REMOVE, guest, late, "b").await,
            ["removed", "6"]
        );
        let removed = Envelope::Left {
            room: room(),
            peer: PeerId(late),
            seq: 6,
            removed_by: Some(PeerId(guest)),
        };
        expect(
            envelopes(&mut news).await,
            &[("a", removed.clone()), ("c", removed)],
        );
        // Moved, with the largest generation.
        assert_eq!(
            resume_as(&mut redis, guest, "d", "", &gen.to_string()).await[..3],
            ["resumed", "2", "7"]
        );
        let moved = Envelope::Moved {
            room: room(),
            peer: PeerId(guest),
            server: "d".into(),
            seq: 7,
            gen: Some(gen),
        };
        expect(
            envelopes(&mut news).await,
            &[("a", moved.clone()), ("b", moved)],
        );
        // Left, and the room emptied while someone waits at its door: answered (empty).
        assert_eq!(leave(&mut redis, host, "a").await, ["left", "8"]);
        let left = |peer: u64, seq: u64| Envelope::Left {
            room: room(),
            peer: PeerId(peer),
            seq,
            removed_by: None,
        };
        expect(envelopes(&mut news).await, &[("d", left(host, 8))]);
        join_at_door(&mut redis, later, "e", next_knock, false, "Dave").await;
        expect(
            envelopes(&mut news).await,
            &[(
                "d",
                Envelope::Knock {
                    room: room(),
                    knock: KnockId(next_knock),
                    name: "Dave".into(),
                },
            )],
        );
        let last: Vec<String> = LEAVE
            .key("t:room:r")
            .key("t:rooms:d")
            .arg(guest)
            .arg("d")
            .arg("r")
            .arg("t")
            .invoke_async(&mut redis)
            .await
            .unwrap();
        assert_eq!(last, ["left", "9"]);
        let emptied = Envelope::Answered {
            room: room(),
            knock: KnockId(next_knock),
            verdict: super::super::pubsub::Verdict::Empty,
            by: None,
        };
        expect(envelopes(&mut news).await, &[("e", emptied)]);
        // The sweep frees a seat held for nobody past its time: left, to whoever holds
        // another seat there.
        let past = redis_ms(&mut redis).await - 1;
        for (id, record) in [
            (BIG, format!("1 ~{past} f held")),
            (1, "2 z f1 Zed".to_owned()),
        ] {
            redis::cmd("HSET")
                .arg("t:room:r")
                .arg(id)
                .arg(record)
                .exec_async(&mut redis)
                .await
                .unwrap();
        }
        redis::cmd("SADD")
            .arg("t:held")
            .arg("r")
            .exec_async(&mut redis)
            .await
            .unwrap();
        assert_eq!(sweep(&mut redis, 0).await, 1);
        expect(envelopes(&mut news).await, &[("z", left(BIG, 10))]);
        assert_eq!(
            kinds.into_iter().collect::<Vec<_>>(),
            [
                "answered",
                "host",
                "joined",
                "knock",
                "knock_ended",
                "left",
                "locked",
                "moved"
            ],
            "every kind a script publishes"
        );
    }

    #[tokio::test]
    async fn each_change_tells_the_other_servers_itself_once_and_a_retry_tells_nobody() {
        let server = RedisServer::start();
        let mut redis = server.connect().await;
        let client = redis::Client::open(server.url()).unwrap();
        let (mut to_a, mut to_b) = (
            client.get_async_pubsub().await.unwrap(),
            client.get_async_pubsub().await.unwrap(),
        );
        to_a.subscribe("t:server:a").await.unwrap();
        to_b.subscribe("t:server:b").await.unwrap();
        join(&mut redis, 1, "a", 6).await;
        // A second of a's own, and a seat held for nobody: a is told once, nobody else.
        join(&mut redis, 2, "a", 6).await;
        redis::cmd("HSET")
            .arg("t:room:r")
            .arg(9)
            .arg("1 ~99 f9 held")
            .exec_async(&mut redis)
            .await
            .unwrap();
        assert!(heard(&mut to_a).await.is_empty());
        assert_eq!(
            JOIN.key("t:room:r")
                .key("t:rooms:b")
                .arg(3)
                .arg("b")
                .arg(6)
                .arg("r")
                .arg("t")
                .arg(1003)
                .arg(0)
                .arg(1)
                .arg(10)
                .arg("Zoë \"Z\" /")
                .arg("f3")
                .invoke_async::<Vec<String>>(&mut redis)
                .await
                .unwrap()[..3],
            ["seated", "3", "Zoë \"Z\" /"]
        );
        let news = heard(&mut to_a).await;
        assert_eq!(news.len(), 1);
        assert_eq!(
            serde_json::from_str::<Envelope>(&news[0]).unwrap(),
            Envelope::Joined {
                room: "r".into(),
                peer: PeerInfo {
                    id: PeerId(3),
                    name: "Zoë \"Z\" /".into()
                },
                seq: 3,
                server: "b".into()
            }
        );
        // b's try again (its answer lost): the same answer, and nobody told again.
        assert_eq!(
            join(&mut redis, 3, "b", 6).await[..3],
            ["seated", "3", "Zoë \"Z\" /"]
        );
        assert_eq!(join(&mut redis, 3, "c", 6).await, ["taken"]);
        assert!(heard(&mut to_a).await.is_empty());
        // A resume on c tells a (the others) and b (the former holder).
        resume(&mut redis, 3).await;
        let moved = Envelope::Moved {
            room: "r".into(),
            peer: PeerId(3),
            server: "c".into(),
            seq: 4,
            gen: Some(1),
        };
        for channel in [&mut to_a, &mut to_b] {
            let news = heard(channel).await;
            assert_eq!(news.len(), 1);
            assert_eq!(serde_json::from_str::<Envelope>(&news[0]).unwrap(), moved);
        }
        // A leave tells the others; tried again, it is gone and tells nobody.
        assert_eq!(leave(&mut redis, 1, "a").await, ["left", "5"]);
        assert!(
            heard(&mut to_b).await.is_empty(),
            "b holds nothing there now"
        );
        assert_eq!(leave(&mut redis, 1, "a").await, ["gone"]);
        assert!(heard(&mut to_a).await.is_empty());
        let mut to_c = client.get_async_pubsub().await.unwrap();
        to_c.subscribe("t:server:c").await.unwrap();
        assert_eq!(leave(&mut redis, 2, "a").await, ["left", "6"]);
        let news = heard(&mut to_c).await;
        assert_eq!(news.len(), 1);
        assert_eq!(
            serde_json::from_str::<Envelope>(&news[0]).unwrap(),
            Envelope::Left {
                room: "r".into(),
                peer: PeerId(2),
                seq: 6,
                removed_by: None,
            }
        );
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
            [
                "resumed",
                "1",
                "3",
                "a",
                "name 1",
                "1",
                "0",
                "2",
                "2 b f2 name 2"
            ]
        );
        // Again (its answer was lost): nothing changes.
        assert_eq!(
            resume(&mut redis, 1).await,
            [
                "resumed",
                "1",
                "3",
                "c",
                "name 1",
                "1",
                "0",
                "2",
                "2 b f2 name 2"
            ]
        );
        assert_eq!(seat(&mut redis, 1).await.unwrap(), "1 c f1 name 1");
        // A held nobody else there; C holds a seat in the room now.
        assert!(members(&mut redis, "t:rooms:a").await.is_empty());
        assert_eq!(members(&mut redis, "t:rooms:c").await, ["r"]);
        // The former holder can no longer free it.
        assert_eq!(leave(&mut redis, 1, "a").await, ["elsewhere", "c"]);
    }

    #[tokio::test]
    async fn a_token_resumes_its_seat_once_on_whichever_server_it_is_shown_to() {
        let server = RedisServer::start();
        let mut redis = server.connect().await;
        join(&mut redis, 1, "a", 6).await;
        join(&mut redis, 2, "b", 6).await;
        // The join's token (any generation: none is recorded yet) resumes on a, in place.
        let here = resume_as(&mut redis, 1, "a", "7", "8").await;
        assert_eq!(
            here,
            [
                "resumed",
                "1",
                "2",
                "a",
                "name 1",
                "1",
                "0",
                "2",
                "2 b f2 name 2"
            ]
        );
        assert_eq!(gen(&mut redis, 1).await.as_deref(), Some("8"));
        // a's try again, its answer lost: the same, nothing changes.
        assert_eq!(resume_as(&mut redis, 1, "a", "7", "8").await, here);
        // The join's token again, on c: used.
        assert_eq!(resume_as(&mut redis, 1, "c", "7", "9").await, ["used"]);
        assert_eq!(seat(&mut redis, 1).await.unwrap(), "1 a f1 name 1");
        // The current token moves the seat to c; then it is used, here or there.
        let moved = resume_as(&mut redis, 1, "c", "8", "18446744073709551615").await;
        assert_eq!(moved[..4], ["resumed", "1", "3", "a"]);
        assert_eq!(resume_as(&mut redis, 1, "a", "8", "9").await, ["used"]);
        assert_eq!(resume_as(&mut redis, 1, "c", "8", "10").await, ["used"]);
        // Epochs beyond a double's precision are compared exactly.
        assert_eq!(
            resume_as(&mut redis, 1, "a", "18446744073709551614", "11").await,
            ["used"]
        );
        assert_eq!(
            resume_as(&mut redis, 1, "a", "18446744073709551615", "12").await[..4],
            ["resumed", "1", "4", "c"]
        );
        // Freed, its generation goes with it; a new seat of that id starts afresh.
        assert_eq!(leave(&mut redis, 1, "a").await, ["left", "5"]);
        assert_eq!(gen(&mut redis, 1).await, None);
        assert_eq!(resume_as(&mut redis, 1, "a", "12", "13").await, ["gone"]);
    }

    async fn gen(redis: &mut MultiplexedConnection, id: u64) -> Option<String> {
        redis::cmd("HGET")
            .arg("t:room:r:gen")
            .arg(id)
            .query_async(redis)
            .await
            .unwrap()
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
        assert_eq!(seat(&mut redis, 1).await.unwrap(), "1 a f1 name 1");
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
            format!("1 ~{} f1 name 1", gone_at + 60_000)
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
            .arg("1 ~1 f1 name 1")
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
        let until: u64 = held[3..held.len() - 10].parse().unwrap();
        assert!((before + 5_000..before + 6_000).contains(&until), "{held}");
        assert_eq!(seat(&mut redis, 2).await.unwrap(), "2 b f2 name 2");
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
