//! The TURN relay built into the server (`turn_listen`), driven by a TURN client from the
//! same crate the relay uses, over real UDP and TCP sockets on loopback.

mod common;

use common::*;
use std::net::SocketAddr;
use stun::message::{Getter, Message, MessageType, Setter, CLASS_REQUEST, CLASS_SUCCESS_RESPONSE};
use tandem::server::config::Config;
use tandem::server::ice::rest_password;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use webrtc_util::Conn;

const SECRET: &str = "relay-test-secret-0123456789";

/// A server running the relay on a free port, with `change` made to its settings.
async fn relay_server(change: impl FnOnce(&mut Config)) -> TestServer {
    TestServer::start(config_with(|config| {
        config.relay.turn_listen = Some("127.0.0.1:0".parse().expect("an address"));
        config.relay.turn_relay_ports = tandem::server::config::PortRange {
            first: 42_000,
            last: 44_999,
        };
        config.relay.turn_allow_private_peers = true;
        config.ice.turn_secret = Some(SECRET.into());
        change(config);
    }))
    .await
}

/// Where the relay is, from the URLs a browser is given.
fn relay_address(urls: &[String]) -> SocketAddr {
    let url = &urls[0];
    let host_port = url
        .strip_prefix("turn:")
        .and_then(|rest| rest.split('?').next())
        .expect("turn:host:port?transport=…");
    host_port.parse().expect("an address")
}

/// A user name valid until `expiry` (unix seconds) and its password.
fn credentials(expiry: u64) -> (String, String) {
    let username = format!("{expiry}:7");
    let password = rest_password(SECRET.as_bytes(), &username);
    (username, password)
}

fn in_an_hour() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        + 3600
}

async fn recv_text(conn: &(impl Conn + ?Sized)) -> (String, SocketAddr) {
    let mut buf = [0u8; 1500];
    let (n, from) =
        tokio::time::timeout(std::time::Duration::from_secs(5), conn.recv_from(&mut buf))
            .await
            .expect("a packet within 5 s")
            .expect("a packet");
    (String::from_utf8_lossy(&buf[..n]).into_owned(), from)
}

#[tokio::test]
async fn browsers_are_told_the_relay_and_two_allocations_relay_to_each_other_and_are_counted() {
    let server = relay_server(|_| {}).await;
    let (urls, username, password) = turn_credentials(server.addr, "relay-room").await;
    let relay = relay_address(&urls);
    assert_eq!(
        urls,
        [
            format!("turn:{relay}?transport=udp"),
            format!("turn:{relay}?transport=tcp")
        ]
    );
    let alice = turn_client(relay, &username, &password).await;
    let bob = turn_client(relay, &username, &password).await;
    let alice_relayed = alice.allocate().await.expect("Alice's allocation");
    let bob_relayed = bob.allocate().await.expect("Bob's allocation");
    let (at_alice, at_bob) = (
        alice_relayed.local_addr().expect("relayed address"),
        bob_relayed.local_addr().expect("relayed address"),
    );
    assert_eq!(at_alice.ip(), relay.ip());
    assert!((42_000..=44_999).contains(&at_alice.port()), "{at_alice}");

    // Each lets the other in (a permission), then what one sends the other receives.
    bob_relayed
        .send_to(b"let Alice in", at_alice)
        .await
        .expect("sent");
    alice_relayed
        .send_to(b"hello Bob", at_bob)
        .await
        .expect("sent");
    assert_eq!(
        recv_text(&bob_relayed).await,
        ("hello Bob".to_owned(), at_alice)
    );
    bob_relayed
        .send_to(b"hello Alice", at_alice)
        .await
        .expect("sent");
    // Bob's first packet may reach Alice too: it waited at her relayed socket, which
    // checks permissions as it reads, until she had let Bob in.
    let mut heard = recv_text(&alice_relayed).await;
    if heard.0 == "let Alice in" {
        heard = recv_text(&alice_relayed).await;
    }
    assert_eq!(heard, ("hello Alice".to_owned(), at_bob));

    assert_eq!(metric_at(server.addr, "tandem_turn_allocations").await, 2.0);
    assert!(metric_at(server.addr, "tandem_turn_relayed_bytes_total").await >= 20.0);
    alice_relayed.close().await.expect("closed");
    bob_relayed.close().await.expect("closed");
    eventually("every allocation gone", || async {
        metric_at(server.addr, "tandem_turn_allocations").await == 0.0
    })
    .await;
}

#[tokio::test]
async fn an_expired_or_wrong_credential_is_refused() {
    let server = relay_server(|_| {}).await;
    let (urls, ..) = turn_credentials(server.addr, "relay-refusals").await;
    let relay = relay_address(&urls);

    let (expired, password) = credentials(1_000);
    let client = turn_client(relay, &expired, &password).await;
    assert!(client.allocate().await.is_err(), "an expired credential");

    let (username, _) = credentials(in_an_hour());
    let client = turn_client(relay, &username, "not-the-password").await;
    assert!(client.allocate().await.is_err(), "a wrong password");

    let client = turn_client(relay, "alice", "whatever").await;
    assert!(
        client.allocate().await.is_err(),
        "a name that is no credential"
    );

    assert_eq!(
        metric_at(
            server.addr,
            "tandem_turn_refusals_total{reason=\"expired\"}"
        )
        .await,
        1.0
    );
    assert!(
        metric_at(
            server.addr,
            "tandem_turn_refusals_total{reason=\"bad_credential\"}"
        )
        .await
            >= 3.0
    );
    assert_eq!(metric_at(server.addr, "tandem_turn_allocations").await, 0.0);
}

