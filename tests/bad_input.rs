//! The bad-input corpus: every kind of wrong message a client can send, over real
//! WebSockets, each with the typed error or close code `docs/protocol.md` documents.
//! A normal call in another room relays a signal after every case, so a case that broke
//! the server for others fails here too.

mod common;

use common::*;
use futures::SinkExt;
use serde_json::json;
use tandem::protocol::signaling::{
    ErrorCode, PeerId, ServerMessage, MAX_NAME_CHARS, MAX_ROOM_CHARS,
};
use tokio_tungstenite::tungstenite::Message;

/// What a case's client has done before it sends the bad input.
#[derive(Clone, Copy)]
enum Before {
    Nothing,
    /// Joined a room of its own.
    Joined,
}

enum Expect {
    Error(ErrorCode),
    Close(u16),
}

struct Case {
    name: &'static str,
    before: Before,
    frame: Message,
    expect: Expect,
}

fn text(s: impl Into<String>) -> Message {
    Message::text(s.into())
}

/// A text frame with arbitrary bytes, which `Message::text` would not allow.
fn raw_text(bytes: &[u8]) -> Message {
    use tokio_tungstenite::tungstenite::protocol::frame::{
        coding::{Data, OpCode},
        Frame,
    };
    Message::Frame(Frame::message(
        bytes.to_vec(),
        OpCode::Data(Data::Text),
        true,
    ))
}

fn join(room: &str, name: &str) -> Message {
    text(json!({"type": "join", "room": room, "name": name}).to_string())
}

fn signal_to(to: serde_json::Value) -> Message {
    text(json!({"type": "signal", "to": to, "signal": {"kind": "offer", "sdp": "v=0"}}).to_string())
}

