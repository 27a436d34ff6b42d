//! The contract between the servers and Redis's scripts: one type per script, whose fields
//! are its keys and arguments (put in the order the `.lua` file reads them here, and only
//! here), and one typed reply. The scripts answer with one JSON object (`reply` in
//! tell.lua: an `outcome` and its fields, integers as their digits, which Lua's numbers
//! would round past 2^53); serde reads it, so no answer is matched on a literal. The
//! integer-answering scripts (heartbeat, sweep, unknock) are typed the same way.

use super::record::{Holder, Listed};
use crate::protocol::signaling::{fold_name, name_candidates, ErrorCode, KnockId, PeerId};
use crate::server::room::door::MAX_KNOCKS;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

/// One script, built from its `.lua` files.
macro_rules! script {
    ($($file:literal),+) => {
        LazyLock::new(|| redis::Script::new(concat!($(include_str!($file), "\n"),+)))
    };
}

static JOIN: LazyLock<redis::Script> = script!("seat.lua", "tell.lua", "join.lua");
static LEAVE: LazyLock<redis::Script> = script!("seat.lua", "tell.lua", "leave.lua");
static RESUME: LazyLock<redis::Script> = script!("seat.lua", "tell.lua", "resume.lua");
static HEARTBEAT: LazyLock<redis::Script> = script!("seat.lua", "hold.lua", "heartbeat.lua");
static HAND_OFF: LazyLock<redis::Script> = script!("seat.lua", "hold.lua", "hand_off.lua");
static SWEEP: LazyLock<redis::Script> = script!("seat.lua", "hold.lua", "tell.lua", "sweep.lua");
static MAKE_HOST: LazyLock<redis::Script> = script!("seat.lua", "tell.lua", "make_host.lua");
static REMOVE: LazyLock<redis::Script> = script!("seat.lua", "tell.lua", "remove.lua");
static LOCK: LazyLock<redis::Script> = script!("seat.lua", "tell.lua", "lock.lua");
static ANSWER: LazyLock<redis::Script> = script!("seat.lua", "tell.lua", "answer.lua");
static UNKNOCK: LazyLock<redis::Script> = script!("seat.lua", "tell.lua", "unknock.lua");

/// Where one server's keys are: the deployment's prefix and the server's name.
#[derive(Clone, Debug)]
pub(super) struct Keys {
    pub prefix: String,
    pub server: String,
}

impl Keys {
    /// A room's hash (`<prefix>:room:<room>`; its `:gen`, `:host`, `:locked`, `:knocks`
    /// and `:admitted` keys are named from it in Lua).
    pub fn room(&self, room: &str) -> String {
        format!("{}:room:{room}", self.prefix)
    }

    /// The set of rooms in which this server holds seats.
    pub fn own_rooms(&self) -> String {
        format!("{}:rooms:{}", self.prefix, self.server)
    }
}

/// A script, its arguments and what it answers.
pub(super) trait Contract {
    /// Its name, for an answer that does not fit.
    const NAME: &'static str;
    type Reply;
    /// The script with its keys and arguments, as `at`'s server runs it.
    fn invocation(&self, at: &Keys) -> redis::ScriptInvocation<'static>;
    fn decode(answer: redis::Value) -> Option<Self::Reply>;
}

/// A JSON reply (`reply` in tell.lua).
fn json<T: for<'de> Deserialize<'de>>(answer: redis::Value) -> Option<T> {
    let text: String = redis::from_redis_value(answer).ok()?;
    serde_json::from_str(&text).ok()
}

/// Every script about one seat of one room by this server starts so: KEYS room hash, own
/// rooms set; ARGV id, server.
fn on_seat(
    script: &'static redis::Script,
    at: &Keys,
    room: &str,
    id: PeerId,
) -> redis::ScriptInvocation<'static> {
    let mut invocation = script.prepare_invoke();
    invocation
        .key(at.room(room))
        .key(at.own_rooms())
        .arg(id.0)
        .arg(&at.server);
    invocation
}

/// Host scripts start so: KEYS room hash; ARGV host's id, then what the command is about.
fn by_host(
    script: &'static redis::Script,
    at: &Keys,
    room: &str,
    host: PeerId,
) -> redis::ScriptInvocation<'static> {
    let mut invocation = script.prepare_invoke();
    invocation.key(at.room(room)).arg(host.0);
    invocation
}

