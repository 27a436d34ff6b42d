//! The signaling server over real WebSockets: the real router on a random loopback port,
//! driven by real WebSocket clients.

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;
use tandem::protocol::{ErrorCode, PeerId, PeerInfo, ServerMessage, Signal};
use tandem::server::config::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Long enough for any loopback reply; only reached when a test is about to fail.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a client must stay silent to count as "received nothing".
const QUIET: Duration = Duration::from_millis(300);

async fn start_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let options = tandem::server::leptos_options().unwrap();
    tokio::spawn(async move {
        tandem::server::serve(
            listener,
            &Config::default(),
            options,
            std::future::pending(),
        )
        .await
        .unwrap();
    });
    addr
}

struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
            .await
            .expect("websocket upgrade");
        Client { ws }
    }

    async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.unwrap();
    }

    async fn send(&mut self, message: Value) {
        self.send_text(&message.to_string()).await;
    }

    /// The next server message; fails the test after [`REPLY_TIMEOUT`].
    async fn recv(&mut self) -> ServerMessage {
        loop {
            let frame = tokio::time::timeout(REPLY_TIMEOUT, self.ws.next())
                .await
                .expect("no reply from the server")
                .expect("socket closed")
                .expect("socket error");
            if let Message::Text(text) = frame {
                return serde_json::from_str(&text).expect("server sent valid protocol");
            }
        }
    }

    async fn expect_error(&mut self, code: ErrorCode) -> String {
        match self.recv().await {
            ServerMessage::Error { code: got, message } if got == code => message,
            other => panic!("expected {code:?}, got {other:?}"),
        }
    }

    async fn expect_silence(&mut self) {
        if let Ok(Some(frame)) = tokio::time::timeout(QUIET, self.ws.next()).await {
            panic!("expected nothing, got {frame:?}");
        }
    }

    /// Joins and returns (own id, peers already there).
    async fn join(&mut self, room: &str, name: &str) -> (PeerId, Vec<PeerInfo>) {
        self.send(json!({"type": "join", "room": room, "name": name}))
            .await;
        match self.recv().await {
            ServerMessage::Joined { you, peers, .. } => (you, peers),
            other => panic!("expected joined, got {other:?}"),
        }
    }

    async fn signal(&mut self, to: PeerId, signal: Signal) {
        self.send(json!({"type": "signal", "to": to, "signal": signal}))
            .await;
    }
}

fn offer(sdp: &str) -> Signal {
    Signal::Offer { sdp: sdp.into() }
}

/// Two clients in `room`: (first, its id, second, its id), with the join news consumed.
async fn pair(addr: SocketAddr, room: &str) -> (Client, PeerId, Client, PeerId) {
    let mut a = Client::connect(addr).await;
    let mut b = Client::connect(addr).await;
    let (a_id, _) = a.join(room, "Alice").await;
    let (b_id, _) = b.join(room, "Bob").await;
    assert!(matches!(a.recv().await, ServerMessage::PeerJoined { .. }));
    (a, a_id, b, b_id)
}

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
        ServerMessage::PeerJoined { peer } => {
            assert_eq!((peer.id, peer.name.as_str()), (bob_id, "Bob"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn joined_carries_the_configured_ice_servers() {
    let addr = start_server().await;
    let mut alice = Client::connect(addr).await;
    alice
        .send(json!({"type": "join", "room": "ice", "name": "Alice"}))
        .await;
    match alice.recv().await {
        ServerMessage::Joined { ice_servers, .. } => assert!(ice_servers.is_empty()),
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
async fn a_third_person_is_refused_and_can_go_elsewhere() {
    let addr = start_server().await;
    let (_a, _, _b, _) = pair(addr, "full").await;
    let mut carol = Client::connect(addr).await;
    carol
        .send(json!({"type": "join", "room": "full", "name": "Carol"}))
        .await;
    carol.expect_error(ErrorCode::RoomFull).await;
    let (_, peers) = carol.join("not-full", "Carol").await;
    assert!(peers.is_empty());
}

#[tokio::test]
async fn simultaneous_joins_admit_exactly_two() {
    let addr = start_server().await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(Client::connect(addr).await);
    }
    let join = json!({"type": "join", "room": "race", "name": "Racer"}).to_string();
    futures::future::join_all(clients.iter_mut().map(|c| c.send_text(&join))).await;
    let mut joined = 0;
    let mut full = 0;
    for client in &mut clients {
        match client.recv().await {
            ServerMessage::Joined { .. } => joined += 1,
            ServerMessage::Error {
                code: ErrorCode::RoomFull,
                ..
            } => full += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((joined, full), (2, 1));
}

#[tokio::test]
async fn leaving_tells_the_other_and_frees_the_seat() {
    let addr = start_server().await;
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
        ServerMessage::PeerJoined { peer } => assert_eq!(peer.id, carol_id),
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
    let (mut a, _, b, b_id) = pair(addr, "drop").await;
    drop(b);
    assert_eq!(a.recv().await, ServerMessage::PeerLeft { peer: b_id });
    a.ws.close(None).await.unwrap();
    drop(a);
    // Both seats are free again: two newcomers fit, and the first finds the room empty.
    let mut x = Client::connect(addr).await;
    let mut y = Client::connect(addr).await;
    let mut empty_on_arrival = false;
    for _ in 0..50 {
        let (_, peers) = x.join("drop", "X").await;
        if peers.is_empty() {
            empty_on_arrival = true;
            break;
        }
        // The server may not have seen the close yet; try again.
        x.send(json!({"type": "leave"})).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(empty_on_arrival, "the room should have been removed");
    let (_, peers) = y.join("drop", "Y").await;
    assert_eq!(peers.len(), 1);
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
        ("ok", "bell\u{7}", ErrorCode::InvalidName),
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
    let huge = "x".repeat(tandem::server::signaling::MAX_MESSAGE_BYTES + 1);
    // The server may close before the whole frame is written, so a send error is fine too.
    let _ = big
        .ws
        .send(Message::text(format!(
            r#"{{"type":"join","room":"{huge}"}}"#
        )))
        .await;
    let closed = tokio::time::timeout(REPLY_TIMEOUT, async {
        loop {
            match big.ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the server should close an oversized sender"
    );
    b.signal(a_id, offer("unaffected")).await;
    assert!(matches!(a.recv().await, ServerMessage::Signal { .. }));
}

/// A minimal HTTP GET, enough to see what the server renders.
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(REPLY_TIMEOUT, stream.read_to_string(&mut response))
        .await
        .unwrap()
        .unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap();
    (status, response)
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
    let (status, call) = get(addr, "/call/Zo%C3%AB%20B/room1").await;
    assert_eq!(status, 200);
    assert!(call.contains("Room room1"), "{call}");
    assert!(call.contains("You (Zoë B)"), "names are decoded: {call}");
    assert!(call.contains(r#"aria-live="polite""#));
    let (_, bad) = get(addr, "/call/alice/bad%20room").await;
    assert!(bad.contains("This call link is not valid"), "{bad}");
}
