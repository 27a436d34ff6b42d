//! Issue 22: the people in a call decide who is in it. The host and their commands, over
//! real sockets against the real server.

mod common;

use common::*;
use serde_json::json;
use std::time::Duration;
use tandem::protocol::signaling::{ErrorCode, PeerId, ServerMessage, REMOVED_CLOSE_CODE};
use tandem::server::room::door::MAX_KNOCKS;

/// Three people in `room`, seated in order: Alice (the host), Bob, Carol; each has read
/// the news of those after them.
async fn three(addr: std::net::SocketAddr, room: &str) -> [(Client, PeerId, String); 3] {
    let mut seated: Vec<(Client, PeerId, String)> = Vec::new();
    for name in ["Alice", "Bob", "Carol"] {
        let mut client = Client::connect(addr).await;
        client
            .send(json!({"type": "join", "room": room, "name": name}))
            .await;
        let (id, token) = match client.recv().await {
            ServerMessage::Joined {
                you, token, host, ..
            } => {
                let first = seated.first().map_or(you, |(_, id, _)| *id);
                assert_eq!(host, Some(first), "{name} is told the first one hosts");
                (you, token)
            }
            other => panic!("{other:?}"),
        };
        for (earlier, _, _) in &mut seated {
            assert!(
                matches!(earlier.recv().await, ServerMessage::PeerJoined { peer, .. } if peer.id == id)
            );
        }
        seated.push((client, id, token));
    }
    seated.try_into().map_err(|_| ()).expect("three seated")
}