/// How a join meets a locked room's door.
#[derive(Clone, Copy, Debug)]
pub(super) struct Door {
    /// The knock this join is (listed under it if the room is locked), or was (let in).
    pub knock: KnockId,
    /// The host admitted `knock`: seated past the lock.
    pub let_in: bool,
    /// Whether this person may wait at the door (this server's limits for their address).
    pub may_knock: bool,
}

/// Seats a person: refuses a full room, refuses an id in use, else gives them the first
/// of their candidate names that looks like nobody's there, takes the room's next
/// number, tells the other servers there (`joined`), and answers with the number and
/// name and everyone else there. Run again by the server that seated it, it answers the
/// same and changes nothing. At a locked room (`:locked`) the person is not seated but
/// listed at the door (`:knocks`, at most [`MAX_KNOCKS`]) and the host's server told
/// (`knock`), unless the host let this knock in (`:admitted`, used once).
pub(super) struct Join<'a> {
    pub room: &'a str,
    pub id: PeerId,
    /// The name asked for: the script takes it or the first numbered one free.
    pub wanted: &'a str,
    pub capacity: usize,
    pub door: Door,
}

/// How a join script answered.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub(super) enum Joined {
    Seated {
        seq: u64,
        name: String,
        /// Who hosts the room, with them seated.
        host: PeerId,
        locked: bool,
        #[serde(deserialize_with = "listed")]
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

impl Contract for Join<'_> {
    const NAME: &'static str = "JOIN";
    type Reply = Joined;
    fn invocation(&self, at: &Keys) -> redis::ScriptInvocation<'static> {
        let mut join = on_seat(&JOIN, at, self.room, self.id);
        join.arg(self.capacity)
            .arg(self.room)
            .arg(&at.prefix)
            .arg(self.door.knock.0)
            .arg(u8::from(self.door.let_in))
            .arg(u8::from(self.door.may_knock))
            .arg(MAX_KNOCKS);
        // Everyone there could have the name already.
        for name in name_candidates(self.wanted).take(self.capacity + 1) {
            let fold = fold_hex(&name);
            join.arg(name).arg(fold);
        }
        join
    }
    fn decode(answer: redis::Value) -> Option<Joined> {
        json(answer)
    }
}

/// Frees a seat this server holds, as the room's next change, and tells the other
/// servers there (`left`); an empty room's hash expires after an hour. A seat another
/// server took over (a resume there) is left alone, and that server named; one freed
/// already is `gone`.
pub(super) struct Leave<'a> {
    pub room: &'a str,
    pub id: PeerId,
}

/// How a leave script answered.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub(super) enum Left {
    /// Freed as change `seq`.
    Freed { seq: u64 },
    /// Resumed elsewhere meanwhile: theirs now.
    Elsewhere {
        #[serde(deserialize_with = "holder")]
        holder: Holder,
    },
    /// Freed already.
    Gone,
}

impl Contract for Leave<'_> {
    const NAME: &'static str = "LEAVE";
    type Reply = Left;
    fn invocation(&self, at: &Keys) -> redis::ScriptInvocation<'static> {
        let mut leave = on_seat(&LEAVE, at, self.room, self.id);
        leave.arg(self.room).arg(&at.prefix);
        leave
    }
    fn decode(answer: redis::Value) -> Option<Left> {
        json(answer)
    }
}

/// Moves a seat to this server, from whichever holds it (another server, a dead one's
/// hold), as the room's next change, and tells the other servers there and the former
/// holder (`moved`); what waited on the former holder follows when it hears. A seat here
/// already stays, with nobody told. Either way the token's generation must be the seat's
/// current one (`used` if not), and the seat's is then the next: a token works once,
/// whichever server it is shown to. Run again with the same next generation by the
/// server that ran it, it answers the same and changes nothing.
pub(super) struct Resume<'a> {
    pub room: &'a str,
    pub id: PeerId,
    /// The token's generation.
    pub gen: u64,
    /// The seat's next generation.
    pub next: u64,
}

/// How a resume script answered.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub(super) enum Resumed {
    /// The seat is here now (moved, or here already).
    Here(Moved),
    /// The token was used already: the seat has moved on to a later one.
    Used,
    /// Freed already.
    Gone,
}

