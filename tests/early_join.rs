//! Issue 35, item 8: the early-join script a call page carries (`src/early_join.js`), run
//! in node as the page runs it, against the real server: it takes the page's seat and keeps
//! what the server says, joins on the card's Join now with the name trimmed, and leaves
//! alone a page whose app is there or whose tab holds a seat from before.

mod common;

use common::*;
use serde_json::Value;
use tandem::early_media::{socket_script, EarlyJoin};
use tandem::protocol::signaling::ServerMessage;

/// What the page kept from the server (None: it opened no socket), and the name it
/// joined as.
type Kept = (Option<Vec<ServerMessage>>, Option<String>);

/// Runs the script `socket_script` writes for `when` in `room`, in `scenario` (see
/// tests/early_join.mjs), while the server goes on serving.
async fn run_in_node(
    addr: std::net::SocketAddr,
    when: EarlyJoin<'_>,
    room: &str,
    scenario: &'static str,
) -> Kept {
    let script = socket_script(when, room);
    tokio::task::spawn_blocking(move || node(addr, script, scenario))
        .await
        .expect("node was run")
}

fn node(addr: std::net::SocketAddr, script: String, scenario: &str) -> Kept {
    let dir = std::env::temp_dir().join(format!("tandem-early-join-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let file = dir.join(format!("{scenario}.js"));
    std::fs::write(&file, script).expect("the script written");
    let harness = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/early_join.mjs");
    let out = std::process::Command::new("node")
        .args(["--experimental-websocket", "--no-warnings", harness])
        .arg(&file)
        .arg(addr.to_string())
        .arg(scenario)
        .output()
        .expect("node runs (it comes with the project's setup)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).expect("the harness prints JSON");
    let kept = printed["kept"].as_array().map(|kept| {
        kept.iter()
            .map(|text| {
                serde_json::from_str(text.as_str().expect("a text frame"))
                    .expect("a server message")
            })
            .collect()
    });
    (kept, printed["name"].as_str().map(str::to_owned))
}

fn joined_as(kept: &[ServerMessage]) -> &str {
    match kept.first() {
        Some(ServerMessage::Joined { name, .. }) => name,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_call_page_takes_its_seat_before_its_app_and_gives_it_back_when_it_goes() {
    let addr = TestServer::start(quick_config()).await.addr;
    let (kept, name) = run_in_node(addr, EarlyJoin::AtOnce("Zoë"), "early", "at-once").await;
    let kept = kept.expect("a socket opened");
    assert_eq!(joined_as(&kept), "Zoë");
    assert_eq!(name.as_deref(), Some("Zoë"));
    // The page went (pagehide): `leave`, so the next person finds the room empty.
    let mut bob = Client::connect(addr).await;
    let (_, peers) = bob.join("early", "Bob").await;
    assert!(peers.is_empty(), "{peers:?}");
}

#[tokio::test]
async fn join_now_pressed_before_the_app_joins_with_the_name_typed_trimmed() {
    let addr = TestServer::start(quick_config()).await.addr;
    let (kept, name) = run_in_node(addr, EarlyJoin::OnJoinNow, "card", "join-now").await;
    assert_eq!(joined_as(&kept.expect("a socket opened")), "Zoë");
    assert_eq!(name.as_deref(), Some("Zoë"));
}

#[tokio::test]
async fn a_page_whose_app_is_there_or_whose_tab_holds_a_seat_is_left_to_the_app() {
    let addr = TestServer::start(quick_config()).await.addr;
    for scenario in ["hydrated", "kept-seat"] {
        let (kept, _) = run_in_node(addr, EarlyJoin::AtOnce("Zoë"), "left", scenario).await;
        assert_eq!(kept, None, "{scenario}");
    }
}
