//! Issue 21: a room link is not a licence to disrupt. Each finding, over real sockets
//! against the real server: nobody is removed for what others sent, a seat has one socket,
//! names are what they look like.

mod common;

use common::*;
use serde_json::json;
use std::time::Duration;
use tandem::protocol::signaling::{ErrorCode, ServerMessage, Signal, SEAT_TAKEN_CLOSE_CODE};

/// Reads what `client` was sent until `until` says stop; fails after [`REPLY_TIMEOUT`].
async fn read_until(client: &mut Client, mut until: impl FnMut(&ServerMessage) -> bool) {
    loop {
        let message = client.recv().await;
        if until(&message) {
            return;
        }
    }
}

#[tokio::test]
async fn three_flooders_cannot_remove_a_reader_that_stalls_and_are_told_to_wait() {
    // Default limits: 60 signals each is within the rate limit's burst.
    let addr = TestServer::start(quick_config()).await.addr;
    let mut reader = Client::connect(addr).await;
    let (reader_id, _) = reader.join("crowd", "Reader").await;
    let mut flooders = Vec::new();
    for i in 0..3 {
        let mut flooder = Client::connect(addr).await;
        flooder.join("crowd", &format!("Flooder {i}")).await;
        // Each sees the ones after it arrive.
        flooders.push(flooder);
    }
    for (i, flooder) in flooders.iter_mut().enumerate() {
        for _ in i + 1..3 {
            assert!(matches!(
                flooder.recv().await,
                ServerMessage::PeerJoined { .. }
            ));
        }
    }
    // The reader's link stalls: it reads nothing while the three send 60 × 63 KiB each.
    let sdp = "x".repeat(63 * 1024);
    for flooder in &mut flooders {
        for _ in 0..60 {
            flooder
                .signal(reader_id, Signal::Offer { sdp: sdp.clone() })
                .await;
        }
        flooder.send(json!({"type": "ping"})).await;
    }
    // Every flooder is answered; some of its signals were refused with peer_busy, naming
    // the reader, and nobody was told the reader left.
    let mut refused = 0;
    for flooder in &mut flooders {
        read_until(flooder, |message| match message {
            ServerMessage::Pong => true,
            ServerMessage::Error {
                code: ErrorCode::PeerBusy,
                peer: Some(peer),
                ..
            } if *peer == reader_id => {
                refused += 1;
                false
            }
            other => panic!("a flooder got {other:?}"),
        })
        .await;
    }
    assert!(
        refused > 0,
        "the reader's queue is bounded, so some were refused"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    // The link recovers: the reader gets what fitted, still seated, and the socket is open.
    let mut offers = 0;
    reader.send(json!({"type": "ping"})).await;
    read_until(&mut reader, |message| match message {
        ServerMessage::PeerJoined { .. } => false,
        ServerMessage::Signal { .. } => {
            offers += 1;
            false
        }
        ServerMessage::Pong => true,
        other => panic!("the reader got {other:?}"),
    })
    .await;
    assert_eq!(
        offers + refused,
        3 * 60,
        "each signal was delivered or refused"
    );
    // Everyone is still in the room: a signal to the reader gets through now.
    flooders[0].signal(reader_id, common::offer("hi")).await;
    assert!(matches!(reader.recv().await, ServerMessage::Signal { .. }));
    for flooder in &mut flooders {
        flooder.expect_silence().await;
    }
}

#[tokio::test]
async fn a_held_seats_backlog_is_bounded_in_bytes_and_the_sender_is_told_to_wait() {
    let config = config_with(|c| c.connections.resume_grace = Duration::from_secs(5));
    let addr = TestServer::start(config).await.addr;
    let mut alice = Client::connect(addr).await;
    let mut bob = Client::connect(addr).await;
    alice.join("held", "Alice").await;
    let (bob_id, _, token) = bob.join_with_token("held", "Bob").await;
    assert!(matches!(
        alice.recv().await,
        ServerMessage::PeerJoined { .. }
    ));
    drop(bob);
    // Until the server notices the socket is gone, signals may still reach it; then they
    // wait in the held seat's backlog, up to 32 KiB from Alice, and she is told to wait.
    let candidate = Signal::Candidate {
        candidate: "c".repeat(1000),
        sdp_mid: None,
        sdp_m_line_index: None,
    };
    let mut sent = 0u32;
    loop {
        alice.signal(bob_id, candidate.clone()).await;
        sent += 1;
        alice.send(json!({"type": "ping"})).await;
        match alice.recv().await {
            ServerMessage::Pong => {}
            ServerMessage::Error {
                code: ErrorCode::PeerBusy,
                peer: Some(peer),
                ..
            } if peer == bob_id => break,
            other => panic!("{other:?}"),
        }
        assert!(sent < 500, "the backlog was never full");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(matches!(alice.recv().await, ServerMessage::Pong));
    // Bob comes back: the seat was kept, and what waited follows `resumed`, at most the
    // bound's worth.
    let mut bob = Client::connect(addr).await;
    assert!(matches!(
        bob.resume(&token).await,
        ServerMessage::Resumed { .. }
    ));
    let mut waited = 0;
    bob.send(json!({"type": "ping"})).await;
    read_until(&mut bob, |message| match message {
        ServerMessage::Signal { .. } => {
            waited += 1;
            false
        }
        ServerMessage::Pong => true,
        other => panic!("{other:?}"),
    })
    .await;
    let each = 1000 + 120 + 64;
    assert!(waited * each <= 32 * 1024 + each * 8, "{waited} waited");
    alice.expect_silence().await;
}

/// The next message, which must be `seat_taken`, and the close that follows it.
async fn expect_seat_taken(client: &mut Client) -> String {
    let token = match client.recv().await {
        ServerMessage::SeatTaken { token } => token,
        other => panic!("expected seat_taken, got {other:?}"),
    };
    assert_eq!(client.closed().await, Some(SEAT_TAKEN_CLOSE_CODE));
    token
}

#[tokio::test]
async fn a_replayed_token_takes_the_seat_loudly_and_works_only_once() {
    let addr = TestServer::start(quick_config()).await.addr;
    let mut alice = Client::connect(addr).await;
    let mut bob = Client::connect(addr).await;
    let (alice_id, _, token) = alice.join_with_token("r", "Alice").await;
    let (bob_id, _) = bob.join("r", "Bob").await;
    assert!(matches!(
        alice.recv().await,
        ServerMessage::PeerJoined { .. }
    ));
    // A third socket replays Alice's token while she is connected: it gets the seat, and
    // Alice's socket is told and closed rather than left open and deaf.
    let mut thief = Client::connect(addr).await;
    assert!(matches!(
        thief.resume(&token).await,
        ServerMessage::Resumed { you, .. } if you == alice_id
    ));
    let take_back = expect_seat_taken(&mut alice).await;
    bob.signal(alice_id, offer("for alice")).await;
    assert!(matches!(thief.recv().await, ServerMessage::Signal { from, .. } if from == bob_id));
    // The token worked once.
    let mut again = Client::connect(addr).await;
    again.send(json!({"type": "resume", "token": token})).await;
    again.expect_error(ErrorCode::InvalidToken).await;
    // The person whose seat it was takes it back, as a fresh page: under a new id, and
    // Bob hears Alice's old id leave and the new one arrive, so he connects to her anew.
    let mut alice = Client::connect(addr).await;
    alice
        .send(json!({"type": "resume", "token": take_back, "fresh": true}))
        .await;
    let new_id = match alice.recv().await {
        ServerMessage::Joined { you, peers, .. } => {
            assert_eq!(peers.len(), 1);
            assert_ne!(you, alice_id);
            you
        }
        other => panic!("{other:?}"),
    };
    assert!(matches!(bob.recv().await, ServerMessage::PeerLeft { peer } if peer == alice_id));
    assert!(matches!(
        bob.recv().await,
        ServerMessage::PeerJoined { peer, .. } if peer.id == new_id && peer.name == "Alice"
    ));
    expect_seat_taken(&mut thief).await;
    bob.signal(new_id, offer("for alice again")).await;
    assert!(matches!(alice.recv().await, ServerMessage::Signal { .. }));
    let metrics = get(addr, "/metrics").await.1;
    assert!(
        metrics.contains("tandem_closed_connections_total{reason=\"seat_taken\"} 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_token_is_refused_after_leave_and_outlives_its_seat_by_little_across_a_restart() {
    // Pings every 50 ms: a fresh token every 600 ms, tokens live 300 ms + 1.2 s.
    let config = || config_with(|c| c.connections.heartbeat_interval = Duration::from_millis(50));
    let server = TestServer::start(config()).await;
    let mut alice = Client::connect(server.addr).await;
    let (_, _, token) = alice.join_with_token("r", "Alice").await;
    // A connected client is sent fresh tokens.
    let fresh = loop {
        if let ServerMessage::Token { token } = alice.recv().await {
            break token;
        }
    };
    alice.send(json!({"type": "leave"})).await;
    alice.expect_silence().await;
    for token in [&token, &fresh] {
        let mut again = Client::connect(server.addr).await;
        again.send(json!({"type": "resume", "token": token})).await;
        again.expect_error(ErrorCode::ResumeExpired).await;
    }
    // After a restart the server cannot know the seat was given up; the token is refused
    // once its short life is over.
    server.shut_down().await;
    let server = TestServer::start(config()).await;
    tokio::time::sleep(Duration::from_millis(1_600)).await;
    let mut again = Client::connect(server.addr).await;
    again.send(json!({"type": "resume", "token": fresh})).await;
    again.expect_error(ErrorCode::ResumeExpired).await;
}

#[tokio::test]
async fn names_that_hide_what_they_are_are_refused() {
    let addr = TestServer::start(quick_config()).await.addr;
    let mut client = Client::connect(addr).await;
    for name in ["\u{202E}ecilA", "Al\u{200B}ice", "\u{2067}Bob"] {
        client
            .send(json!({"type": "join", "room": "r", "name": name}))
            .await;
        let message = client.expect_error(ErrorCode::BadName).await;
        assert!(message.contains("invisible"), "{message}");
    }
    // The socket stays usable, and a plain name is seated.
    client.join("r", "Alice").await;
}

#[tokio::test]
async fn a_second_alice_is_seated_as_alice_2_and_told_so() {
    let addr = TestServer::start(quick_config()).await.addr;
    let mut first = Client::connect(addr).await;
    let mut second = Client::connect(addr).await;
    first.join("r", "Alice").await;
    second
        .send(json!({"type": "join", "room": "r", "name": "alice"}))
        .await;
    match second.recv().await {
        ServerMessage::Joined { name, peers, .. } => {
            assert_eq!(name, "alice (2)");
            assert_eq!(peers[0].name, "Alice");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        first.recv().await,
        ServerMessage::PeerJoined { peer, .. } if peer.name == "alice (2)"
    ));
}

/// Waits until the server counts `n` open signaling sockets.
async fn open_sockets_are(addr: std::net::SocketAddr, n: usize) {
    let deadline = tokio::time::Instant::now() + REPLY_TIMEOUT;
    let line = format!("tandem_connections {n}\n");
    while !get(addr, "/metrics").await.1.contains(&line) {
        assert!(tokio::time::Instant::now() < deadline, "never {n} sockets");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_held_seat_counts_against_its_address_until_it_is_resumed() {
    let config = config_with(|c| {
        c.connections.max_connections_per_ip = 3;
        c.connections.resume_grace = Duration::from_secs(30);
    });
    let addr = TestServer::start(config).await.addr;
    let origin = format!("http://{addr}");
    let mut alice = Client::connect(addr).await;
    let mut bob = Client::connect(addr).await;
    let (_, _, token) = alice.join_with_token("r", "Alice").await;
    bob.join("r", "Bob").await;
    assert!(matches!(
        alice.recv().await,
        ServerMessage::PeerJoined { .. }
    ));
    // Alice's socket drops; her seat is held, and still counts for the address.
    alice.ws.close(None).await.unwrap();
    alice.closed().await;
    open_sockets_are(addr, 1).await;
    let mut alice = Client::connect_from(addr, &origin)
        .await
        .expect("third of three");
    assert_eq!(
        Client::connect_from(addr, &origin).await.err(),
        Some(429),
        "Bob, Alice's held seat and her new socket fill the address's three"
    );
    // Taking the seat back gives the held seat's place back.
    assert!(matches!(
        alice.resume(&token).await,
        ServerMessage::Resumed { .. }
    ));
    let mut dave = Client::connect_from(addr, &origin)
        .await
        .expect("a place again");
    dave.expect_silence().await;
    bob.expect_silence().await;
}

/// Opens a signaling socket as a page behind a proxy that says it came from `from`.
async fn connect_forwarded_for(addr: std::net::SocketAddr, from: &str) -> Result<Client, u16> {
    Client::connect_with(addr, &[("x-forwarded-for", from)]).await
}

#[tokio::test]
async fn ipv6_addresses_of_one_slash_64_share_one_allowance() {
    let config = config_with(|c| {
        c.connections.max_connections_per_ip = 2;
        c.connections.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    });
    let addr = TestServer::start(config).await.addr;
    let _a = connect_forwarded_for(addr, "2001:db8:1:2::1")
        .await
        .unwrap();
    let _b = connect_forwarded_for(addr, "2001:db8:1:2:abcd::9")
        .await
        .unwrap();
    assert_eq!(
        connect_forwarded_for(addr, "2001:db8:1:2::3").await.err(),
        Some(429)
    );
    assert!(connect_forwarded_for(addr, "2001:db8:1:3::1").await.is_ok());
}