/// A seat the resume script moved here.
#[derive(Debug, PartialEq, Deserialize)]
pub(super) struct Moved {
    /// The seat's number in the room's order.
    pub seq: u64,
    /// The move's number among the room's changes.
    pub change: u64,
    pub name: String,
    /// Who hosts the room.
    pub host: PeerId,
    pub locked: bool,
    #[serde(deserialize_with = "listed")]
    pub others: Vec<Listed>,
}

impl Contract for Resume<'_> {
    const NAME: &'static str = "RESUME";
    type Reply = Resumed;
    fn invocation(&self, at: &Keys) -> redis::ScriptInvocation<'static> {
        let mut resume = on_seat(&RESUME, at, self.room, self.id);
        // Generations are compared as text in Lua (a u64 past what its numbers hold).
        resume
            .arg(self.room)
            .arg(&at.prefix)
            .arg(self.gen)
            .arg(self.next);
        resume
    }
    fn decode(answer: redis::Value) -> Option<Resumed> {
        json(answer)
    }
}

/// Why a host script refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum HostRefusal {
    NotJoined,
    NotHost,
    UnknownPeer,
    UnknownKnock,
}

impl From<HostRefusal> for ErrorCode {
    fn from(refusal: HostRefusal) -> ErrorCode {
        match refusal {
            HostRefusal::NotJoined => ErrorCode::NotJoined,
            HostRefusal::NotHost => ErrorCode::NotHost,
            HostRefusal::UnknownPeer => ErrorCode::UnknownPeer,
            HostRefusal::UnknownKnock => ErrorCode::UnknownKnock,
        }
    }
}

/// What a host command's script answered: done as change `seq`, or refused.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub(super) enum HostChange {
    Done { seq: u64 },
    Refused { code: HostRefusal },
}

/// What the answer script answered: done (not a change of seats: no number), or refused.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub(super) enum Answered {
    Done,
    Refused { code: HostRefusal },
}

/// Hands the host's role to another seat, as the room's next change, and tells the other
/// servers there (`host`). Refused (`not_joined`, `not_host`, `unknown_peer`) unless
/// `host` is this server's and hosts the room, and `peer` is another seat there.
pub(super) struct MakeHost<'a> {
    pub room: &'a str,
    pub host: PeerId,
    pub peer: PeerId,
}

/// The host removes a seat: freed as the room's next change, and the other servers there
/// told (`left` with `removed_by`), its own server included. Refused as [`MakeHost`].
pub(super) struct Remove<'a> {
    pub room: &'a str,
    pub host: PeerId,
    pub peer: PeerId,
}

/// The host locks or unlocks the room, as its next change, and the other servers there
/// are told (`locked`). Refused (`not_joined`, `not_host`) unless the seat is this
/// server's and hosts the room.
pub(super) struct Lock<'a> {
    pub room: &'a str,
    pub host: PeerId,
    pub locked: bool,
}

/// The host answers a knock: it leaves the list (admitted, it may take a seat past the
/// lock, once), and its server is told (`answered`). Refused as [`Lock`], or
/// `unknown_knock`.
pub(super) struct Answer<'a> {
    pub room: &'a str,
    pub host: PeerId,
    pub knock: KnockId,
    pub admit: bool,
}

macro_rules! host_contract {
    ($type:ident, $script:ident, $reply:ident, |$this:ident, $at:ident, $invocation:ident| $args:block) => {
        impl Contract for $type<'_> {
            const NAME: &'static str = stringify!($script);
            type Reply = $reply;
            fn invocation(&self, $at: &Keys) -> redis::ScriptInvocation<'static> {
                let $this = self;
                let mut $invocation = by_host(&$script, $at, $this.room, $this.host);
                $args
                $invocation
            }
            fn decode(answer: redis::Value) -> Option<$reply> {
                json(answer)
            }
        }
    };
}

host_contract!(MakeHost, MAKE_HOST, HostChange, |this, at, invocation| {
    invocation
        .arg(this.peer.0)
        .arg(&at.server)
        .arg(this.room)
        .arg(&at.prefix);
});
host_contract!(Remove, REMOVE, HostChange, |this, at, invocation| {
    invocation
        .arg(this.peer.0)
        .arg(&at.server)
        .arg(this.room)
        .arg(&at.prefix);
});
host_contract!(Lock, LOCK, HostChange, |this, at, invocation| {
    invocation
        .arg(u8::from(this.locked))
        .arg(&at.server)
        .arg(this.room)
        .arg(&at.prefix);
});
host_contract!(Answer, ANSWER, Answered, |this, at, invocation| {
    invocation
        .arg(this.knock.0)
        .arg(&at.server)
        .arg(this.room)
        .arg(&at.prefix)
        .arg(if this.admit { "admit" } else { "deny" });
});

