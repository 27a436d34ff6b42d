//! The rooms' state in Redis: the key schema, the seat record, and the way to run the Lua
//! scripts (the `.lua` files beside this one, each with its typed contract in
//! `contract.rs`), which are the only code to change them.
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

use super::contract::{Contract, Keys};
use super::record::Listed;
use crate::protocol::signaling::{KnockId, PeerId};
use crate::server::metrics::RedisMetrics;
use redis::aio::ConnectionManager;

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
    /// The prefix, and this server's name among the others: random per process.
    keys: Keys,
    metrics: RedisMetrics,
}

impl Store {
    pub(super) fn new(redis: ConnectionManager, prefix: &str, metrics: RedisMetrics) -> Store {
        Store {
            redis,
            keys: Keys {
                prefix: prefix.to_owned(),
                server: format!("{:016x}", rand::random::<u64>()),
            },
            metrics,
        }
    }

    pub(super) fn server(&self) -> &str {
        &self.keys.server
    }

    /// The channel on which `server` hears from the others.
    pub(super) fn channel(&self, server: &str) -> String {
        channel(&self.keys.prefix, server)
    }

    /// Runs `script` and reads its typed reply (the arguments are taken at once: the
    /// future borrows nothing of `script`).
    pub(super) fn run<C: Contract>(
        &self,
        script: &C,
    ) -> impl std::future::Future<Output = Result<C::Reply, redis::RedisError>> + Send + '_ {
        let invocation = script.invocation(&self.keys);
        async move {
            let answer: redis::Value = invocation
                .invoke_async(&mut self.redis.clone())
                .await
                .inspect_err(|_| {
                    self.metrics.errors.inc();
                })?;
            C::decode(answer).ok_or_else(|| unexpected(C::NAME))
        }
    }

    /// Who waits at `room`'s door: each knock and the name it gave.
    pub(super) async fn knocks(
        &self,
        room: &str,
    ) -> Result<Vec<(KnockId, String)>, redis::RedisError> {
        let all: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(format!("{}:knocks", self.keys.room(room)))
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
        let key = self.keys.room(room);
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
}

pub(super) fn channel(prefix: &str, server: &str) -> String {
    format!("{prefix}:server:{server}")
}

fn unexpected(script: &str) -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::UnexpectedReturnType,
        "unexpected answer from a script",
        script.to_owned(),
    ))
}

// The integration tests' own, so that there is one way to start a Redis for a test.
#[cfg(test)]
#[path = "test_redis.rs"]
#[allow(dead_code)]
pub(super) mod test_redis;

/// Each script, run on a real Redis: the cases the servers' code relies on.
#[cfg(test)]
mod scripts {
    use super::super::contract::{
        fold_hex, Answer, Answered, Door, HandOff, Heartbeat, HostChange, HostRefusal, Join,
        Joined, Leave, Left, Lock, MakeHost, Moved, Remove, Resume, Resumed, Sweep, Unknock,
    };
    use super::super::pubsub::Envelope;
    use super::super::record::Holder;
    use super::*;
    use crate::protocol::signaling::PeerInfo;
    use redis::aio::MultiplexedConnection;
    use std::time::Duration;

    use super::test_redis::RedisServer;

    /// Runs `script` as `server` would, and reads its typed reply.
    async fn run<C: Contract>(
        redis: &mut MultiplexedConnection,
        server: &str,
        script: C,
    ) -> C::Reply {
        let keys = Keys {
            prefix: "t".into(),
            server: server.into(),
        };
        let answer: redis::Value = script.invocation(&keys).invoke_async(redis).await.unwrap();
        C::decode(answer).expect("a reply of the script's type")
    }

    /// A seat record, as the scripts write it.
    fn record(seq: u64, holder: &str, name: &str) -> String {
        format!("{seq} {holder} {} {name}", fold_hex(name))
    }

    /// A seat of `server`'s as a script lists it.
    fn listed(id: u64, seq: u64, server: &str, name: &str) -> Listed {
        Listed::parse(&id.to_string(), &record(seq, server, name)).expect("a valid record")
    }

    /// The number and name a join seated, or what it said instead.
    fn seated(joined: Joined) -> (u64, String) {
        match joined {
            Joined::Seated { seq, name, .. } => (seq, name),
            other => panic!("{other:?}"),
        }
    }