#[tokio::test]
async fn a_peer_on_loopback_is_refused_unless_private_peers_are_allowed() {
    let server = relay_server(|config| config.relay.turn_allow_private_peers = false).await;
    let (urls, username, password) = turn_credentials(server.addr, "relay-private").await;
    let client = turn_client(relay_address(&urls), &username, &password).await;
    let relayed = client.allocate().await.expect("an allocation");
    let target: SocketAddr = "127.0.0.1:9".parse().expect("an address");
    assert!(
        relayed
            .send_to(b"into the server's network", target)
            .await
            .is_err(),
        "the permission to a loopback peer is refused"
    );
    assert!(
        metric_at(
            server.addr,
            "tandem_turn_refusals_total{reason=\"private_peer\"}"
        )
        .await
            >= 1.0
    );
}

#[tokio::test]
async fn a_credential_holds_at_most_its_allocations_and_gets_them_back_as_they_end() {
    let server = relay_server(|config| config.relay.turn_max_allocations = 2).await;
    let (urls, username, password) = turn_credentials(server.addr, "relay-quota").await;
    let relay = relay_address(&urls);
    let mut held = Vec::new();
    for _ in 0..2 {
        let client = turn_client(relay, &username, &password).await;
        held.push(client.allocate().await.expect("within the quota"));
    }
    let third = turn_client(relay, &username, &password).await;
    let Err(refused) = third.allocate().await else {
        panic!("an allocation past the quota");
    };
    assert!(refused.to_string().contains("486"), "{refused}");
    assert_eq!(
        metric_at(
            server.addr,
            "tandem_turn_refusals_total{reason=\"allocation_quota\"}"
        )
        .await,
        1.0
    );
    // Another person's credential is not held back by this one's.
    let (other_urls, other_name, other_password) =
        turn_credentials(server.addr, "relay-quota").await;
    assert_ne!(other_name, username);
    let other = turn_client(relay_address(&other_urls), &other_name, &other_password).await;
    other.allocate().await.expect("another credential");

    held.pop().expect("one").close().await.expect("closed");
    eventually("the closed allocation gone", || async {
        metric_at(server.addr, "tandem_turn_allocations").await == 2.0
    })
    .await;
    let fourth = turn_client(relay, &username, &password).await;
    fourth.allocate().await.expect("a place freed");
}

/// One STUN request over `stream`, framed as TURN over TCP is, and its answer.
async fn exchange(stream: &mut tokio::net::TcpStream, setters: Vec<Box<dyn Setter>>) -> Message {
    let mut request = Message::new();
    request.build(&setters).expect("a request");
    stream.write_all(&request.raw).await.expect("written");
    let mut head = [0u8; 20];
    stream
        .read_exact(&mut head)
        .await
        .expect("an answer's header");
    let length = usize::from(u16::from_be_bytes([head[2], head[3]]));
    let mut raw = head.to_vec();
    raw.resize(20 + length, 0);
    stream
        .read_exact(&mut raw[20..])
        .await
        .expect("its attributes");
    let mut answer = Message::new();
    answer.unmarshal_binary(&raw).expect("a STUN answer");
    answer
}

#[tokio::test]
async fn the_relay_allocates_over_tcp_too() {
    use stun::agent::TransactionId;
    use stun::attributes::{ATTR_NONCE, ATTR_REALM, ATTR_USERNAME};
    use stun::integrity::MessageIntegrity;
    use stun::message::METHOD_ALLOCATE;
    use stun::textattrs::{Nonce, Realm, Username};
    use turn::proto::relayaddr::RelayedAddress;
    use turn::proto::reqtrans::RequestedTransport;
    use turn::proto::PROTO_UDP;

    let server = relay_server(|_| {}).await;
    let (urls, username, password) = turn_credentials(server.addr, "relay-tcp").await;
    assert!(urls[1].ends_with("?transport=tcp"));
    let mut stream = tokio::net::TcpStream::connect(relay_address(&urls))
        .await
        .expect("the relay listens on TCP");
    let allocate = || -> Vec<Box<dyn Setter>> {
        vec![
            Box::new(TransactionId::new()),
            Box::new(MessageType::new(METHOD_ALLOCATE, CLASS_REQUEST)),
            Box::new(RequestedTransport {
                protocol: PROTO_UDP,
            }),
        ]
    };
    // Unsigned: challenged with a nonce.
    let challenge = exchange(&mut stream, allocate()).await;
    let mut nonce = Nonce::new(ATTR_NONCE, String::new());
    nonce.get_from(&challenge).expect("a nonce");
    let realm = tandem::server::relay::REALM;
    let mut signed = allocate();
    signed.extend([
        Box::new(Username::new(ATTR_USERNAME, username.clone())) as Box<dyn Setter>,
        Box::new(Realm::new(ATTR_REALM, realm.to_owned())),
        Box::new(nonce),
        Box::new(MessageIntegrity::new_long_term_integrity(
            username,
            realm.to_owned(),
            password,
        )),
    ]);
    let answer = exchange(&mut stream, signed).await;
    assert_eq!(answer.typ.class, CLASS_SUCCESS_RESPONSE, "{answer}");
    let mut relayed = RelayedAddress::default();
    relayed.get_from(&answer).expect("a relayed address");
    assert!((42_000..=44_999).contains(&relayed.port));
    assert_eq!(metric_at(server.addr, "tandem_turn_allocations").await, 1.0);

    // What is not TURN closes the connection.
    stream
        .write_all(b"GET / HTTP/1.1\r\n\r\n")
        .await
        .expect("written");
    let mut rest = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut rest),
    )
    .await
    .expect("closed within 5 s");
    assert!(read.is_ok_and(|n| n == 0) || rest.is_empty());
}

