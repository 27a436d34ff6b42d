//! The signaling server over real WebSockets: the real router on a random loopback port,
//! driven by real WebSocket clients.

mod common;

use common::*;
use futures::SinkExt;
use serde_json::json;
use std::time::Duration;
use tandem::protocol::signaling::{ErrorCode, PeerId, PeerInfo, ServerMessage, Signal};
use tandem::server::config::Config;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn second_joiner_learns_of_the_first_and_the_first_is_told() {
    let addr = start_server().await;
    let mut alice = Client::connect(addr).await;
    let mut bob = Client::connect(addr).await;
    let (alice_id, peers) = alice.join("room1", "Alice").await;
    assert!(peers.is_empty(), "the first in a room waits");
    let (bob_id, peers) = bob.join("room1", "Bob").await;
    assert_ne!(alice_id, bob_id);
    assert_eq!(
        peers,
        vec![PeerInfo {
            id: alice_id,
            name: "Alice".into()
        }]
    );
    match alice.recv().await {
        ServerMessage::PeerJoined { peer, polite } => {
            assert_eq!((peer.id, peer.name.as_str()), (bob_id, "Bob"));
            assert!(!polite, "the one already there is the impolite side");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn joined_carries_the_configured_ice_servers_and_upload_budget() {
    let config = config_with(|c| {
        c.ice.stun_urls = vec!["stun:127.0.0.1:3478".into()];
        c.calls.upload_budget = 900_000;
    });
    let addr = TestServer::start(config).await.addr;
    let mut alice = Client::connect(addr).await;
    alice
        .send(json!({"type": "join", "room": "ice", "name": "Alice"}))
        .await;
    match alice.recv().await {
        ServerMessage::Joined {
            ice_servers,
            upload_budget,
            ..
        } => {
            let urls: Vec<&str> = ice_servers
                .iter()
                .flat_map(|s| s.urls.iter().map(String::as_str))
                .collect();
            assert_eq!(urls, ["stun:127.0.0.1:3478"]);
            assert_eq!(upload_budget, 900_000);
        }
        other => panic!("{other:?}"),
    }
    // Unconfigured, nothing leaves the network, and the default budget goes out.
    let mut bob = Client::connect(start_server().await).await;
    bob.send(json!({"type": "join", "room": "ice", "name": "Bob"}))
        .await;
    match bob.recv().await {
        ServerMessage::Joined {
            ice_servers,
            upload_budget,
            ..
        } => {
            assert!(ice_servers.is_empty());
            assert_eq!(
                upload_budget,
                tandem::protocol::signaling::DEFAULT_UPLOAD_BUDGET
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn signals_reach_the_addressee_only() {
    let addr = start_server().await;
    let (mut a, a_id, mut b, b_id) = pair(addr, "relay").await;
    let (mut c, c_id, mut d, _) = pair(addr, "other").await;

    a.signal(b_id, offer("v=0 from a")).await;
    assert_eq!(
        b.recv().await,
        ServerMessage::Signal {
            from: a_id,
            signal: offer("v=0 from a")
        }
    );
    let candidate = Signal::Candidate {
        candidate: "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host".into(),
        sdp_mid: Some("0".into()),
        sdp_m_line_index: Some(0),
    };
    b.signal(a_id, candidate.clone()).await;
    assert_eq!(
        a.recv().await,
        ServerMessage::Signal {
            from: b_id,
            signal: candidate
        }
    );
    // A peer in another room is a stranger, even with a valid id.
    a.signal(c_id, offer("nosy")).await;
    a.expect_error(ErrorCode::UnknownPeer).await;
    a.signal(a_id, offer("to myself")).await;
    a.expect_error(ErrorCode::UnknownPeer).await;
    a.signal(PeerId(999_999), offer("nobody")).await;
    a.expect_error(ErrorCode::UnknownPeer).await;
    c.expect_silence().await;
    d.expect_silence().await;
    b.expect_silence().await;
}

#[tokio::test]
async fn a_person_past_capacity_is_refused_and_can_go_elsewhere() {
    let addr = start_two_seat_server().await;
    let (_a, _, _b, _) = pair(addr, "full").await;
    let mut carol = Client::connect(addr).await;
    carol
        .send(json!({"type": "join", "room": "full", "name": "Carol"}))
        .await;
    carol.expect_error(ErrorCode::RoomFull).await;
    let (_, peers) = carol.join("not-full", "Carol").await;
    assert!(peers.is_empty());
}

/// Everyone a client was told of: the `peers` of its `joined`, then each `peer_joined`
/// until it knows of `others` people; then nothing more may come.
async fn everyone_known_to(
    client: &mut Client,
    first: Vec<PeerInfo>,
    others: usize,
) -> Vec<PeerId> {
    let mut known: Vec<PeerId> = first.iter().map(|p| p.id).collect();
    while known.len() < others {
        match client.recv().await {
            ServerMessage::PeerJoined { peer, polite } => {
                assert!(!polite, "whoever is there first offers to the newcomer");
                known.push(peer.id);
            }
            other => panic!("{other:?}"),
        }
    }
    client.expect_silence().await;
    known.sort();
    known
}

#[tokio::test]
async fn simultaneous_joins_admit_exactly_capacity_and_everyone_learns_of_everyone() {
    let addr = start_server().await;
    assert_eq!(quick_config().calls.room_capacity, 6);
    let mut clients = Vec::new();
    for _ in 0..16 {
        clients.push(Client::connect(addr).await);
    }
    let join = json!({"type": "join", "room": "race", "name": "Racer"}).to_string();
    futures::future::join_all(clients.iter_mut().map(|c| c.send_text(&join))).await;
    let mut seated = Vec::new();
    let mut full = 0;
    for mut client in clients {
        match client.recv().await {
            ServerMessage::Joined {
                you, peers, polite, ..
            } => {
                assert_eq!(polite, !peers.is_empty(), "the newcomer is polite");
                seated.push((client, you, peers));
            }
            ServerMessage::Error {
                code: ErrorCode::RoomFull,
                ..
            } => full += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((seated.len(), full), (6, 10));
    // Each person in the room knows each other one exactly once: a full mesh.
    let mut ids: Vec<PeerId> = seated.iter().map(|(_, id, _)| *id).collect();
    ids.sort();
    for (client, you, peers) in &mut seated {
        let others: Vec<PeerId> = ids.iter().copied().filter(|id| id != you).collect();
        let known = everyone_known_to(client, std::mem::take(peers), others.len()).await;
        assert_eq!(known, others);
    }
}

#[tokio::test]
async fn a_group_of_four_relays_between_every_pair_and_hears_who_leaves() {
    let addr = start_server().await;
    let mut people = Vec::new();
    for name in ["Ann", "Ben", "Cat", "Dan"] {
        let mut client = Client::connect(addr).await;
        let (id, _) = client.join("group", name).await;
        people.push((client, id));
    }
    // Each is told of everyone who came after them.
    for (i, (client, _)) in people.iter_mut().enumerate() {
        for _ in i + 1..4 {
            assert!(matches!(
                client.recv().await,
                ServerMessage::PeerJoined { .. }
            ));
        }
    }
    for from in 0..4 {
        for to in 0..4 {
            if from == to {
                continue;
            }
            let (to_id, from_id) = (people[to].1, people[from].1);
            let sdp = format!("{from}->{to}");
            people[from].0.signal(to_id, offer(&sdp)).await;
            assert_eq!(
                people[to].0.recv().await,
                ServerMessage::Signal {
                    from: from_id,
                    signal: offer(&sdp)
                }
            );
        }
    }
    let (mut ben, ben_id) = people.remove(1);
    ben.send(json!({"type": "leave"})).await;
    for (client, _) in &mut people {
        assert_eq!(
            client.recv().await,
            ServerMessage::PeerLeft { peer: ben_id }
        );
        client.expect_silence().await;
    }
}

#[tokio::test]
async fn leaving_tells_the_other_and_frees_the_seat() {
    let addr = start_two_seat_server().await;
    let (mut a, a_id, mut b, b_id) = pair(addr, "leave").await;
    b.send(json!({"type": "leave"})).await;
    assert_eq!(a.recv().await, ServerMessage::PeerLeft { peer: b_id });
    // Signalling a peer who left is refused, and the leaver is no longer seated.
    a.signal(b_id, offer("late")).await;
    a.expect_error(ErrorCode::UnknownPeer).await;
    b.signal(a_id, offer("ghost")).await;
    b.expect_error(ErrorCode::NotJoined).await;
    // Someone new takes the free seat without anyone reconnecting.
    let mut carol = Client::connect(addr).await;
    let (carol_id, peers) = carol.join("leave", "Carol").await;
    assert_eq!(peers.len(), 1);
    match a.recv().await {
        ServerMessage::PeerJoined { peer, .. } => assert_eq!(peer.id, carol_id),
        other => panic!("{other:?}"),
    }
    // The same socket that left may join again (the room is full now).
    b.send(json!({"type": "join", "room": "leave", "name": "Bob"}))
        .await;
    b.expect_error(ErrorCode::RoomFull).await;
}

#[tokio::test]
async fn a_closed_socket_counts_as_leaving_and_empty_rooms_vanish() {
    let addr = start_server().await;
    let (mut a, a_id, b, b_id) = pair(addr, "drop").await;
    drop(b);
    // Told once the seat's grace period (300 ms here) has run out.
    assert_eq!(a.recv().await, ServerMessage::PeerLeft { peer: b_id });
    // Bob's seat is free: a newcomer finds only Alice.
    let mut carol = Client::connect(addr).await;
    let (carol_id, peers) = carol.join("drop", "Carol").await;
    assert_eq!(peers.iter().map(|p| p.id).collect::<Vec<_>>(), [a_id]);
    assert!(
        matches!(a.recv().await, ServerMessage::PeerJoined { peer, .. } if peer.id == carol_id)
    );
    a.ws.close(None).await.unwrap();
    drop(a);
    // Alice's closed socket expires the same way, and Carol is told.
    assert_eq!(carol.recv().await, ServerMessage::PeerLeft { peer: a_id });
    // Alice hosted: Carol, the only one left, does now.
    assert_eq!(carol.recv().await, ServerMessage::Host { peer: carol_id });
    carol.send(json!({"type": "leave"})).await;
    carol.expect_silence().await;
    // Nobody is left: the room is gone, and the next person finds it empty (and hosts it).
    let mut x = Client::connect(addr).await;
    x.send(json!({"type": "join", "room": "drop", "name": "X"}))
        .await;
    let peers = match x.recv().await {
        ServerMessage::Joined {
            you, peers, host, ..
        } => {
            assert_eq!(host, Some(you));
            peers
        }
        other => panic!("{other:?}"),
    };
    assert!(peers.is_empty(), "{peers:?}");
}

#[tokio::test]
async fn bad_input_gets_typed_errors_and_the_connection_keeps_working() {
    let addr = start_server().await;
    let mut m = Client::connect(addr).await;
    m.send_text("this is not json").await;
    m.expect_error(ErrorCode::BadMessage).await;
    m.send(json!({"type": "teleport"})).await;
    let why = m.expect_error(ErrorCode::BadMessage).await;
    assert!(why.contains("teleport"), "{why}");
    m.send(json!({"type": "join", "room": "r"})).await;
    m.expect_error(ErrorCode::BadMessage).await;
    m.send(json!({"type": "join", "room": 5, "name": "x"}))
        .await;
    m.expect_error(ErrorCode::BadMessage).await;
    m.ws.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    m.expect_error(ErrorCode::BadMessage).await;
    m.signal(PeerId(1), offer("too early")).await;
    m.expect_error(ErrorCode::NotJoined).await;
    m.send(json!({"type": "leave"})).await;
    m.expect_error(ErrorCode::NotJoined).await;
    for (room, name, code) in [
        ("has space", "Mallory", ErrorCode::InvalidRoom),
        ("", "Mallory", ErrorCode::InvalidRoom),
        (&*"r".repeat(65), "Mallory", ErrorCode::InvalidRoom),
        ("ok", "", ErrorCode::InvalidName),
        ("ok", &*"n".repeat(33), ErrorCode::InvalidName),
        ("ok", "bell\u{7}", ErrorCode::BadName),
    ] {
        m.send(json!({"type": "join", "room": room, "name": name}))
            .await;
        m.expect_error(code).await;
    }
    m.send(json!({"type": "signal", "to": 1, "signal": {"kind": "offer"}}))
        .await;
    m.expect_error(ErrorCode::BadMessage).await;
    // After all that, the same connection joins normally…
    let (_, peers) = m.join("after-garbage", "Mallory").await;
    assert!(peers.is_empty());
    m.send(json!({"type": "join", "room": "second", "name": "Mallory"}))
        .await;
    m.expect_error(ErrorCode::AlreadyJoined).await;
    // …and other people's calls were never disturbed.
    let (mut a, a_id, mut b, _) = pair(addr, "bystanders").await;
    b.signal(a_id, offer("still fine")).await;
    assert!(matches!(a.recv().await, ServerMessage::Signal { .. }));
}

#[tokio::test]
async fn an_oversized_frame_closes_only_that_connection() {
    let addr = start_server().await;
    let (mut a, a_id, mut b, _) = pair(addr, "big").await;
    let mut big = Client::connect(addr).await;
    let huge = "x".repeat(Config::default().connections.max_message_bytes + 1);
    // The server may close before the whole frame is written, so a send error is fine too.
    let _ = big
        .ws
        .send(Message::text(format!(
            r#"{{"type":"join","room":"{huge}"}}"#
        )))
        .await;
    big.closed().await;
    b.signal(a_id, offer("unaffected")).await;
    assert!(matches!(a.recv().await, ServerMessage::Signal { .. }));
}

#[tokio::test]
async fn pages_are_rendered_on_the_server() {
    let addr = start_server().await;
    let (status, home) = get(addr, "/").await;
    assert_eq!(status, 200);
    assert!(
        home.contains("Your name") && home.contains("New room"),
        "{home}"
    );
    // Opened from elsewhere: the join card, with the name from the link.
    let (status, card) = get(addr, "/call/Zo%C3%AB%20B/room1").await;
    assert_eq!(status, 200);
    assert!(card.contains("Join room room1"), "{card}");
    assert!(
        card.contains(r#"value="Zoë B""#),
        "names are decoded: {card}"
    );
    // From Tandem's own pages: the call.
    let call = get_raw(
        addr,
        "/call/Zo%C3%AB%20B/room1",
        "Sec-Fetch-Site: same-origin\r\n",
    )
    .await;
    let call = String::from_utf8(call).expect("a page is UTF-8");
    assert!(call.contains("Room room1"), "{call}");
    assert!(call.contains("You (Zoë B)"), "names are decoded: {call}");
    assert!(call.contains(r#"aria-live="polite""#));
    let (_, bad) = get(addr, "/call/alice/bad%20room").await;
    assert!(bad.contains("This call link is not valid"), "{bad}");
}

#[tokio::test]
async fn a_dropped_connection_resumes_its_seat_and_nobody_is_told() {
    let server = TestServer::start(config_with(|c| {
        c.connections.resume_grace = Duration::from_secs(30);
    }))
    .await;
    let mut a = Client::connect(server.addr).await;
    let mut b = Client::connect(server.addr).await;
    let (a_id, _) = a.join("resume", "Alice").await;
    let (b_id, _, token) = b.join_with_token("resume", "Bob").await;
    assert!(matches!(a.recv().await, ServerMessage::PeerJoined { .. }));
    drop(b);
    // Alice signals while Bob is away: it waits for him.
    a.signal(b_id, offer("while you were out")).await;
    let mut b = Client::connect(server.addr).await;
    match b.resume(&token).await {
        ServerMessage::Resumed { you, peers, .. } => {
            assert_eq!(you, b_id, "same id as before");
            assert_eq!(peers.iter().map(|p| p.id).collect::<Vec<_>>(), vec![a_id]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        b.recv().await,
        ServerMessage::Signal {
            from: a_id,
            signal: offer("while you were out")
        }
    );
    b.signal(a_id, offer("back")).await;
    assert_eq!(
        a.recv().await,
        ServerMessage::Signal {
            from: b_id,
            signal: offer("back")
        },
        "no peer_left or peer_joined came first"
    );
    // Resuming twice from one socket is refused like joining twice.
    b.send(json!({"type": "resume", "token": token})).await;
    b.expect_error(ErrorCode::AlreadyJoined).await;
}

#[tokio::test]
async fn the_grace_period_ends_with_peer_left_and_old_tokens_are_refused() {
    let addr = start_server().await;
    let mut a = Client::connect(addr).await;
    let mut b = Client::connect(addr).await;
    a.join("grace", "Alice").await;
    let (b_id, _, token) = b.join_with_token("grace", "Bob").await;
    a.recv().await;
    drop(b);
    assert_eq!(a.recv().await, ServerMessage::PeerLeft { peer: b_id });
    let mut b = Client::connect(addr).await;
    match b.resume(&token).await {
        ServerMessage::Error {
            code: ErrorCode::ResumeExpired,
            ..
        } => {}
        other => panic!("{other:?}"),
    }
    for bad in ["", "garbage", "a.b", &format!("{token}x")] {
        b.send(json!({"type": "resume", "token": bad})).await;
        b.expect_error(ErrorCode::InvalidToken).await;
    }
    // After a refused resume, a fresh join works.
    let (_, peers) = b.join("grace", "Bob").await;
    assert_eq!(peers.len(), 1);
}

#[tokio::test]
async fn a_client_that_stops_answering_pings_is_closed_and_announced() {
    let addr = TestServer::start(config_with(|c| {
        c.connections.heartbeat_interval = Duration::from_millis(100);
        c.connections.heartbeat_timeout = Duration::from_millis(400);
    }))
    .await
    .addr;
    let (mut a, _, mut silent, silent_id) = pair(addr, "silent").await;
    // `silent` stops reading its socket, so it never answers the server's pings. Alice
    // reads, so her pongs go out, and she is told once the heartbeat timeout (400 ms)
    // and the grace (300 ms) have passed.
    assert_eq!(a.recv().await, ServerMessage::PeerLeft { peer: silent_id });
    // Heartbeat timeout (400 ms) plus grace (300 ms) have passed: the socket is closed.
    silent.closed().await;
}

#[tokio::test]
async fn shutdown_tells_every_client_the_server_is_going_away() {
    let server = TestServer::start(quick_config()).await;
    let (mut a, _, mut b, _) = pair(server.addr, "bye").await;
    let mut idle = Client::connect(server.addr).await;
    server.shut_down().await;
    for client in [&mut a, &mut b, &mut idle] {
        assert_eq!(client.closed().await, Some(1001));
    }
}

#[tokio::test]
async fn seats_survive_a_server_restart_with_the_same_secret() {
    let first = TestServer::start(quick_config()).await;
    let mut a = Client::connect(first.addr).await;
    let mut b = Client::connect(first.addr).await;
    let (a_id, _, a_token) = a.join_with_token("restart", "Alice").await;
    let (b_id, _, b_token) = b.join_with_token("restart", "Bob").await;
    first.shut_down().await;

    let second = TestServer::start(quick_config()).await;
    let mut a = Client::connect(second.addr).await;
    let mut b = Client::connect(second.addr).await;
    assert!(matches!(a.resume(&a_token).await, ServerMessage::Resumed { you, .. } if you == a_id));
    match b.resume(&b_token).await {
        ServerMessage::Resumed { you, peers, .. } => {
            assert_eq!(you, b_id);
            assert_eq!(peers[0].id, a_id);
        }
        other => panic!("{other:?}"),
    }
    b.signal(a_id, offer("after restart")).await;
    assert_eq!(
        a.recv().await,
        ServerMessage::Signal {
            from: b_id,
            signal: offer("after restart")
        }
    );
    // A server with another secret does not honour the tokens.
    let other = TestServer::start(config_with(|c| {
        c.calls.resume_secret = Some("a-different-secret-entirely".into());
    }))
    .await;
    let mut a = Client::connect(other.addr).await;
    a.send(json!({"type": "resume", "token": a_token})).await;
    a.expect_error(ErrorCode::InvalidToken).await;
}

#[tokio::test]
async fn the_binary_says_goodbye_and_exits_on_sigterm() {
    let mut server = Binary::start(&[]);
    let (mut a, _, mut b, _) = pair(server.addr, "sigterm").await;
    server.signal("TERM");
    assert_eq!(a.closed().await, Some(1001));
    assert_eq!(b.closed().await, Some(1001));
    let status = server.exit_within(Duration::from_secs(10)).await;
    assert!(status.success(), "{status:?}");
    // It stopped accepting too.
    assert!(TcpStream::connect(server.addr).await.is_err());
}

#[tokio::test]
async fn the_binary_refuses_a_room_past_a_full_mesh() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(["--room-capacity", "9"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("room_capacity") && stderr.contains("media server"),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_binary_refuses_a_bad_configuration_naming_the_setting() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(["--heartbeat-interval", "10s", "--heartbeat-timeout", "5s"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("heartbeat_timeout"), "{stderr}");
}

#[test]
fn the_binary_refuses_a_site_built_by_another_build_naming_the_missing_file() {
    // The binary alone in a folder, with the `hash.txt` of a build whose files the site
    // does not have (as after a debug build replaced a release build's site).
    let dir = std::env::temp_dir().join(format!("tandem-site-check-{}", std::process::id()));
    let pkg = dir.join("site").join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let binary = dir.join("tandem");
    std::fs::copy(env!("CARGO_BIN_EXE_tandem"), &binary).unwrap();
    std::fs::write(dir.join("hash.txt"), "js: aaa\nwasm: bbb\ncss: ccc\n").unwrap();
    let start = |listen: &str| {
        std::process::Command::new(&binary)
            .args(["--listen", listen])
            .env("LEPTOS_SITE_ROOT", dir.join("site"))
            .env("LEPTOS_OUTPUT_NAME", "tandem")
            .env_remove("LEPTOS_HASH_FILES")
            .output()
            .unwrap()
    };
    let output = start("127.0.0.1:0");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("tandem.aaa.js") && stderr.contains("hash.txt"),
        "{stderr}"
    );
    // With the files there, the check passes: the binary goes on, here to an address
    // that is taken.
    for file in ["tandem.aaa.js", "tandem.bbb.wasm", "tandem.ccc.css"] {
        std::fs::write(pkg.join(file), "").unwrap();
    }
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let output = start(&taken.local_addr().unwrap().to_string());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot listen"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}