    /// Who hosts, as a join says.
    fn host_named(joined: Joined) -> PeerId {
        match joined {
            Joined::Seated { host, .. } => host,
            other => panic!("{other:?}"),
        }
    }

    async fn join(
        redis: &mut MultiplexedConnection,
        id: u64,
        server: &str,
        capacity: usize,
    ) -> Joined {
        join_named(redis, id, server, capacity, &format!("name {id}")).await
    }

    async fn join_named(
        redis: &mut MultiplexedConnection,
        id: u64,
        server: &str,
        capacity: usize,
        name: &str,
    ) -> Joined {
        // No knock: these rooms are never locked.
        let door = Door {
            knock: KnockId(1000 + id),
            let_in: false,
            may_knock: true,
        };
        let join = Join {
            room: "r",
            id: PeerId(id),
            wanted: name,
            capacity,
            door,
        };
        run(redis, server, join).await
    }

    async fn leave(redis: &mut MultiplexedConnection, id: u64, server: &str) -> Left {
        run(
            redis,
            server,
            Leave {
                room: "r",
                id: PeerId(id),
            },
        )
        .await
    }

    async fn resume(redis: &mut MultiplexedConnection, id: u64) -> Resumed {
        resume_as(redis, id, "c", "", "1").await
    }

    const MAKE_HOST: bool = true;
    const REMOVE: bool = false;

    /// A host command of `host`'s (held by `server`) about `peer`: make host, or remove.
    async fn host_command(
        redis: &mut MultiplexedConnection,
        make_host: &bool,
        host: u64,
        peer: u64,
        server: &str,
    ) -> HostChange {
        let (room, host, peer) = ("r", PeerId(host), PeerId(peer));
        match make_host {
            true => run(redis, server, MakeHost { room, host, peer }).await,
            false => run(redis, server, Remove { room, host, peer }).await,
        }
    }

    fn done(seq: u64) -> HostChange {
        HostChange::Done { seq }
    }