#[tokio::test]
async fn past_its_bandwidth_a_credential_s_packets_are_dropped() {
    // 64 kbit/s: 8,000 bytes a second, and as many at once.
    let server = relay_server(|config| config.relay.turn_max_bitrate = 64_000).await;
    let (urls, alice_name, alice_password) = turn_credentials(server.addr, "relay-bandwidth").await;
    let (_, bob_name, bob_password) = turn_credentials(server.addr, "relay-bandwidth").await;
    let relay = relay_address(&urls);
    let alice = turn_client(relay, &alice_name, &alice_password).await;
    let bob = turn_client(relay, &bob_name, &bob_password).await;
    let alice_relayed = alice.allocate().await.expect("Alice's allocation");
    let bob_relayed = bob.allocate().await.expect("Bob's allocation");
    let at_alice = alice_relayed.local_addr().expect("relayed address");
    let at_bob = bob_relayed.local_addr().expect("relayed address");
    bob_relayed.send_to(b"in", at_alice).await.expect("sent");
    alice_relayed.send_to(b"in", at_bob).await.expect("sent");
    // Alice sends 40 KB at once: about a fifth fits her credential's bandwidth.
    let packet = [7u8; 1000];
    for _ in 0..40 {
        alice_relayed.send_to(&packet, at_bob).await.expect("sent");
    }
    let mut received = 0;
    let mut buf = [0u8; 1500];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(500);
    while let Ok(Ok((n, _))) =
        tokio::time::timeout_at(deadline, bob_relayed.recv_from(&mut buf)).await
    {
        if n == packet.len() {
            received += 1;
        }
    }
    assert!((1..=14).contains(&received), "{received} of 40 arrived");
    assert!(
        metric_at(
            server.addr,
            "tandem_turn_refusals_total{reason=\"bandwidth\"}"
        )
        .await
            >= 26.0
    );
}

#[tokio::test]
async fn a_flood_of_unsigned_requests_is_cut_to_a_bounded_rate_and_a_browser_still_allocates() {
    use stun::agent::TransactionId;
    use stun::message::METHOD_ALLOCATE;
    use tandem::server::relay::gate::UNSIGNED_PER_ADDRESS;
    use turn::proto::reqtrans::RequestedTransport;
    use turn::proto::PROTO_UDP;

    let server = relay_server(|_| {}).await;
    let (urls, username, password) = turn_credentials(server.addr, "relay-unsigned").await;
    let relay = relay_address(&urls);
    let flooder = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("a socket");
    // Each unsigned Allocate would leave a nonce in the TURN crate for good. Sent in bursts
    // of 20 (all within ~30 ms), so that the socket's buffer is not what drops them.
    for n in 0..1000 {
        if n % 20 == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        let mut request = Message::new();
        request
            .build(&[
                Box::new(TransactionId::new()) as Box<dyn Setter>,
                Box::new(MessageType::new(METHOD_ALLOCATE, CLASS_REQUEST)),
                Box::new(RequestedTransport {
                    protocol: PROTO_UDP,
                }),
            ])
            .expect("a request");
        flooder.send_to(&request.raw, relay).await.expect("sent");
    }
    let mut challenges = 0;
    let mut buf = [0u8; 1500];
    while let Ok(Ok(_)) = tokio::time::timeout(
        std::time::Duration::from_millis(500),
        flooder.recv_from(&mut buf),
    )
    .await
    {
        challenges += 1;
    }
    // The flood may straddle two seconds: at most two allowances were answered.
    assert!(
        (1..=2 * UNSIGNED_PER_ADDRESS as usize).contains(&challenges),
        "{challenges} of 1,000 answered"
    );
    assert!(
        metric_at(
            server.addr,
            "tandem_turn_refusals_total{reason=\"unsigned_rate\"}"
        )
        .await
            >= 800.0,
        "most of the flood refused"
    );
    // A browser on the same address, a second later, is challenged and allocates.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let client = turn_client(relay, &username, &password).await;
    client
        .allocate()
        .await
        .expect("an allocation after the flood");
}