/// A knock's wait ended on its server: off the list, and the host's server told
/// (`knock_ended`). Answers whether it was still on the list.
pub(super) struct Unknock<'a> {
    pub room: &'a str,
    pub knock: KnockId,
}

impl Contract for Unknock<'_> {
    const NAME: &'static str = "UNKNOCK";
    type Reply = bool;
    fn invocation(&self, at: &Keys) -> redis::ScriptInvocation<'static> {
        let mut unknock = UNKNOCK.prepare_invoke();
        unknock
            .key(at.room(self.room))
            .arg(self.knock.0)
            .arg(self.room)
            .arg(&at.prefix);
        unknock
    }
    fn decode(answer: redis::Value) -> Option<bool> {
        redis::from_redis_value::<i64>(answer).ok().map(|n| n == 1)
    }
}

/// This server is alive until now + `liveness`. Answers whether Redis did not know it
/// (the first beat, or it was counted gone, or Redis lost its data).
pub(super) struct Heartbeat {
    pub liveness: Duration,
}

impl Contract for Heartbeat {
    const NAME: &'static str = "HEARTBEAT";
    type Reply = bool;
    fn invocation(&self, at: &Keys) -> redis::ScriptInvocation<'static> {
        let mut beat = HEARTBEAT.prepare_invoke();
        beat.arg(&at.prefix)
            .arg(&at.server)
            .arg(millis(self.liveness));
        beat
    }
    fn decode(answer: redis::Value) -> Option<bool> {
        redis::from_redis_value::<i64>(answer).ok().map(|n| n == 1)
    }
}

/// A server shutting down hands its seats over: each is held for `grace`, so that its
/// people resume on another server.
pub(super) struct HandOff {
    pub grace: Duration,
}

impl Contract for HandOff {
    const NAME: &'static str = "HAND_OFF";
    type Reply = ();
    fn invocation(&self, at: &Keys) -> redis::ScriptInvocation<'static> {
        let mut hand_off = HAND_OFF.prepare_invoke();
        hand_off
            .arg(&at.prefix)
            .arg(&at.server)
            .arg(millis(self.grace));
        hand_off
    }
    fn decode(_: redis::Value) -> Option<()> {
        Some(())
    }
}

/// Counts servers past their liveness gone (their seats are held for `grace` after
/// that), and frees held seats nobody resumed in time, telling the servers of everyone
/// still in those rooms. Answers how many seats it freed.
pub(super) struct Sweep {
    pub grace: Duration,
}

impl Contract for Sweep {
    const NAME: &'static str = "SWEEP";
    type Reply = u64;
    fn invocation(&self, at: &Keys) -> redis::ScriptInvocation<'static> {
        let mut sweep = SWEEP.prepare_invoke();
        sweep.arg(&at.prefix).arg(millis(self.grace));
        sweep
    }
    fn decode(answer: redis::Value) -> Option<u64> {
        redis::from_redis_value(answer).ok()
    }
}

/// A name's folded form, in hex: what the join script compares.
pub(super) fn fold_hex(name: &str) -> String {
    fold_name(name)
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The seats a script lists (`{id: record, …}`), in the order they were taken.
fn listed<'de, D: Deserializer<'de>>(from: D) -> Result<Vec<Listed>, D::Error> {
    let records = BTreeMap::<String, String>::deserialize(from)?;
    let mut seats = records
        .iter()
        .map(|(id, record)| Listed::parse(id, record))
        .collect::<Option<Vec<Listed>>>()
        .ok_or_else(|| serde::de::Error::custom("not a seat record"))?;
    seats.sort_by_key(|seat| seat.seq);
    Ok(seats)
}

fn holder<'de, D: Deserializer<'de>>(from: D) -> Result<Holder, D::Error> {
    let text = String::deserialize(from)?;
    Holder::parse(&text).ok_or_else(|| serde::de::Error::custom("not a holder"))
}
