//! Several Tandem servers sharing rooms through Redis: real processes, a real
//! redis-server of each test's own, real WebSocket clients.

mod common;

use common::*;
use futures::StreamExt;
use serde_json::json;
use tandem::protocol::signaling::{
    ErrorCode, PeerId, ServerMessage, Signal, REMOVED_CLOSE_CODE, SEAT_TAKEN_CLOSE_CODE,
};

/// Settings every server of one cluster shares; `extra` may set another grace.
fn server(redis: &RedisServer, extra: &[&str]) -> Binary {
    server_at(&redis.url(), extra)
}

/// A server reaching Redis at `url` (through a [`Link`], say).
fn server_at(url: &str, extra: &[&str]) -> Binary {
    let url = url.to_owned();
    let mut args = vec![
        "--redis-url",
        &url,
        "--resume-secret",
        "cluster-test-secret-0123456789",
    ];
    if !extra.contains(&"--resume-grace") {
        args.extend(["--resume-grace", "300ms"]);
    }
    args.extend_from_slice(extra);
    Binary::start(&args)
}

/// The value of the metric `name` (without labels) that `server` reports.
async fn metric(server: &Binary, name: &str) -> f64 {
    metric_at(server.addr, name).await
}

async fn ready(server: &Binary) -> u16 {
    get(server.addr, "/readyz").await.0
}

/// How many servers are subscribed to their channel.
async fn subscribed(redis: &RedisServer) -> usize {
    let channels: Vec<String> = redis::cmd("PUBSUB")
        .arg("CHANNELS")
        .arg("tandem:server:*")
        .query_async(&mut redis.connect().await)
        .await
        .unwrap();
    channels.len()
}

/// Alice on `a` and Bob on `b` in `room`, each told of the other; Alice's token too.
async fn across(a: &Binary, b: &Binary, room: &str) -> (Client, PeerId, String, Client, PeerId) {
    let mut alice = Client::connect(a.addr).await;
    let mut bob = Client::connect(b.addr).await;
    let (alice_id, _, token) = alice.join_with_token(room, "Alice").await;
    let (bob_id, _) = bob.join(room, "Bob").await;
    assert!(
        matches!(alice.recv().await, ServerMessage::PeerJoined { peer, .. } if peer.id == bob_id)
    );
    (alice, alice_id, token, bob, bob_id)
}

fn signal_from(from: PeerId, n: usize) -> ServerMessage {
    ServerMessage::Signal {
        from,
        signal: candidate(n),
    }
}

fn candidate(n: usize) -> Signal {
    Signal::Candidate {
        candidate: format!("candidate:{n} 1 udp 2122260223 127.0.0.1 {n} typ host"),
        sdp_mid: Some("0".into()),
        sdp_m_line_index: Some(0),
    }
}

/// How many times Redis has run PUBLISH so far.
async fn publishes(redis: &RedisServer) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut redis.connect().await)
        .await
        .unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("cmdstat_publish:calls="))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |calls| calls.parse().unwrap())
}

#[tokio::test]
async fn people_on_two_servers_meet_and_their_signals_arrive_in_order() {
    let redis = RedisServer::start();
    // 100 candidates at once: past the default burst of the rate limit.
    let burst = ["--rate-burst", "200"];
    let (a, b) = (server(&redis, &burst), server(&redis, &burst));
    let mut alice = Client::connect(a.addr).await;
    let mut bob = Client::connect(b.addr).await;
    let (alice_id, peers) = alice.join("across", "Alice").await;
    assert!(peers.is_empty());
    let (bob_id, peers) = bob.join("across", "Bob").await;
    assert_eq!(peers.iter().map(|p| p.id).collect::<Vec<_>>(), [alice_id]);
    match alice.recv().await {
        ServerMessage::PeerJoined { peer, polite } => {
            assert_eq!(
                (peer.id, peer.name.as_str(), polite),
                (bob_id, "Bob", false)
            );
        }
        other => panic!("{other:?}"),
    }
    // In two rounds of 50: a socket's mailbox holds 64 unread messages.
    for round in [0..50, 50..100] {
        for n in round.clone() {
            alice.signal(bob_id, candidate(n)).await;
            bob.signal(alice_id, candidate(1000 + n)).await;
        }
        for n in round {
            assert_eq!(
                bob.recv().await,
                ServerMessage::Signal {
                    from: alice_id,
                    signal: candidate(n)
                }
            );
            assert_eq!(
                alice.recv().await,
                ServerMessage::Signal {
                    from: bob_id,
                    signal: candidate(1000 + n)
                }
            );
        }
    }
    alice.expect_silence().await;
    bob.expect_silence().await;
    // Each server counts what crossed: 100 signals one way, and how long they took.
    for (from, to) in [(&a, &b), (&b, &a)] {
        eventually("publishes counted", || async {
            metric(from, "tandem_redis_publishes_total").await >= 100.0
        })
        .await;
        assert!(metric(to, "tandem_redis_deliveries_total").await >= 100.0);
        assert!(metric(to, "tandem_redis_relay_seconds_count").await >= 100.0);
        assert_eq!(metric(to, "tandem_redis_errors_total").await, 0.0);
    }
}