    fn refused(code: HostRefusal) -> HostChange {
        HostChange::Refused { code }
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
            (2, 3, "b", HostRefusal::NotHost),
            (1, 3, "b", HostRefusal::NotJoined),
            (1, 1, "a", HostRefusal::UnknownPeer),
            (1, 9, "a", HostRefusal::UnknownPeer),
        ];
        for (host, peer, on, refusal) in refusals {
            for script in [&MAKE_HOST, &REMOVE] {
                let answer = host_command(&mut redis, script, host, peer, on).await;
                assert_eq!(answer, refused(refusal), "{host} about {peer} on {on}");
            }
        }
        assert!(heard(&mut news).await.is_empty(), "a refusal tells nobody");
        assert_eq!(
            host_command(&mut redis, &MAKE_HOST, 1, 3, "a").await,
            done(4)
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
            host_named(join(&mut redis, 4, "a", 6).await),
            PeerId(3),
            "joined names the host"
        );
        assert_eq!(
            host_command(&mut redis, &REMOVE, 1, 2, "a").await,
            refused(HostRefusal::NotHost)
        );
        assert_eq!(
            host_command(&mut redis, &MAKE_HOST, 3, 4, "b").await,
            done(6)
        );
        heard(&mut news).await;
        assert_eq!(host_command(&mut redis, &REMOVE, 4, 2, "a").await, done(7));
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
        assert_eq!(leave(&mut redis, 4, "a").await, Left::Freed { seq: 8 });
        assert_eq!(
            host_named(join(&mut redis, 5, "b", 6).await),
            PeerId(1),
            "the chosen host left: the earliest seat hosts"
        );
    }

    /// A resume on `server` with a token of generation `gen` ("" for a join's) making
    /// `next`.
    async fn resume_as(
        redis: &mut MultiplexedConnection,
        id: u64,
        server: &str,
        gen: &str,
        next: &str,
    ) -> Resumed {
        let resume = Resume {
            room: "r",
            id: PeerId(id),
            gen: gen.parse().unwrap_or(0),
            next: next.parse().unwrap(),
        };
        run(redis, server, resume).await
    }

    async fn beat(redis: &mut MultiplexedConnection, server: &str, liveness: u64) -> i64 {
        let liveness = Duration::from_millis(liveness);
        i64::from(run(redis, server, Heartbeat { liveness }).await)
    }

    async fn sweep(redis: &mut MultiplexedConnection, grace: u64) -> u64 {
        let grace = Duration::from_millis(grace);
        run(redis, "sweeper", Sweep { grace }).await
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
            Joined::Seated {
                seq: 1,
                name: "name 1".into(),
                host: PeerId(1),
                locked: false,
                others: vec![]
            }
        );
        assert_eq!(join(&mut redis, 1, "b", 2).await, Joined::Taken);
        assert_eq!(
            join(&mut redis, 2, "b", 2).await,
            Joined::Seated {
                seq: 2,
                name: "name 2".into(),
                host: PeerId(1),
                locked: false,
                others: vec![listed(1, 1, "a", "name 1")]
            }
        );
        assert_eq!(join(&mut redis, 3, "b", 2).await, Joined::Full);
        assert_eq!(members(&mut redis, "t:rooms:b").await, ["r"]);
        assert_eq!(seat(&mut redis, 2).await.unwrap(), record(2, "b", "name 2"));
    }

    #[tokio::test]
    async fn join_gives_the_first_name_that_looks_like_nobody_s_in_the_room() {
        let server = RedisServer::start();
        let mut redis = server.connect().await;
        join(&mut redis, 1, "a", 6).await;
        join(&mut redis, 2, "a", 6).await;
        // "NAME 1" folds as "name 1" does: the next numbered name is free.
        let joined = join_named(&mut redis, 3, "b", 6, "NAME 1").await;
        assert_eq!(seated(joined), (3, "NAME 1 (2)".into()));
        assert_eq!(
            seat(&mut redis, 3).await.unwrap(),
            record(3, "b", "NAME 1 (2)")
        );
        let joined = join_named(&mut redis, 4, "b", 6, "name 1").await;
        assert_eq!(seated(joined), (4, "name 1 (3)".into()));
    }

    #[tokio::test]
    async fn leave_frees_only_its_own_seats_and_an_empty_room_keeps_its_counter_an_hour() {
        let server = RedisServer::start();
        let mut redis = server.connect().await;
        assert_eq!(leave(&mut redis, 1, "a").await, Left::Gone);
        join(&mut redis, 1, "a", 6).await;
        join(&mut redis, 2, "b", 6).await;
        join(&mut redis, 3, "b", 6).await;
        assert_eq!(
            leave(&mut redis, 1, "b").await,
            Left::Elsewhere {
                holder: Holder::Server("a".into())
            }
        );
        // The change takes the next number.
        assert_eq!(leave(&mut redis, 1, "a").await, Left::Freed { seq: 4 });
        assert!(members(&mut redis, "t:rooms:a").await.is_empty());
        assert_eq!(leave(&mut redis, 2, "b").await, Left::Freed { seq: 5 });
        assert_eq!(members(&mut redis, "t:rooms:b").await, ["r"]);
        assert_eq!(leave(&mut redis, 3, "b").await, Left::Freed { seq: 6 });
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
            Joined::Seated {
                seq: 7,
                name: "name 4".into(),
                host: PeerId(4),
                locked: false,
                others: vec![]
            }
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
    ) -> Joined {
        let door = Door {
            knock: KnockId(knock),
            let_in,
            may_knock: true,
        };
        let join = Join {
            room: "r",
            id: PeerId(id),
            wanted: name,
            capacity: 6,
            door,
        };
        run(redis, server, join).await
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
            seated(join_at_door(&mut redis, guest, "b", 2, false, name).await),
            (2, name.into())
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
        let lock = Lock {
            room: "r",
            host: PeerId(host),
            locked: true,
        };
        assert_eq!(run(&mut redis, "a", lock).await, done(3));
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
            Joined::Knocking {
                host_name: "Host".into()
            }
        );
        let knocked = |knock: u64| Envelope::Knock {
            room: room(),
            knock: KnockId(knock),
            name: late_name.into(),
        };
        expect(envelopes(&mut news).await, &[("a", knocked(knock))]);
        let answer = Answer {
            room: "r",
            host: PeerId(host),
            knock: KnockId(knock),
            admit: true,
        };
        assert_eq!(run(&mut redis, "a", answer).await, Answered::Done);
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
            seated(join_at_door(&mut redis, late, "c", knock, true, late_name).await),
            (4, late_name.into())
        );
        let seated = joined(late, late_name, 4, "c");
        expect(
            envelopes(&mut news).await,
            &[("a", seated.clone()), ("b", seated)],
        );
        // A knock given up: knock_ended to the host's server.
        join_at_door(&mut redis, later, "c", next_knock, false, "Dave").await;
        let given_up = Unknock {
            room: "r",
            knock: KnockId(next_knock),
        };
        assert!(run(&mut redis, "c", given_up).await);
        let heard = envelopes(&mut news).await;
        assert!(
            heard.iter().any(|(_, e)| *e == ended(next_knock)),
            "{heard:?}"
        );
        // Host, then left (removed by the new host).
        assert_eq!(
            host_command(&mut redis, &MAKE_HOST, host, guest, "a").await,
            done(5)
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
            done(6)
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
        let Resumed::Here(Moved { seq, change, .. }) =
            resume_as(&mut redis, guest, "d", "", &gen.to_string()).await
        else {
            panic!("not resumed");
        };
        assert_eq!((seq, change), (2, 7));
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
        assert_eq!(leave(&mut redis, host, "a").await, Left::Freed { seq: 8 });
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
        assert_eq!(leave(&mut redis, guest, "d").await, Left::Freed { seq: 9 });
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
        let zoe = "Zoë \"Z\" /";
        assert_eq!(
            seated(join_named(&mut redis, 3, "b", 6, zoe).await),
            (3, zoe.into())
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
            seated(join_named(&mut redis, 3, "b", 6, zoe).await),
            (3, zoe.into())
        );
        assert_eq!(join(&mut redis, 3, "c", 6).await, Joined::Taken);
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
        assert_eq!(leave(&mut redis, 1, "a").await, Left::Freed { seq: 5 });
        assert!(
            heard(&mut to_b).await.is_empty(),
            "b holds nothing there now"
        );
        assert_eq!(leave(&mut redis, 1, "a").await, Left::Gone);
        assert!(heard(&mut to_a).await.is_empty());
        let mut to_c = client.get_async_pubsub().await.unwrap();
        to_c.subscribe("t:server:c").await.unwrap();
        assert_eq!(leave(&mut redis, 2, "a").await, Left::Freed { seq: 6 });
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
        assert_eq!(resume(&mut redis, 9).await, Resumed::Gone);
        let here = Resumed::Here(Moved {
            seq: 1,
            change: 3,
            name: "name 1".into(),
            host: PeerId(1),
            locked: false,
            others: vec![listed(2, 2, "b", "name 2")],
        });
        assert_eq!(resume(&mut redis, 1).await, here);
        // Again (its answer was lost): nothing changes.
        assert_eq!(resume(&mut redis, 1).await, here);
        assert_eq!(seat(&mut redis, 1).await.unwrap(), record(1, "c", "name 1"));
        // A held nobody else there; C holds a seat in the room now.
        assert!(members(&mut redis, "t:rooms:a").await.is_empty());
        assert_eq!(members(&mut redis, "t:rooms:c").await, ["r"]);
        // The former holder can no longer free it.
        assert_eq!(
            leave(&mut redis, 1, "a").await,
            Left::Elsewhere {
                holder: Holder::Server("c".into())
            }
        );
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
            Resumed::Here(Moved {
                seq: 1,
                change: 2,
                name: "name 1".into(),
                host: PeerId(1),
                locked: false,
                others: vec![listed(2, 2, "b", "name 2")],
            })
        );
        assert_eq!(gen(&mut redis, 1).await.as_deref(), Some("8"));
        // a's try again, its answer lost: the same, nothing changes.
        assert_eq!(resume_as(&mut redis, 1, "a", "7", "8").await, here);
        // The join's token again, on c: used.
        assert_eq!(resume_as(&mut redis, 1, "c", "7", "9").await, Resumed::Used);
        assert_eq!(seat(&mut redis, 1).await.unwrap(), record(1, "a", "name 1"));
        // The current token moves the seat to c; then it is used, here or there.
        let change = |resumed| match resumed {
            Resumed::Here(Moved { seq: 1, change, .. }) => change,
            other => panic!("{other:?}"),
        };
        let moved = resume_as(&mut redis, 1, "c", "8", "18446744073709551615").await;
        assert_eq!(change(moved), 3);
        assert_eq!(seat(&mut redis, 1).await.unwrap(), record(1, "c", "name 1"));
        assert_eq!(resume_as(&mut redis, 1, "a", "8", "9").await, Resumed::Used);
        assert_eq!(
            resume_as(&mut redis, 1, "c", "8", "10").await,
            Resumed::Used
        );
        // Epochs beyond a double's precision are compared exactly.
        assert_eq!(
            resume_as(&mut redis, 1, "a", "18446744073709551614", "11").await,
            Resumed::Used
        );
        let back = resume_as(&mut redis, 1, "a", "18446744073709551615", "12").await;
        assert_eq!(change(back), 4);
        assert_eq!(seat(&mut redis, 1).await.unwrap(), record(1, "a", "name 1"));
        // Freed, its generation goes with it; a new seat of that id starts afresh.
        assert_eq!(leave(&mut redis, 1, "a").await, Left::Freed { seq: 5 });
        assert_eq!(gen(&mut redis, 1).await, None);
        assert_eq!(
            resume_as(&mut redis, 1, "a", "12", "13").await,
            Resumed::Gone
        );
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
        assert_eq!(seat(&mut redis, 1).await.unwrap(), record(1, "a", "name 1"));
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
            record(1, &format!("~{}", gone_at + 60_000), "name 1")
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
        beat(&mut redis, "a", 60_000).await;
        join(&mut redis, 1, "a", 6).await;
        join(&mut redis, 2, "b", 6).await;
        let before = redis_ms(&mut redis).await;
        let grace = Duration::from_millis(5_000);
        run(&mut redis, "a", HandOff { grace }).await;
        let held = seat(&mut redis, 1).await.unwrap();
        let Ok(Listed {
            holder: Holder::Nobody { until_ms },
            ..
        }) = Listed::parse("1", &held).ok_or(())
        else {
            panic!("{held}");
        };
        assert!(
            (before + 5_000..before + 6_000).contains(&until_ms),
            "{held}"
        );
        assert_eq!(seat(&mut redis, 2).await.unwrap(), record(2, "b", "name 2"));
        assert_eq!(members(&mut redis, "t:held").await, ["r"]);
        assert!(members(&mut redis, "t:rooms:a").await.is_empty());
        // Not yet due: a sweep leaves it.
        assert_eq!(sweep(&mut redis, 5_000).await, 0);
        assert_eq!(seat(&mut redis, 1).await.unwrap(), held);
    }

    /// The replies no other test sees: a join at a locked door it may not wait at, and
    /// each refusal of the answer script.
    #[tokio::test]
    async fn a_door_that_turns_a_join_away_and_an_answer_refused_each_say_why() {
        let server = RedisServer::start();
        let mut redis = server.connect().await;
        join(&mut redis, 1, "a", 6).await;
        join(&mut redis, 2, "a", 6).await;
        let lock = Lock {
            room: "r",
            host: PeerId(1),
            locked: true,
        };
        assert_eq!(run(&mut redis, "a", lock).await, done(3));
        let at_door = |may_knock| Join {
            room: "r",
            id: PeerId(3),
            wanted: "Kim",
            capacity: 6,
            door: Door {
                knock: KnockId(30),
                let_in: false,
                may_knock,
            },
        };
        assert_eq!(run(&mut redis, "b", at_door(false)).await, Joined::Locked);
        let knocking = run(&mut redis, "b", at_door(true)).await;
        assert_eq!(
            knocking,
            Joined::Knocking {
                host_name: "name 1".into()
            }
        );
        let answer = |host, knock| Answer {
            room: "r",
            host: PeerId(host),
            knock: KnockId(knock),
            admit: false,
        };
        let refused = |code| Answered::Refused { code };
        assert_eq!(
            run(&mut redis, "a", answer(1, 31)).await,
            refused(HostRefusal::UnknownKnock)
        );
        assert_eq!(
            run(&mut redis, "a", answer(2, 30)).await,
            refused(HostRefusal::NotHost)
        );
        assert_eq!(
            run(&mut redis, "b", answer(1, 30)).await,
            refused(HostRefusal::NotJoined)
        );
        assert_eq!(run(&mut redis, "a", answer(1, 30)).await, Answered::Done);
        assert_eq!(
            crate::protocol::signaling::ErrorCode::from(HostRefusal::UnknownKnock),
            crate::protocol::signaling::ErrorCode::UnknownKnock
        );
    }
}