/// `foreign`: someone in another room; `limit`: the message size limit.
fn corpus(foreign: PeerId, limit: usize) -> Vec<Case> {
    use Before::*;
    use ErrorCode::*;
    let case = |name, before, frame, expect| Case {
        name,
        before,
        frame,
        expect,
    };
    let bad = |name, before, frame| case(name, before, frame, Expect::Error(BadMessage));
    let room_err = |name, room: String| {
        case(
            name,
            Nothing,
            join(&room, "Ann"),
            Expect::Error(InvalidRoom),
        )
    };
    let name_err = |name, person: String| {
        case(
            name,
            Nothing,
            join("room", &person),
            Expect::Error(InvalidName),
        )
    };
    let hidden_name =
        |name, person: String| case(name, Nothing, join("room", &person), Expect::Error(BadName));
    let offer = json!({"kind": "offer", "sdp": "v=0"});
    vec![
        // Malformed JSON
        bad("empty text frame", Nothing, text("")),
        bad("lone brace", Nothing, text("{")),
        bad("not JSON at all", Nothing, text("hello server")),
        bad("JSON array", Nothing, text("[]")),
        bad("JSON null", Nothing, text("null")),
        bad("bare number", Nothing, text("42")),
        bad("bare string", Nothing, text("\"join\"")),
        bad(
            "truncated object",
            Nothing,
            text(r#"{"type":"join","room":"r","name":"n""#),
        ),
        bad("trailing garbage", Nothing, text(r#"{"type":"ping"}}"#)),
        bad(
            "nested 10000 deep",
            Nothing,
            text("[".repeat(10_000) + &"]".repeat(10_000)),
        ),
        bad(
            "duplicate field",
            Nothing,
            text(r#"{"type":"join","room":"a","room":"b","name":"n"}"#),
        ),
        // Wrong field types
        bad(
            "room is a number",
            Nothing,
            text(r#"{"type":"join","room":5,"name":"n"}"#),
        ),
        bad(
            "name is null",
            Nothing,
            text(r#"{"type":"join","room":"r","name":null}"#),
        ),
        bad("type is a number", Nothing, text(r#"{"type":5}"#)),
        bad(
            "token is a number",
            Nothing,
            text(r#"{"type":"resume","token":7}"#),
        ),
        bad("peer id is a string", Joined, signal_to(json!("abc"))),
        bad("peer id is negative", Joined, signal_to(json!(-1))),
        bad("peer id is fractional", Joined, signal_to(json!(1.5))),
        bad(
            "peer id beyond u64",
            Joined,
            text(r#"{"type":"signal","to":1e400,"signal":{"kind":"offer","sdp":""}}"#),
        ),
        bad(
            "peer id of 2^64",
            Joined,
            text(
                r#"{"type":"signal","to":18446744073709551616,"signal":{"kind":"offer","sdp":""}}"#,
            ),
        ),
        bad(
            "signal is a string",
            Joined,
            text(json!({"type":"signal","to":1,"signal":"offer"}).to_string()),
        ),
        bad(
            "sdp is a number",
            Joined,
            text(json!({"type":"signal","to":1,"signal":{"kind":"offer","sdp":1}}).to_string()),
        ),
        // Missing fields
        bad(
            "join without name",
            Nothing,
            text(r#"{"type":"join","room":"r"}"#),
        ),
        bad(
            "join without room",
            Nothing,
            text(r#"{"type":"join","name":"n"}"#),
        ),
        bad("no type", Nothing, text(r#"{"room":"r","name":"n"}"#)),
        bad(
            "signal without to",
            Joined,
            text(json!({"type":"signal","signal":offer}).to_string()),
        ),
        bad(
            "signal without signal",
            Joined,
            text(r#"{"type":"signal","to":1}"#),
        ),
        bad(
            "resume without token",
            Nothing,
            text(r#"{"type":"resume"}"#),
        ),
        bad(
            "offer without sdp",
            Joined,
            text(json!({"type":"signal","to":1,"signal":{"kind":"offer"}}).to_string()),
        ),
        // Unknown types
        bad("unknown type", Nothing, text(r#"{"type":"list_rooms"}"#)),
        bad(
            "type in capitals",
            Nothing,
            text(r#"{"type":"JOIN","room":"r","name":"n"}"#),
        ),
        bad(
            "unknown signal kind",
            Joined,
            text(json!({"type":"signal","to":1,"signal":{"kind":"bye"}}).to_string()),
        ),
        // Binary frames
        bad(
            "binary garbage",
            Nothing,
            Message::binary(vec![0, 159, 146, 150]),
        ),
        bad(
            "binary JSON",
            Nothing,
            Message::binary(br#"{"type":"ping"}"#.to_vec()),
        ),
        // Room keys
        room_err("empty room", String::new()),
        room_err("blank room", "   ".into()),
        room_err("overlong room", "r".repeat(MAX_ROOM_CHARS + 1)),
        room_err("room with a slash", "a/b".into()),
        room_err("room with NUL", "a\u{0}b".into()),
        room_err("room with an emoji", "call-🎉".into()),
        room_err("room with a space inside", "my room".into()),
        // Names
        name_err("empty name", String::new()),
        name_err("blank name", "   ".into()),
        name_err("overlong name", "n".repeat(MAX_NAME_CHARS + 1)),
        hidden_name("name with a newline", "Ann\nBob".into()),
        hidden_name("name with a bell", "\u{7}".into()),
        hidden_name("name with an escape sequence", "\u{1b}[31mred".into()),
        // Signals and order
        case(
            "signal to an unknown peer",
            Joined,
            signal_to(json!(999_999_999u64)),
            Expect::Error(UnknownPeer),
        ),
        case(
            "signal to a peer in another room",
            Joined,
            signal_to(json!(foreign)),
            Expect::Error(UnknownPeer),
        ),
        // (The loop below puts the client's own id in.)
        case(
            "signal to oneself",
            Joined,
            signal_to(json!(0)),
            Expect::Error(UnknownPeer),
        ),
        case(
            "signal before join",
            Nothing,
            signal_to(json!(foreign)),
            Expect::Error(NotJoined),
        ),
        case(
            "leave before join",
            Nothing,
            text(r#"{"type":"leave"}"#),
            Expect::Error(NotJoined),
        ),
        case(
            "remove before join",
            Nothing,
            text(format!(r#"{{"type":"remove","peer":{foreign}}}"#)),
            Expect::Error(NotJoined),
        ),
        case(
            "a host command about someone in another room",
            Joined,
            text(format!(r#"{{"type":"make_host","peer":{foreign}}}"#)),
            Expect::Error(UnknownPeer),
        ),
        bad(
            "remove without a peer",
            Joined,
            text(r#"{"type":"remove"}"#),
        ),
        bad(
            "ask_to_mute with a name for a peer",
            Joined,
            text(r#"{"type":"ask_to_mute","peer":"Bob"}"#),
        ),
        case(
            "join twice",
            Joined,
            join("elsewhere", "Ann"),
            Expect::Error(AlreadyJoined),
        ),
        case(
            "resume while joined",
            Joined,
            text(r#"{"type":"resume","token":"x.y"}"#),
            Expect::Error(AlreadyJoined),
        ),
        case(
            "forged token",
            Nothing,
            text(r#"{"type":"resume","token":"eyJyb29tIjoiciJ9.c2ln"}"#),
            Expect::Error(InvalidToken),
        ),
        case(
            "empty token",
            Nothing,
            text(r#"{"type":"resume","token":""}"#),
            Expect::Error(InvalidToken),
        ),
        case(
            "joining the busy call",
            Nothing,
            join("normal-call", "Mallory"),
            Expect::Error(RoomFull),
        ),
        // Oversized frames close the socket: 1009
        case(
            "text one byte over",
            Nothing,
            text("x".repeat(limit + 1)),
            Expect::Close(1009),
        ),
        case(
            "text of 1 MiB",
            Joined,
            text("x".repeat(1 << 20)),
            Expect::Close(1009),
        ),
        case(
            "binary one byte over",
            Nothing,
            Message::binary(vec![b'x'; limit + 1]),
            Expect::Close(1009),
        ),
        // Frames the WebSocket layer itself refuses
        case(
            "text frame that is not UTF-8",
            Nothing,
            raw_text(&[b'{', 0xff, 0xfe, b'}']),
            Expect::Close(1007),
        ),
    ]
}

#[tokio::test]
async fn every_bad_input_gets_its_typed_answer_and_the_call_next_door_goes_on() {
    let config = config_with(|c| {
        // The corpus sends quickly; the rate limit has its own test below.
        c.connections.rate_limit = 10_000;
        c.connections.rate_burst = 10_000;
        c.connections.max_connections_per_ip = 1_000;
        // The call next door is a call of two, so that joining it is refused as full.
        c.calls.room_capacity = 2;
    });
    let limit = config.connections.max_message_bytes;
    let addr = TestServer::start(config).await.addr;
    let (mut alice, alice_id, mut bob, bob_id) = pair(addr, "normal-call").await;

    let cases = corpus(alice_id, limit);
    assert!(cases.len() >= 40, "{} cases", cases.len());

    for (i, case) in cases.into_iter().enumerate() {
        let mut client = Client::connect(addr).await;
        let own = match case.before {
            Before::Nothing => None,
            Before::Joined => Some(client.join(&format!("case-{i}"), "Ann").await.0),
        };
        // "Signal to oneself" needs this client's own id.
        let frame = match (case.name, own) {
            ("signal to oneself", Some(own)) => signal_to(json!(own)),
            _ => case.frame,
        };
        // The server may close before a huge frame is fully written; that is fine.
        let _ = client.ws.send(frame).await;
        match case.expect {
            Expect::Error(code) => {
                let message = client.expect_error(code).await;
                assert!(!message.is_empty(), "{}: the error says why", case.name);
                // The connection is still usable.
                client.send(json!({"type": "ping"})).await;
                assert_eq!(client.recv().await, ServerMessage::Pong, "{}", case.name);
            }
            Expect::Close(code) => {
                assert_eq!(client.closed().await, Some(code), "{}", case.name);
            }
        }
        // The call in the other room is untouched.
        alice
            .signal(bob_id, offer(&format!("after {}", case.name)))
            .await;
        match bob.recv().await {
            ServerMessage::Signal { from, .. } => assert_eq!(from, alice_id, "{}", case.name),
            other => panic!("{}: {other:?}", case.name),
        }
    }
}

#[tokio::test]
async fn a_flood_is_rate_limited_then_closed_and_others_are_untouched() {
    let addr = TestServer::start(config_with(|c| {
        c.connections.rate_limit = 5;
        c.connections.rate_burst = 10;
    }))
    .await
    .addr;
    let (mut alice, alice_id, mut bob, bob_id) = pair(addr, "calm").await;
    let mut flood = Client::connect(addr).await;
    let (flood_id, _) = flood.join("noisy", "Flood").await;
    for _ in 0..100 {
        if flood.ws.send(signal_to(json!(flood_id))).await.is_err() {
            break;
        }
    }
    let mut limited = 0;
    let code = loop {
        match tokio::time::timeout(REPLY_TIMEOUT, futures::StreamExt::next(&mut flood.ws))
            .await
            .expect("the server answers or closes")
        {
            Some(Ok(Message::Text(text))) => {
                if text.contains("rate_limited") {
                    limited += 1;
                }
            }
            Some(Ok(Message::Close(frame))) => break frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            None | Some(Err(_)) => break None,
        }
    };
    assert!(
        limited >= 1,
        "refused with rate_limited before being closed"
    );
    assert_eq!(code, Some(1008));
    alice.signal(bob_id, offer("still here")).await;
    assert!(matches!(bob.recv().await, ServerMessage::Signal { from, .. } if from == alice_id));
    // A burst within the limit is fine.
    let mut calm = Client::connect(addr).await;
    for _ in 0..10 {
        calm.send(json!({"type": "ping"})).await;
    }
    for _ in 0..10 {
        assert_eq!(calm.recv().await, ServerMessage::Pong);
    }
}