#[tokio::test]
async fn sixteen_joins_over_two_servers_admit_exactly_capacity_and_all_meet() {
    let redis = RedisServer::start();
    let (a, b) = (server(&redis, &[]), server(&redis, &[]));
    let mut clients = Vec::new();
    for i in 0..16 {
        clients.push(Client::connect(if i % 2 == 0 { a.addr } else { b.addr }).await);
    }
    // Every join is sent before any answer is read.
    for (i, client) in clients.iter_mut().enumerate() {
        client
            .send(json!({"type": "join", "room": "race", "name": format!("P{i}")}))
            .await;
    }
    let mut seated = Vec::new();
    let mut refused = 0;
    for mut client in clients {
        match client.recv().await {
            ServerMessage::Joined { you, peers, .. } => {
                let known: Vec<PeerId> = peers.iter().map(|p| p.id).collect();
                seated.push((client, you, known));
            }
            ServerMessage::Error {
                code: ErrorCode::RoomFull,
                ..
            } => refused += 1,
            other => panic!("{other:?}"),
        }
    }
    let capacity = tandem::protocol::signaling::DEFAULT_ROOM_CAPACITY;
    assert_eq!((seated.len(), refused), (capacity, 16 - capacity));
    // Each learns of every other exactly once: listed in `joined`, or told after.
    let mut ids: Vec<PeerId> = seated.iter().map(|(_, id, _)| *id).collect();
    ids.sort();
    for (client, you, known) in &mut seated {
        while known.len() < capacity - 1 {
            match client.recv().await {
                ServerMessage::PeerJoined { peer, .. } => known.push(peer.id),
                other => panic!("{other:?}"),
            }
        }
        client.expect_silence().await;
        known.push(*you);
        known.sort();
        assert_eq!(*known, ids);
    }
}

#[tokio::test]
async fn leaving_and_expiry_reach_people_on_the_other_server_and_free_the_seats() {
    let redis = RedisServer::start();
    let (a, b) = (
        server(&redis, &["--room-capacity", "2"]),
        server(&redis, &["--room-capacity", "2"]),
    );
    let mut alice = Client::connect(a.addr).await;
    let mut bob = Client::connect(b.addr).await;
    let (alice_id, _) = alice.join("going", "Alice").await;
    let (bob_id, _) = bob.join("going", "Bob").await;
    assert!(matches!(
        alice.recv().await,
        ServerMessage::PeerJoined { .. }
    ));
    // Bob hangs up on B: Alice, on A, is told, and his seat is free for Carol on A.
    bob.send(json!({"type": "leave"})).await;
    assert_eq!(alice.recv().await, ServerMessage::PeerLeft { peer: bob_id });
    let mut carol = Client::connect(b.addr).await;
    let (carol_id, peers) = carol.join("going", "Carol").await;
    assert_eq!(peers.iter().map(|p| p.id).collect::<Vec<_>>(), [alice_id]);
    assert!(
        matches!(alice.recv().await, ServerMessage::PeerJoined { peer, .. } if peer.id == carol_id)
    );
    // Alice's socket drops on A: once the grace (300 ms) is over, Carol on B is told.
    drop(alice);
    assert_eq!(
        carol.recv().await,
        ServerMessage::PeerLeft { peer: alice_id }
    );
    // Alice hosted: Carol, the only one left, does now.
    assert_eq!(carol.recv().await, ServerMessage::Host { peer: carol_id });
    carol.send(json!({"type": "leave"})).await;
    carol.expect_silence().await;
    // Nobody is left: Redis holds no seat of the room, only its counter, for an hour.
    let mut redis = redis.connect().await;
    let fields: Vec<String> = redis::cmd("HKEYS")
        .arg("tandem:room:going")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(fields, ["#seq"]);
    let ttl: i64 = redis::cmd("TTL")
        .arg("tandem:room:going")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(ttl > 3000, "{ttl}");
}

#[tokio::test]
async fn a_relay_between_two_people_on_one_server_never_touches_redis() {
    let redis = RedisServer::start();
    let (a, _b) = (server(&redis, &[]), server(&redis, &[]));
    let (mut alice, alice_id, mut bob, bob_id) = pair(a.addr, "local").await;
    let before = publishes(&redis).await;
    for n in 0..50 {
        alice.signal(bob_id, candidate(n)).await;
    }
    for n in 0..50 {
        assert_eq!(
            bob.recv().await,
            ServerMessage::Signal {
                from: alice_id,
                signal: candidate(n)
            }
        );
    }
    alice.expect_silence().await;
    assert_eq!(publishes(&redis).await, before);
}

