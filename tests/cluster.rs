//! Several Tandem servers sharing rooms through Redis: real processes, a real
//! redis-server of each test's own, real WebSocket clients.

mod common;

use common::*;
use futures::StreamExt;
use serde_json::json;
use tandem::protocol::signaling::{ErrorCode, PeerId, ServerMessage, Signal};

/// Settings every server of one cluster shares.
fn server(redis: &RedisServer, extra: &[&str]) -> Binary {
    let url = redis.url();
    let mut args = vec![
        "--redis-url",
        &url,
        "--resume-secret",
        "cluster-test-secret-0123456789",
        "--resume-grace",
        "300ms",
    ];
    args.extend_from_slice(extra);
    Binary::start(&args)
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
    carol.send(json!({"type": "leave"})).await;
    carol.expect_silence().await;
    // Nobody is left: Redis holds nothing of the room.
    let rooms: Vec<String> = redis::cmd("KEYS")
        .arg("tandem:room:*")
        .query_async(&mut redis.connect().await)
        .await
        .unwrap();
    assert!(rooms.is_empty(), "{rooms:?}");
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
    // Not seated: the connection can try again.
    carol.expect_silence().await;
}
