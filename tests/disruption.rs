//! Issue 21: a room link is not a licence to disrupt. Each finding, over real sockets
//! against the real server: nobody is removed for what others sent, a seat has one socket,
//! names are what they look like.

mod common;

use common::*;
use serde_json::json;
use std::time::Duration;
use tandem::protocol::signaling::{ErrorCode, ServerMessage, Signal};

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
