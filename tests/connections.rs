//! Issue 21: connections are let go. Against the real binary, over real TCP: a connection
//! that never finishes its request is closed, a cap bounds how many are open, and calls
//! carry on meanwhile.

mod common;

use common::*;
use futures::SinkExt;
use std::time::Duration;
use tandem::protocol::signaling::ServerMessage;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// Whether the server closed `stream` (end of file, or a reset) within `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 512];
    let read = tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    });
    read.await.is_ok()
}

/// Alice and Bob still relay: a signal gets through, answered at once.
async fn still_relaying(
    alice: &mut Client,
    bob: &mut Client,
    bob_id: tandem::protocol::signaling::PeerId,
) {
    alice.signal(bob_id, offer("still here")).await;
    assert!(matches!(bob.recv().await, ServerMessage::Signal { .. }));
}

#[tokio::test]
async fn two_thousand_half_sent_requests_are_closed_within_fifteen_seconds_while_a_call_relays() {
    // The pair reads nothing while the test opens connections: a long heartbeat timeout
    // keeps them seated meanwhile.
    let server = Binary::start(&["--heartbeat-timeout", "60s"]);
    let addr = server.addr;
    let (mut alice, _, mut bob, bob_id) = pair(addr, "busy").await;
    let mut half_sent = Vec::new();
    for i in 0..2_000 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        half_sent.push((Instant::now(), stream));
        // Some connections that send nothing at all, too.
        if i % 10 == 0 {
            half_sent.push((Instant::now(), TcpStream::connect(addr).await.unwrap()));
        }
    }
    still_relaying(&mut alice, &mut bob, bob_id).await;
    for (sent, stream) in &mut half_sent {
        let left = (*sent + Duration::from_secs(15)).saturating_duration_since(Instant::now());
        assert!(
            closed_within(stream, left).await,
            "a half-sent request was held past 15 s"
        );
    }
    // The call was never touched: its sockets answer the heartbeat on their own.
    still_relaying(&mut alice, &mut bob, bob_id).await;
    // Each was counted, and nothing else was (the pair's sockets were answered).
    let metrics = get(addr, "/metrics").await.1;
    let timeouts = metrics
        .lines()
        .find_map(|line| {
            line.strip_prefix("tandem_closed_connections_total{reason=\"header_timeout\"} ")
        })
        .unwrap_or_else(|| panic!("no header timeouts in\n{metrics}"));
    assert_eq!(
        timeouts.trim().parse::<f64>().unwrap(),
        half_sent.len() as f64
    );
}

#[tokio::test]
async fn past_max_connections_new_ones_are_refused_at_once_and_a_seated_pair_still_relays() {
    let server = Binary::start(&["--max-connections", "10"]);
    let addr = server.addr;
    let (mut alice, _, mut bob, bob_id) = pair(addr, "capped").await;
    // Eight more idle connections fill the cap of ten.
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    // Give the server a moment to have accepted them all (the kernel accepts on its own).
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..3 {
        let mut refused = TcpStream::connect(addr).await.unwrap();
        let _ = refused
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await;
        assert!(
            closed_within(&mut refused, Duration::from_secs(1)).await,
            "a connection past the cap was served"
        );
    }
    still_relaying(&mut alice, &mut bob, bob_id).await;
    // Once some close, new ones are served again, and the refusals were counted.
    drop(idle);
    let deadline = Instant::now() + REPLY_TIMEOUT;
    let metrics = loop {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer).await;
        if answer.starts_with("HTTP/1.1 200") {
            break answer;
        }
        assert!(Instant::now() < deadline, "never served again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let refused: u64 = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix("tandem_closed_connections_total{reason=\"max_connections\"} ")
        })
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(refused >= 3, "{metrics}");
}

#[tokio::test]
async fn an_oversized_request_head_is_refused_and_the_connection_closed() {
    let server = Binary::start(&[]);
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let cookie = "c".repeat(20 * 1024);
    let request = format!("GET / HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\n\r\n");
    let _ = stream.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(REPLY_TIMEOUT, stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
}

#[tokio::test]
async fn an_oversized_request_body_is_refused_before_it_is_read() {
    let server = Binary::start(&[]);
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let request =
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\nConnection: close\r\n\r\n";
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(REPLY_TIMEOUT, stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

#[tokio::test]
async fn a_one_mebibyte_frame_is_answered_with_1009_every_time() {
    let server = Binary::start(&[]);
    let frame = "x".repeat(1 << 20);
    for run in 0..50 {
        let mut client = Client::connect(server.addr).await;
        // The server refuses the frame from its header, while the rest is still on its way:
        // it must read what is left before it closes, or the client gets a reset instead.
        let _ = client.ws.send(Message::text(frame.clone())).await;
        assert_eq!(client.closed().await, Some(1009), "run {run}");
    }
}

/// A seat grace far longer than a reply may take: a seat held for it shows as silence.
fn long_grace() -> tandem::server::config::Config {
    config_with(|c| c.connections.resume_grace = Duration::from_secs(60))
}

/// Bob seated in `room`, and a socket opened as a page's script opens it (`?early=1`),
/// not joined yet, on a server that holds dropped seats for a long grace.
async fn bob_and_an_early_socket(room: &str) -> (Client, Client) {
    let addr = TestServer::start(long_grace()).await.addr;
    let mut bob = Client::connect(addr).await;
    bob.join(room, "Bob").await;
    let early = Client::connect_to(addr, &format!("/ws?early=1&room={room}")).await;
    (bob, early)
}

#[tokio::test]
async fn a_seat_taken_by_a_pages_script_is_freed_as_soon_as_its_socket_drops() {
    let (mut bob, mut early) = bob_and_an_early_socket("early-room").await;
    let (alice, _) = early.join("early-room", "Alice").await;
    assert!(matches!(bob.recv().await, ServerMessage::PeerJoined { .. }));
    // The page closed before its app came: nobody can ask for the seat back.
    drop(early);
    match bob.recv().await {
        ServerMessage::PeerLeft { peer } => assert_eq!(peer, alice),
        other => panic!("expected peer_left, got {other:?}"),
    }
}

#[tokio::test]
async fn once_the_app_has_spoken_on_an_early_socket_its_seat_is_held_like_any_other() {
    let (mut bob, mut early) = bob_and_an_early_socket("adopted-room").await;
    early.join("adopted-room", "Alice").await;
    assert!(matches!(bob.recv().await, ServerMessage::PeerJoined { .. }));
    // The app has taken the socket over: its heartbeat.
    early.expect_silence().await;
    drop(early);
    // Held for a resume (a reload): Bob is told nothing yet.
    bob.expect_silence().await;
}
