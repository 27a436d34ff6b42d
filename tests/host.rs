//! Issue 22: the people in a call decide who is in it. The host and their commands, over
//! real sockets against the real server.

mod common;

use common::*;
use serde_json::json;
use tandem::protocol::signaling::{ErrorCode, PeerId, ServerMessage, REMOVED_CLOSE_CODE};

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