#[tokio::test]
async fn a_dropped_connection_resumes_its_seat_with_what_waited_from_the_other_server() {
    let redis = RedisServer::start();
    let (a, b) = (server(&redis, &[]), server(&redis, &[]));
    let mut alice = Client::connect(a.addr).await;
    let mut bob = Client::connect(b.addr).await;
    let (alice_id, _, token) = alice.join_with_token("back", "Alice").await;
    let (bob_id, _) = bob.join("back", "Bob").await;
    assert!(matches!(
        alice.recv().await,
        ServerMessage::PeerJoined { .. }
    ));
    // Alice's socket closes; once A has dropped its end, her seat is held.
    alice.ws.close(None).await.unwrap();
    while let Some(Ok(_)) = alice.ws.next().await {}
    // Bob signals while Alice is away (the grace is 300 ms; the resume comes first).
    bob.signal(alice_id, candidate(7)).await;
    bob.expect_silence().await;
    let mut alice = Client::connect(a.addr).await;
    match alice.resume(&token).await {
        ServerMessage::Resumed { you, peers, .. } => {
            assert_eq!(you, alice_id);
            assert_eq!(peers.iter().map(|p| p.id).collect::<Vec<_>>(), [bob_id]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        alice.recv().await,
        ServerMessage::Signal {
            from: bob_id,
            signal: candidate(7)
        }
    );
    // Nobody was told she had gone.
    bob.expect_silence().await;
}

#[tokio::test]
async fn without_redis_local_relays_go_on_and_a_join_is_told_unavailable() {
    let mut redis = RedisServer::start();
    let a = server(&redis, &[]);
    let (mut alice, alice_id, mut bob, bob_id) = pair(a.addr, "stranded").await;
    redis.kill();
    bob.signal(alice_id, candidate(1)).await;
    assert_eq!(
        alice.recv().await,
        ServerMessage::Signal {
            from: bob_id,
            signal: candidate(1)
        }
    );
    let mut carol = Client::connect(a.addr).await;
    carol
        .send(json!({"type": "join", "room": "elsewhere", "name": "Carol"}))
        .await;
    carol.expect_error(ErrorCode::Unavailable).await;
    assert!(metric(&a, "tandem_redis_errors_total").await >= 1.0);
    // Not seated: the connection can try again.
    carol.expect_silence().await;
    // A balancer stops sending people here.
    eventually("not ready", || async { ready(&a).await == 503 }).await;
}

#[tokio::test]
async fn a_seat_resumes_on_the_other_server_with_what_waited_for_it() {
    let redis = RedisServer::start();
    let grace = ["--resume-grace", "10s"];
    let (a, b) = (server(&redis, &grace), server(&redis, &grace));
    let (mut alice, alice_id, token, mut bob, bob_id) = across(&a, &b, "move").await;
    alice.ws.close(None).await.unwrap();
    while let Some(Ok(_)) = alice.ws.next().await {}
    // Sent to A, where her seat waits.
    bob.signal(alice_id, candidate(1)).await;
    bob.expect_silence().await;
    // She comes back through B, Bob's server.
    let mut alice = Client::connect(b.addr).await;
    match alice.resume(&token).await {
        ServerMessage::Resumed { you, peers, .. } => {
            assert_eq!(you, alice_id);
            assert_eq!(peers.iter().map(|p| p.id).collect::<Vec<_>>(), [bob_id]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(alice.recv().await, signal_from(bob_id, 1));
    // Both on B now: their relays stay there.
    let before = publishes(&redis).await;
    bob.signal(alice_id, candidate(2)).await;
    alice.signal(bob_id, candidate(3)).await;
    assert_eq!(alice.recv().await, signal_from(bob_id, 2));
    assert_eq!(bob.recv().await, signal_from(alice_id, 3));
    assert_eq!(publishes(&redis).await, before);
    // Carol on A meets them both, and nobody ever heard that Alice went.
    let mut carol = Client::connect(a.addr).await;
    let (carol_id, peers) = carol.join("move", "Carol").await;
    assert_eq!(peers.len(), 2);
    for person in [&mut alice, &mut bob] {
        assert!(
            matches!(person.recv().await, ServerMessage::PeerJoined { peer, .. } if peer.id == carol_id)
        );
        person.expect_silence().await;
    }
    carol.signal(alice_id, candidate(4)).await;
    assert_eq!(alice.recv().await, signal_from(carol_id, 4));
}

#[tokio::test]
async fn a_killed_server_s_people_resume_elsewhere_and_the_others_seats_are_freed() {
    let redis = RedisServer::start();
    let timing = ["--server-liveness", "1s", "--resume-grace", "1s"];
    let (mut a, b) = (server(&redis, &timing), server(&redis, &timing));
    let (alice, alice_id, token, mut bob, bob_id) = across(&a, &b, "crash").await;
    let mut dave = Client::connect(a.addr).await;
    let (dave_id, _) = dave.join("crash", "Dave").await;
    assert!(matches!(bob.recv().await, ServerMessage::PeerJoined { .. }));
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    drop((alice, dave));
    // Alice's page reconnects to B and takes her seat back at once.
    let mut alice = Client::connect(b.addr).await;
    assert!(
        matches!(alice.resume(&token).await, ServerMessage::Resumed { you, .. } if you == alice_id)
    );
    bob.signal(alice_id, candidate(1)).await;
    assert_eq!(alice.recv().await, signal_from(bob_id, 1));
    // Dave never comes back: once A counts as gone (1 s) and his grace is over (1 s),
    // both are told, and Redis holds nothing of A.
    let started = std::time::Instant::now();
    assert_eq!(bob.recv().await, ServerMessage::PeerLeft { peer: dave_id });
    assert_eq!(
        alice.recv().await,
        ServerMessage::PeerLeft { peer: dave_id }
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
    let mut redis_conn = redis.connect().await;
    let seats: Vec<String> = redis::cmd("HKEYS")
        .arg("tandem:room:crash")
        .query_async(&mut redis_conn)
        .await
        .unwrap();
    let mut ids: Vec<String> = seats.into_iter().filter(|k| k != "#seq").collect();
    ids.sort();
    let mut expected = vec![alice_id.0.to_string(), bob_id.0.to_string()];
    expected.sort();
    assert_eq!(ids, expected);
    let servers: usize = redis::cmd("HLEN")
        .arg("tandem:servers")
        .query_async(&mut redis_conn)
        .await
        .unwrap();
    assert_eq!(servers, 1);
    bob.expect_silence().await;
}

#[tokio::test]
async fn a_server_shutting_down_hands_its_seats_to_the_others() {
    let redis = RedisServer::start();
    let timing = ["--server-liveness", "1s", "--resume-grace", "1s"];
    let (mut a, b) = (server(&redis, &timing), server(&redis, &timing));
    let (mut alice, alice_id, token, mut bob, bob_id) = across(&a, &b, "restart").await;
    let mut dave = Client::connect(a.addr).await;
    let (dave_id, _) = dave.join("restart", "Dave").await;
    assert!(matches!(bob.recv().await, ServerMessage::PeerJoined { .. }));
    a.signal("TERM");
    assert_eq!(alice.closed().await, Some(1001));
    assert_eq!(dave.closed().await, Some(1001));
    a.exit_within(std::time::Duration::from_secs(10)).await;
    let mut alice = Client::connect(b.addr).await;
    assert!(
        matches!(alice.resume(&token).await, ServerMessage::Resumed { you, .. } if you == alice_id)
    );
    alice.signal(bob_id, candidate(1)).await;
    assert_eq!(bob.recv().await, signal_from(alice_id, 1));
    // Dave's seat was handed over too; nobody took it, so after his grace both hear.
    assert_eq!(bob.recv().await, ServerMessage::PeerLeft { peer: dave_id });
    assert_eq!(
        alice.recv().await,
        ServerMessage::PeerLeft { peer: dave_id }
    );
}

#[tokio::test]
async fn redis_back_with_its_data_finds_every_server_and_seat_as_they_were() {
    let dir = std::env::temp_dir().join(format!("tandem-redis-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = RedisServer::start().port;
    let mut redis = RedisServer::start_keeping(port, &dir);
    // A server counts as gone after 1 s: the outage below is longer.
    let timing = ["--server-liveness", "1s"];
    let (a, b) = (server(&redis, &timing), server(&redis, &timing));
    let (mut alice, alice_id, _, mut bob, bob_id) = across(&a, &b, "outage").await;
    redis.kill();
    eventually("A not ready", || async { ready(&a).await == 503 }).await;
    eventually("B not ready", || async { ready(&b).await == 503 }).await;
    let mut carol = Client::connect(a.addr).await;
    carol
        .send(json!({"type": "join", "room": "outage", "name": "Carol"}))
        .await;
    carol.expect_error(ErrorCode::Unavailable).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let redis = RedisServer::start_keeping(port, &dir);
    eventually("A ready", || async { ready(&a).await == 200 }).await;
    eventually("B ready", || async { ready(&b).await == 200 }).await;
    eventually("both subscribed", || async {
        subscribed(&redis).await == 2
    })
    .await;
    alice.signal(bob_id, candidate(1)).await;
    assert_eq!(bob.recv().await, signal_from(alice_id, 1));
    let (carol_id, peers) = carol.join("outage", "Carol").await;
    assert_eq!(peers.len(), 2);
    for person in [&mut alice, &mut bob] {
        assert!(
            matches!(person.recv().await, ServerMessage::PeerJoined { peer, .. } if peer.id == carol_id)
        );
    }
    // Past a liveness period of beating again: nobody was counted gone.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    alice.expect_silence().await;
    bob.expect_silence().await;
    drop(redis);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn redis_back_empty_sends_everyone_to_join_again() {
    let mut redis = RedisServer::start();
    let (a, b) = (server(&redis, &[]), server(&redis, &[]));
    let (mut alice, _, token, mut bob, _) = across(&a, &b, "amnesia").await;
    let port = redis.port;
    redis.kill();
    let _redis = RedisServer::start_on(port);
    // Each server finds Redis forgot it, and tells its people to reconnect (1013).
    assert_eq!(alice.closed().await, Some(1013));
    assert_eq!(bob.closed().await, Some(1013));
    let mut alice = Client::connect(a.addr).await;
    alice.send(json!({"type": "resume", "token": token})).await;
    alice.expect_error(ErrorCode::ResumeExpired).await;
    let (alice_id, peers) = alice.join("amnesia", "Alice").await;
    assert!(peers.is_empty());
    let mut bob = Client::connect(b.addr).await;
    let (_, peers) = bob.join("amnesia", "Bob").await;
    assert_eq!(peers.iter().map(|p| p.id).collect::<Vec<_>>(), [alice_id]);
}

#[tokio::test]
async fn relays_resume_after_redis_kills_the_subscriptions() {
    let redis = RedisServer::start();
    let (a, b) = (server(&redis, &[]), server(&redis, &[]));
    let (mut alice, alice_id, _, mut bob, bob_id) = across(&a, &b, "pubsub").await;
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut redis.connect().await)
        .await
        .unwrap();
    assert_eq!(killed, 2);
    eventually("both subscribed again", || async {
        subscribed(&redis).await == 2
    })
    .await;
    for server in [&a, &b] {
        eventually("a reconnect counted", || async {
            metric(server, "tandem_redis_reconnects_total").await >= 1.0
        })
        .await;
    }
    alice.signal(bob_id, candidate(1)).await;
    bob.signal(alice_id, candidate(2)).await;
    assert_eq!(bob.recv().await, signal_from(alice_id, 1));
    assert_eq!(alice.recv().await, signal_from(bob_id, 2));
}

#[tokio::test]
async fn servers_reach_redis_over_tls_with_the_ca_they_are_given() {
    // A CA, and a certificate for 127.0.0.1 that it signed.
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let dir = std::env::temp_dir().join(format!("tandem-redis-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let (ca_file, cert_file) = (write("ca.pem", ca.pem()), write("cert.pem", cert.pem()));
    let key_file = write("key.pem", key.serialize_pem());
    let port = RedisServer::start().port;
    let _redis = RedisServer::start_tls(port, &cert_file, &key_file);
    let url = format!("rediss://127.0.0.1:{port}/0");
    let ca_path = ca_file.to_str().unwrap();
    let args = [
        "--redis-url",
        &url,
        "--redis-ca",
        ca_path,
        "--resume-secret",
        "cluster-test-secret-0123456789",
    ];
    let (a, b) = (Binary::start(&args), Binary::start(&args));
    let (mut alice, alice_id, _, mut bob, bob_id) = across(&a, &b, "tls").await;
    alice.signal(bob_id, candidate(1)).await;
    assert_eq!(bob.recv().await, signal_from(alice_id, 1));
    // Without the CA, the certificate is not trusted: the server does not start.
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(["--listen", "127.0.0.1:0", "--redis-url", &url])
        .args(["--resume-secret", "cluster-test-secret-0123456789"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("cannot reach Redis"), "{said}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_oversized_or_malformed_envelope_from_redis_is_dropped_and_counted() {
    let redis = RedisServer::start();
    let a = server(&redis, &[]);
    let mut alice = Client::connect(a.addr).await;
    let (alice_id, _) = alice.join("r", "Alice").await;
    let mut conn = redis.connect().await;
    let channels: Vec<String> = redis::cmd("PUBSUB")
        .arg("CHANNELS")
        .arg("tandem:server:*")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(channels.len(), 1, "{channels:?}");
    let deliver = |text: &str| {
        serde_json::json!({"kind": "deliver", "room": "r", "to": alice_id, "text": text})
            .to_string()
    };
    // Anyone who can write to Redis: an envelope too big to be a signal, one that is not
    // JSON, and one whose message for Alice is not a server message.
    let huge = deliver(&format!(
        r#"{{"type":"signal","from":1,"signal":{{"kind":"offer","sdp":"{}"}}}}"#,
        "x".repeat(300_000)
    ));
    for payload in [huge, "{not json".to_owned(), deliver(r#"{"type":"evil"}"#)] {
        let _: i64 = redis::cmd("PUBLISH")
            .arg(&channels[0])
            .arg(payload)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    // A genuine one still arrives, and nothing came before it.
    let _: i64 = redis::cmd("PUBLISH")
        .arg(&channels[0])
        .arg(deliver(r#"{"type":"pong"}"#))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(alice.recv().await, ServerMessage::Pong);
    assert_eq!(metric(&a, "tandem_redis_dropped_total").await, 3.0);
}

#[tokio::test]
async fn while_redis_stalls_the_publish_queue_is_bounded_and_relays_are_refused() {
    let redis = RedisServer::start();
    let flood = ["--rate-limit", "100000", "--rate-burst", "100000"];
    let (a, b) = (server(&redis, &flood), server(&redis, &flood));
    let (mut alice, _, _, mut bob, bob_id) = across(&a, &b, "stall").await;
    // Bob reads all along, as a page does, until the signal sent after the stall.
    let bob_reads = tokio::spawn(async move {
        loop {
            if let ServerMessage::Signal {
                signal: Signal::Offer { sdp },
                ..
            } = bob.recv().await
            {
                if sdp == "after the stall" {
                    break;
                }
            }
        }
    });
    // Redis holds every write (PUBLISH included) for three seconds.
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(3_000)
        .arg("WRITE")
        .query_async(&mut redis.connect().await)
        .await
        .unwrap();
    let sdp = "x".repeat(60_000);
    for _ in 0..400 {
        alice
            .signal(bob_id, Signal::Offer { sdp: sdp.clone() })
            .await;
    }
    alice.send(serde_json::json!({"type": "ping"})).await;
    let mut unavailable = 0;
    loop {
        match alice.recv().await {
            ServerMessage::Pong => break,
            ServerMessage::Error {
                code: ErrorCode::Unavailable,
                ..
            } => unavailable += 1,
            // Bob's server, once his queue there is full.
            ServerMessage::Error {
                code: ErrorCode::PeerBusy,
                ..
            } => {}
            other => panic!("{other:?}"),
        }
    }
    // 400 × 60 KB is 24 MB: relays were refused, not queued without bound, whether the
    // queue filled first or the server saw Redis stop answering its heartbeat first (the
    // bound itself is tested in cluster::pubsub, on its own).
    assert!(unavailable > 0);
    // Once Redis writes again, relays go through: Bob gets what was queued, then this
    // (sent again while it is refused, here or by Bob's server, as a page would).
    for _ in 0..100 {
        if bob_reads.is_finished() {
            break;
        }
        alice.signal(bob_id, offer("after the stall")).await;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        bob_reads.is_finished(),
        "the signal after the stall never reached Bob"
    );
}

/// Publishes `payload` as if from another server, to every server's channel.
async fn forge(redis: &RedisServer, payload: serde_json::Value) {
    let mut conn = redis.connect().await;
    let channels: Vec<String> = redis::cmd("PUBSUB")
        .arg("CHANNELS")
        .arg("tandem:server:*")
        .query_async(&mut conn)
        .await
        .unwrap();
    for channel in channels {
        let _: i64 = redis::cmd("PUBLISH")
            .arg(channel)
            .arg(payload.to_string())
            .query_async(&mut conn)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn news_missed_while_a_server_was_cut_off_from_redis_is_read_again_when_it_is_back() {
    let redis = RedisServer::start();
    let link = Link::to(redis.port).await;
    let liveness = ["--server-liveness", "20s"];
    let (a, b) = (server(&redis, &liveness), server_at(&link.url(), &liveness));
    let (mut alice, _, _, mut bob, bob_id) = across(&a, &b, "repair").await;
    let mut carol = Client::connect(a.addr).await;
    let (carol_id, _) = carol.join("repair", "Carol").await;
    for someone in [&mut alice, &mut bob] {
        assert!(
            matches!(someone.recv().await, ServerMessage::PeerJoined { peer, .. } if peer.id == carol_id)
        );
    }
    // B loses Redis: its subscription goes. Meanwhile Carol leaves and Dave joins, on A.
    link.cut();
    eventually("B's subscription gone", || async {
        subscribed(&redis).await == 1
    })
    .await;
    carol.send(json!({"type": "leave"})).await;
    assert_eq!(
        alice.recv().await,
        ServerMessage::PeerLeft { peer: carol_id }
    );
    let mut dave = Client::connect(a.addr).await;
    let (dave_id, peers) = dave.join("repair", "Dave").await;
    assert_eq!(peers.len(), 2);
    assert!(
        matches!(alice.recv().await, ServerMessage::PeerJoined { peer, .. } if peer.id == dave_id)
    );
    // Nobody was listening on B's channel: that news is gone for good.
    assert_eq!(subscribed(&redis).await, 1);
    bob.expect_silence().await;
    link.mend();
    // Back, B reads the room again: Bob hears of both, and of nothing else.
    let mut heard = [bob.recv().await, bob.recv().await];
    heard.sort_by_key(|m| matches!(m, ServerMessage::PeerJoined { .. }));
    assert_eq!(heard[0], ServerMessage::PeerLeft { peer: carol_id });
    assert!(matches!(&heard[1], ServerMessage::PeerJoined { peer, .. } if peer.id == dave_id));
    bob.expect_silence().await;
    assert!(metric(&b, "tandem_redis_resyncs_total").await >= 1.0);
    // And B knows where Dave is: their signals pass both ways.
    dave.signal(bob_id, candidate(1)).await;
    assert_eq!(bob.recv().await, signal_from(dave_id, 1));
    bob.signal(dave_id, candidate(2)).await;
    assert_eq!(dave.recv().await, signal_from(bob_id, 2));
}

#[tokio::test]
async fn news_of_a_move_older_than_what_a_server_knows_is_ignored() {
    let redis = RedisServer::start();
    let (a, b) = (server(&redis, &[]), server(&redis, &[]));
    let (mut alice, alice_id, _, mut bob, bob_id) = across(&a, &b, "stale").await;
    // Seated as changes 1 and 2: a move "as of change 1" is older than both seats' places.
    for peer in [alice_id, bob_id] {
        forge(
            &redis,
            json!({"kind": "moved", "room": "stale", "peer": peer, "server": "elsewhere", "seq": 1}),
        )
        .await;
    }
    for server in [&a, &b] {
        eventually("the stale moves counted", || async {
            metric(server, "tandem_redis_stale_moves_total").await == 2.0
        })
        .await;
    }
    // Neither was sent away, and their signals still go to the right servers.
    alice.signal(bob_id, candidate(1)).await;
    assert_eq!(bob.recv().await, signal_from(alice_id, 1));
    bob.signal(alice_id, candidate(2)).await;
    assert_eq!(alice.recv().await, signal_from(bob_id, 2));
}

#[tokio::test]
async fn a_seat_that_expires_while_redis_is_out_of_reach_is_freed_once_it_answers() {
    let redis = RedisServer::start();
    let link = Link::to(redis.port).await;
    let liveness = ["--server-liveness", "20s"];
    let (a, b) = (server_at(&link.url(), &liveness), server(&redis, &liveness));
    let (alice, alice_id, _, mut bob, _) = across(&a, &b, "later").await;
    // A loses Redis, then Alice's socket: her seat's grace (300 ms) ends while A cannot
    // free it.
    link.cut();
    drop(alice);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    bob.expect_silence().await;
    link.mend();
    assert_eq!(bob.recv().await, ServerMessage::PeerLeft { peer: alice_id });
    let seats: Vec<String> = redis::cmd("HKEYS")
        .arg("tandem:room:later")
        .query_async(&mut redis.connect().await)
        .await
        .unwrap();
    assert_eq!(seats.len(), 2, "#seq and Bob's: {seats:?}");
}

#[tokio::test]
async fn a_resume_token_works_once_on_the_server_that_holds_the_seat() {
    let redis = RedisServer::start();
    let (a, b) = (server(&redis, &[]), server(&redis, &[]));
    let (alice, alice_id, token, _bob, _) = across(&a, &b, "once").await;
    drop(alice);
    let mut again = Client::connect(a.addr).await;
    let next = match again.resume(&token).await {
        ServerMessage::Resumed { you, token, .. } if you == alice_id => token,
        other => panic!("{other:?}"),
    };
    let mut thief = Client::connect(a.addr).await;
    thief.send(json!({"type": "resume", "token": token})).await;
    thief.expect_error(ErrorCode::InvalidToken).await;
    // The next one works, once.
    drop(again);
    let mut back = Client::connect(a.addr).await;
    assert!(matches!(
        back.resume(&next).await,
        ServerMessage::Resumed { .. }
    ));
}

#[tokio::test]
async fn a_resume_token_works_once_whichever_server_it_is_shown_to() {
    let redis = RedisServer::start();
    let (a, b) = (server(&redis, &[]), server(&redis, &[]));
    let (mut alice, alice_id, token, mut bob, bob_id) = across(&a, &b, "once-across").await;
    // A copy of Alice's link-and-token, replayed on B while she is still on A: it takes
    // the seat, and Alice's page is told, with a token to take it back, and closed.
    let mut thief = Client::connect(b.addr).await;
    match thief.resume(&token).await {
        ServerMessage::Resumed { you, .. } => assert_eq!(you, alice_id),
        other => panic!("{other:?}"),
    }
    let take_back = match alice.recv().await {
        ServerMessage::SeatTaken { token } => token,
        other => panic!("expected seat_taken, got {other:?}"),
    };
    assert_eq!(alice.closed().await, Some(SEAT_TAKEN_CLOSE_CODE));
    // The token is spent on either server.
    for addr in [a.addr, b.addr] {
        let mut again = Client::connect(addr).await;
        again.send(json!({"type": "resume", "token": token})).await;
        again.expect_error(ErrorCode::InvalidToken).await;
    }
    // Alice takes her seat back on A; now the thief is told and closed, and his token
    // is spent too.
    let mut alice = Client::connect(a.addr).await;
    assert!(matches!(
        alice.resume(&take_back).await,
        ServerMessage::Resumed { you, .. } if you == alice_id
    ));
    assert!(matches!(
        thief.recv().await,
        ServerMessage::SeatTaken { .. }
    ));
    assert_eq!(thief.closed().await, Some(SEAT_TAKEN_CLOSE_CODE));
    let mut again = Client::connect(b.addr).await;
    again
        .send(json!({"type": "resume", "token": take_back}))
        .await;
    again.expect_error(ErrorCode::InvalidToken).await;
    // Bob's signals reach Alice on A, and Bob never heard any of it.
    bob.signal(alice_id, candidate(1)).await;
    assert_eq!(alice.recv().await, signal_from(bob_id, 1));
    bob.expect_silence().await;
}

#[tokio::test]
async fn a_second_alice_on_another_server_is_seated_as_alice_2() {
    let redis = RedisServer::start();
    let (a, b) = (server(&redis, &[]), server(&redis, &[]));
    let mut alice = Client::connect(a.addr).await;
    alice.join("names", "Alice").await;
    let mut seated = Vec::new();
    for (wanted, given) in [("alice", "alice (2)"), ("ALICE", "ALICE (3)")] {
        let mut other = Client::connect(b.addr).await;
        other
            .send(json!({"type": "join", "room": "names", "name": wanted}))
            .await;
        match other.recv().await {
            ServerMessage::Joined { name, .. } => assert_eq!(name, given),
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(alice.recv().await, ServerMessage::PeerJoined { peer, .. } if peer.name == given)
        );
        // Still there when the next one comes.
        seated.push(other);
    }
}

#[tokio::test]
async fn the_host_hands_over_and_removes_across_servers_and_a_leaving_host_is_followed_alike() {
    let redis = RedisServer::start();
    let (a, b) = (server(&redis, &[]), server(&redis, &[]));
    let (mut alice, alice_id, _, mut bob, bob_id) = across(&a, &b, "hosted").await;
    let mut carol = Client::connect(b.addr).await;
    carol
        .send(json!({"type": "join", "room": "hosted", "name": "Carol"}))
        .await;
    let (carol_id, carol_token) = match carol.recv().await {
        ServerMessage::Joined {
            you, host, token, ..
        } => {
            assert_eq!(host, Some(alice_id), "told on B that Alice, on A, hosts");
            (you, token)
        }
        other => panic!("{other:?}"),
    };
    for client in [&mut alice, &mut bob] {
        assert!(matches!(
            client.recv().await,
            ServerMessage::PeerJoined { .. }
        ));
    }
    // Only the host's commands are carried out, wherever the host is.
    bob.send(json!({"type": "remove", "peer": carol_id})).await;
    bob.expect_error(ErrorCode::NotHost).await;
    // Alice (on A) asks Bob (on B) to mute, then removes Carol (on B).
    alice
        .send(json!({"type": "ask_to_mute", "peer": bob_id}))
        .await;
    assert_eq!(
        bob.recv().await,
        ServerMessage::MuteRequest { by: alice_id }
    );
    alice
        .send(json!({"type": "remove", "peer": carol_id}))
        .await;
    assert_eq!(carol.recv().await, ServerMessage::Removed { by: alice_id });
    assert_eq!(carol.closed().await, Some(REMOVED_CLOSE_CODE));
    for client in [&mut alice, &mut bob] {
        assert_eq!(
            client.recv().await,
            ServerMessage::PeerLeft { peer: carol_id }
        );
    }
    let mut again = Client::connect(a.addr).await;
    again
        .send(json!({"type": "resume", "token": carol_token}))
        .await;
    again.expect_error(ErrorCode::ResumeExpired).await;
    // Handed to Bob: both servers' people are told, and Alice's commands are refused.
    alice
        .send(json!({"type": "make_host", "peer": bob_id}))
        .await;
    for client in [&mut alice, &mut bob] {
        assert_eq!(client.recv().await, ServerMessage::Host { peer: bob_id });
    }
    alice.send(json!({"type": "remove", "peer": bob_id})).await;
    alice.expect_error(ErrorCode::NotHost).await;
    // A newcomer on A hears Bob hosts; Bob leaves, and Alice (there longest) hosts, as
    // both servers find by themselves.
    let mut dan = Client::connect(a.addr).await;
    dan.send(json!({"type": "join", "room": "hosted", "name": "Dan"}))
        .await;
    assert!(matches!(
        dan.recv().await,
        ServerMessage::Joined { host: Some(host), .. } if host == bob_id
    ));
    for client in [&mut alice, &mut bob] {
        assert!(matches!(
            client.recv().await,
            ServerMessage::PeerJoined { .. }
        ));
    }
    bob.send(json!({"type": "leave"})).await;
    for client in [&mut alice, &mut dan] {
        assert_eq!(
            client.recv().await,
            ServerMessage::PeerLeft { peer: bob_id }
        );
        assert_eq!(client.recv().await, ServerMessage::Host { peer: alice_id });
    }
}

/// Issue 35, item 4, across servers: let in by a host on A, a knock waiting on B holds its
/// seat at once, and is sent fresh tokens before it says another word.
#[tokio::test]
async fn a_knock_let_in_from_another_server_holds_its_seat_before_it_says_another_word() {
    let redis = RedisServer::start();
    let quick = ["--heartbeat-interval", "20ms"];
    let (a, b) = (server(&redis, &quick), server(&redis, &quick));
    let mut alice = Client::connect(a.addr).await;
    alice.join("door", "Alice").await;
    let mut dave = Client::connect(b.addr).await;
    let_in(&mut alice, &mut dave, "door", "Dave").await;
    token_comes(&mut dave).await;
}

#[tokio::test]
async fn a_host_on_one_server_locks_and_answers_knocks_on_the_other_and_a_new_host_hears_who_waits()
{
    let redis = RedisServer::start();
    let (a, b) = (server(&redis, &[]), server(&redis, &[]));
    let (mut alice, alice_id, _, mut bob, bob_id) = across(&a, &b, "door").await;
    bob.send(json!({"type": "lock"})).await;
    bob.expect_error(ErrorCode::NotHost).await;
    alice.send(json!({"type": "lock"})).await;
    for client in [&mut alice, &mut bob] {
        assert_eq!(client.recv().await, ServerMessage::Locked { locked: true });
    }
    // Dave, on B, waits for Alice, on A: nobody else hears of him, and he can do nothing
    // in the room.
    let mut dave = Client::connect(b.addr).await;
    knock(&mut dave, "door", "Dave", "Alice").await;
    let dave_knock = knock_heard(&mut alice, "Dave").await;
    bob.send(json!({"type": "admit", "knock": dave_knock}))
        .await;
    bob.expect_error(ErrorCode::NotHost).await;
    dave.signal(alice_id, offer("let me in")).await;
    dave.expect_error(ErrorCode::NotJoined).await;
    // Let in across servers: seated on B past the lock, and met as any newcomer.
    alice
        .send(json!({"type": "admit", "knock": dave_knock}))
        .await;
    assert_eq!(
        alice.recv().await,
        ServerMessage::KnockEnded { knock: dave_knock }
    );
    let dave_id = match dave.recv().await {
        ServerMessage::Joined {
            you,
            peers,
            locked,
            host,
            ..
        } => {
            assert!(locked);
            assert_eq!(host, Some(alice_id));
            assert_eq!(peers.len(), 2);
            you
        }
        other => panic!("{other:?}"),
    };
    for client in [&mut alice, &mut bob] {
        assert!(
            matches!(client.recv().await, ServerMessage::PeerJoined { peer, .. } if peer.id == dave_id)
        );
    }
    dave.signal(alice_id, offer("in")).await;
    assert!(matches!(alice.recv().await, ServerMessage::Signal { from, .. } if from == dave_id));
    // Erin, on B, is turned away, and told by whom; Frank, on A, gives up.
    let mut erin = Client::connect(b.addr).await;
    knock(&mut erin, "door", "Erin", "Alice").await;
    let erin_knock = knock_heard(&mut alice, "Erin").await;
    alice
        .send(json!({"type": "deny", "knock": erin_knock}))
        .await;
    assert_eq!(
        alice.recv().await,
        ServerMessage::KnockEnded { knock: erin_knock }
    );
    assert_eq!(
        erin.expect_error(ErrorCode::KnockDenied).await,
        "Alice did not let you in"
    );
    alice
        .send(json!({"type": "deny", "knock": erin_knock}))
        .await;
    alice.expect_error(ErrorCode::UnknownKnock).await;
    let mut frank = Client::connect(a.addr).await;
    knock(&mut frank, "door", "Frank", "Alice").await;
    let frank_knock = knock_heard(&mut alice, "Frank").await;
    drop(frank);
    assert_eq!(
        alice.recv().await,
        ServerMessage::KnockEnded { knock: frank_knock }
    );
    // Gus, on A, waits while Alice hands the role to Bob, on B: Bob hears who waits.
    let mut gus = Client::connect(a.addr).await;
    knock(&mut gus, "door", "Gus", "Alice").await;
    let gus_knock = knock_heard(&mut alice, "Gus").await;
    alice
        .send(json!({"type": "make_host", "peer": bob_id}))
        .await;
    for client in [&mut alice, &mut bob, &mut dave] {
        assert_eq!(client.recv().await, ServerMessage::Host { peer: bob_id });
    }
    assert_eq!(knock_heard(&mut bob, "Gus").await, gus_knock);
    alice
        .send(json!({"type": "admit", "knock": gus_knock}))
        .await;
    alice.expect_error(ErrorCode::NotHost).await;
    bob.send(json!({"type": "admit", "knock": gus_knock})).await;
    assert_eq!(
        bob.recv().await,
        ServerMessage::KnockEnded { knock: gus_knock }
    );
    assert!(matches!(gus.recv().await, ServerMessage::Joined { host, .. } if host == Some(bob_id)));
    // Unlocked: the next person walks straight in.
    bob.send(json!({"type": "unlock"})).await;
    for client in [&mut alice, &mut bob, &mut dave, &mut gus] {
        loop {
            match client.recv().await {
                ServerMessage::Locked { locked } => {
                    assert!(!locked);
                    break;
                }
                // Gus's arrival, heard by the others first.
                ServerMessage::PeerJoined { .. } => {}
                other => panic!("{other:?}"),
            }
        }
    }
    let mut hal = Client::connect(b.addr).await;
    hal.send(json!({"type": "join", "room": "door", "name": "Hal"}))
        .await;
    assert!(matches!(
        hal.recv().await,
        ServerMessage::Joined { locked: false, .. }
    ));
}

#[tokio::test]
async fn someone_waiting_on_another_server_is_told_when_everyone_leaves_a_locked_room() {
    let redis = RedisServer::start();
    let (a, b) = (server(&redis, &[]), server(&redis, &[]));
    let mut alice = Client::connect(a.addr).await;
    alice.join("alone", "Alice").await;
    alice.send(json!({"type": "lock"})).await;
    assert_eq!(alice.recv().await, ServerMessage::Locked { locked: true });
    let mut ivy = Client::connect(b.addr).await;
    knock(&mut ivy, "alone", "Ivy", "Alice").await;
    knock_heard(&mut alice, "Ivy").await;
    alice.send(json!({"type": "leave"})).await;
    assert_eq!(
        ivy.expect_error(ErrorCode::KnockExpired).await,
        "everyone left before letting you in"
    );
    // The lock went with the last person: Ivy comes in now.
    ivy.send(json!({"type": "join", "room": "alone", "name": "Ivy"}))
        .await;
    assert!(matches!(
        ivy.recv().await,
        ServerMessage::Joined { locked: false, .. }
    ));
}

#[tokio::test]
async fn a_relay_credential_from_one_server_allocates_on_the_other_server_s_relay() {
    let redis = RedisServer::start();
    let relay_args = |port: u16| {
        vec![
            "--turn-listen".to_owned(),
            format!("127.0.0.1:{port}"),
            "--turn-secret".to_owned(),
            "cluster-turn-secret-0123456789".to_owned(),
            "--turn-allow-private-peers".to_owned(),
        ]
    };
    let ports = [free_udp_and_tcp_port(), free_udp_and_tcp_port()];
    let a_args = relay_args(ports[0]);
    let b_args = relay_args(ports[1]);
    let a = server(
        &redis,
        &a_args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let b = server(
        &redis,
        &b_args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let (urls, username, password) = turn_credentials(a.addr, "shared-relay").await;
    assert!(urls[0].contains(&format!(":{}?", ports[0])), "{urls:?}");
    let on_b = format!("127.0.0.1:{}", ports[1])
        .parse()
        .expect("an address");
    let client = turn_client(on_b, &username, &password).await;
    client
        .allocate()
        .await
        .expect("A's credential works on B's relay");
    assert_eq!(metric(&b, "tandem_turn_allocations").await, 1.0);
    // A wrong password fails there as anywhere.
    let client = turn_client(on_b, &username, "not-the-password").await;
    assert!(client.allocate().await.is_err());
}

/// A port free for UDP and TCP alike, just now.
fn free_udp_and_tcp_port() -> u16 {
    loop {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("a UDP port");
        let port = udp.local_addr().expect("bound").port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}