#[tokio::test]
async fn only_the_host_can_hand_over_remove_or_ask_to_mute_and_only_about_someone_there() {
    let addr = TestServer::start(quick_config()).await.addr;
    let [(mut alice, alice_id, _), (mut bob, bob_id, _), (mut carol, carol_id, _)] =
        three(addr, "r").await;
    for kind in ["make_host", "remove", "ask_to_mute"] {
        bob.send(json!({"type": kind, "peer": carol_id})).await;
        bob.expect_error(ErrorCode::NotHost).await;
        alice.send(json!({"type": kind, "peer": alice_id})).await;
        alice.expect_error(ErrorCode::UnknownPeer).await;
        alice.send(json!({"type": kind, "peer": 424242})).await;
        alice.expect_error(ErrorCode::UnknownPeer).await;
        let mut stranger = Client::connect(addr).await;
        stranger.send(json!({"type": kind, "peer": bob_id})).await;
        stranger.expect_error(ErrorCode::NotJoined).await;
    }
    carol.expect_silence().await;
    // Asked to mute: Bob alone is told, by whom.
    alice
        .send(json!({"type": "ask_to_mute", "peer": bob_id}))
        .await;
    assert_eq!(
        bob.recv().await,
        ServerMessage::MuteRequest { by: alice_id }
    );
    alice.expect_silence().await;
    carol.expect_silence().await;
    // Handed over: everyone is told, and the old host's commands are refused from now.
    alice
        .send(json!({"type": "make_host", "peer": bob_id}))
        .await;
    for client in [&mut alice, &mut bob, &mut carol] {
        assert_eq!(client.recv().await, ServerMessage::Host { peer: bob_id });
    }
    alice
        .send(json!({"type": "remove", "peer": carol_id}))
        .await;
    alice.expect_error(ErrorCode::NotHost).await;
    let metrics = get(addr, "/metrics").await.1;
    assert!(
        metrics.contains("tandem_errors_total{code=\"not_host\"} 4"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_removed_person_is_told_by_whom_closed_with_4002_and_cannot_resume() {
    let addr = TestServer::start(quick_config()).await.addr;
    let [(mut alice, alice_id, _), (mut bob, bob_id, bob_token), (mut carol, carol_id, _)] =
        three(addr, "r").await;
    alice.send(json!({"type": "remove", "peer": bob_id})).await;
    assert_eq!(bob.recv().await, ServerMessage::Removed { by: alice_id });
    assert_eq!(bob.closed().await, Some(REMOVED_CLOSE_CODE));
    for client in [&mut alice, &mut carol] {
        assert_eq!(
            client.recv().await,
            ServerMessage::PeerLeft { peer: bob_id }
        );
    }
    // The seat and its token are gone.
    let mut again = Client::connect(addr).await;
    again
        .send(json!({"type": "resume", "token": bob_token}))
        .await;
    again.expect_error(ErrorCode::ResumeExpired).await;
    // The others' calls carry on.
    alice.signal(carol_id, offer("still here")).await;
    assert!(matches!(carol.recv().await, ServerMessage::Signal { from, .. } if from == alice_id));
    let metrics = get(addr, "/metrics").await.1;
    assert!(
        metrics.contains("tandem_closed_connections_total{reason=\"removed\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn when_the_host_leaves_the_one_there_longest_hosts_and_a_host_who_resumes_still_does() {
    let addr = TestServer::start(quick_config()).await.addr;
    let [(mut alice, alice_id, _), (bob, bob_id, bob_token), (mut carol, _, _)] =
        three(addr, "r").await;
    // Bob's socket drops and he resumes: the others never notice, and nothing changes.
    drop(bob);
    let mut bob = Client::connect(addr).await;
    let resumed = |message| match message {
        ServerMessage::Resumed { host, token, .. } => (host, token),
        other => panic!("expected resumed, got {other:?}"),
    };
    let (host, bob_token) = resumed(bob.resume(&bob_token).await);
    assert_eq!(host, Some(alice_id));
    // Alice hangs up: Bob has been there longest.
    alice.send(json!({"type": "leave"})).await;
    for client in [&mut bob, &mut carol] {
        assert_eq!(
            client.recv().await,
            ServerMessage::PeerLeft { peer: alice_id }
        );
        assert_eq!(client.recv().await, ServerMessage::Host { peer: bob_id });
    }
    // Bob's socket drops while he hosts: his seat is held, and he hosts when he is back.
    drop(bob);
    let mut bob = Client::connect(addr).await;
    let (host, _) = resumed(bob.resume(&bob_token).await);
    assert_eq!(host, Some(bob_id));
    carol.expect_silence().await;
}

#[tokio::test]
async fn at_a_locked_room_the_host_admits_one_knock_and_denies_the_next() {
    let addr = TestServer::start(quick_config()).await.addr;
    let [(mut alice, alice_id, _), (mut bob, _, _), (mut carol, _, _)] = three(addr, "r").await;
    for kind in ["lock", "unlock"] {
        bob.send(json!({"type": kind})).await;
        bob.expect_error(ErrorCode::NotHost).await;
    }
    alice.send(json!({"type": "lock"})).await;
    for client in [&mut alice, &mut bob, &mut carol] {
        assert_eq!(client.recv().await, ServerMessage::Locked { locked: true });
    }
    // Dave waits, seen by nobody but the host; Bob cannot answer for her.
    let mut dave = Client::connect(addr).await;
    knock(&mut dave, "r", "Dave", "Alice").await;
    let knock_id = knock_heard(&mut alice, "Dave").await;
    bob.send(json!({"type": "admit", "knock": knock_id})).await;
    bob.expect_error(ErrorCode::NotHost).await;
    carol.expect_silence().await;
    // While waiting, Dave can do nothing in the room.
    dave.signal(alice_id, offer("let me in")).await;
    dave.expect_error(ErrorCode::NotJoined).await;
    alice.expect_silence().await;
    // Admitted: joined, and the others hear of him as of any newcomer.
    alice
        .send(json!({"type": "admit", "knock": knock_id}))
        .await;
    assert_eq!(
        alice.recv().await,
        ServerMessage::KnockEnded { knock: knock_id }
    );
    let dave_id = match dave.recv().await {
        ServerMessage::Joined {
            you, peers, locked, ..
        } => {
            assert!(locked);
            assert_eq!(peers.len(), 3);
            you
        }
        other => panic!("{other:?}"),
    };
    for client in [&mut alice, &mut bob, &mut carol] {
        assert!(
            matches!(client.recv().await, ServerMessage::PeerJoined { peer, .. } if peer.id == dave_id)
        );
    }
    // His socket holds the seat: he signals like anyone seated.
    dave.signal(alice_id, offer("in")).await;
    assert!(matches!(alice.recv().await, ServerMessage::Signal { from, .. } if from == dave_id));
    // Erin is turned away, and told by whom.
    let mut erin = Client::connect(addr).await;
    knock(&mut erin, "r", "Erin", "Alice").await;
    let knock_id = knock_heard(&mut alice, "Erin").await;
    alice.send(json!({"type": "deny", "knock": knock_id})).await;
    assert_eq!(
        alice.recv().await,
        ServerMessage::KnockEnded { knock: knock_id }
    );
    assert_eq!(
        erin.expect_error(ErrorCode::KnockDenied).await,
        "Alice did not let you in"
    );
    alice.send(json!({"type": "deny", "knock": knock_id})).await;
    alice.expect_error(ErrorCode::UnknownKnock).await;
    // Frank gives up (his socket closes): the host's prompt goes.
    let mut frank = Client::connect(addr).await;
    knock(&mut frank, "r", "Frank", "Alice").await;
    let knock_id = knock_heard(&mut alice, "Frank").await;
    drop(frank);
    assert_eq!(
        alice.recv().await,
        ServerMessage::KnockEnded { knock: knock_id }
    );
    // Unlocked, the link opens the room again.
    alice.send(json!({"type": "unlock"})).await;
    assert_eq!(alice.recv().await, ServerMessage::Locked { locked: false });
    let mut gus = Client::connect(addr).await;
    gus.join("r", "Gus").await;
}

/// Issue 35, item 4: a knock let in holds its seat from the moment the host admits it,
/// not from its connection's next message. Silent after `joined`, it is sent fresh tokens
/// as anyone seated is (before, its connection still took itself for waiting, and sent
/// none).
#[tokio::test]
async fn a_knock_let_in_holds_its_seat_before_it_says_another_word() {
    let config = config_with(|c| c.connections.heartbeat_interval = Duration::from_millis(20));
    let addr = TestServer::start(config).await.addr;
    let mut alice = Client::connect(addr).await;
    alice.join("r", "Alice").await;
    let mut dave = Client::connect(addr).await;
    let_in(&mut alice, &mut dave, "r", "Dave").await;
    let token = token_comes(&mut dave).await;
    // It resumes Dave's seat: the seat was his.
    drop(dave);
    let mut dave = Client::connect(addr).await;
    assert!(matches!(
        dave.resume(&token).await,
        ServerMessage::Resumed { .. }
    ));
}

#[tokio::test]
async fn twenty_simultaneous_knocks_fill_the_waiting_list_and_the_rest_are_told_it_is_locked() {
    let config = config_with(|c| {
        c.connections.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    });
    let addr = TestServer::start(config).await.addr;
    let mut alice = Client::connect(addr).await;
    alice.join("busy", "Alice").await;
    alice.send(json!({"type": "lock"})).await;
    assert_eq!(alice.recv().await, ServerMessage::Locked { locked: true });
    // Twenty people, each from an address of their own, knock at once.
    let knocks = (0..20).map(|i| async move {
        let from = format!("198.51.100.{i}");
        let mut client = Client::connect_with(addr, &[("x-forwarded-for", from.as_str())])
            .await
            .expect("upgraded");
        client
            .send(json!({"type": "join", "room": "busy", "name": format!("K{i}")}))
            .await;
        let answer = client.recv().await;
        (client, answer)
    });
    let answered = futures::future::join_all(knocks).await;
    let waiting = answered
        .iter()
        .filter(|(_, answer)| matches!(answer, ServerMessage::Waiting { .. }))
        .count();
    let refused = answered
        .iter()
        .filter(|(_, answer)| {
            matches!(
                answer,
                ServerMessage::Error {
                    code: ErrorCode::RoomLocked,
                    ..
                }
            )
        })
        .count();
    assert_eq!((waiting, refused), (MAX_KNOCKS, 20 - MAX_KNOCKS));
    for _ in 0..MAX_KNOCKS {
        assert!(matches!(alice.recv().await, ServerMessage::Knock { .. }));
    }
    alice.expect_silence().await;
    // From one address, at most two wait.
    let mut again = Client::connect(addr).await;
    again
        .send(json!({"type": "join", "room": "busy", "name": "More"}))
        .await;
    again.expect_error(ErrorCode::RoomLocked).await;
}
