//! Running the server for real: origins, per-address caps, slow readers, TLS, TURN
//! credentials, metrics, health checks, headers, static files, logs and configuration
//! errors.

mod common;

use common::*;
use futures::StreamExt;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tandem::protocol::signaling::{ErrorCode, IceTransportPolicy, ServerMessage, Signal};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::Connector;

#[tokio::test]
async fn a_page_from_another_site_cannot_open_the_socket() {
    let addr = TestServer::start(config_with(|c| {
        c.connections.allowed_origins = vec!["https://call.example.org".into()];
    }))
    .await
    .addr;
    assert_eq!(
        Client::connect_from(addr, "https://evil.example")
            .await
            .err(),
        Some(403)
    );
    assert_eq!(
        Client::connect_from(addr, &format!("http://{addr}.evil.example"))
            .await
            .err(),
        Some(403)
    );
    // Same origin, a listed origin, and non-browser clients (no Origin) get in.
    let mut same = Client::connect_from(addr, &format!("http://{addr}"))
        .await
        .unwrap();
    same.join("origins", "Same").await;
    assert!(Client::connect_from(addr, "https://call.example.org")
        .await
        .is_ok());
    Client::connect(addr).await;
    let metrics = get(addr, "/metrics").await.1;
    assert!(
        metrics.contains("tandem_closed_connections_total{reason=\"origin\"} 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn one_address_cannot_hold_more_than_its_share_of_connections() {
    let addr = TestServer::start(config_with(|c| {
        c.connections.max_connections_per_ip = 3;
    }))
    .await
    .addr;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(Client::connect(addr).await);
    }
    let refused = Client::connect_from(addr, &format!("http://{addr}")).await;
    assert_eq!(refused.err(), Some(429));
    // Closing one frees a slot (as soon as the server has seen the close).
    let mut first = open.remove(0);
    first.ws.close(None).await.unwrap();
    first.closed().await;
    let deadline = tokio::time::Instant::now() + REPLY_TIMEOUT;
    loop {
        match Client::connect_from(addr, &format!("http://{addr}")).await {
            Ok(_) => break,
            Err(429) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(status) => panic!("still refused: {status}"),
        }
    }
}

#[tokio::test]
async fn a_client_that_stops_reading_is_let_go_by_its_own_stalled_socket_without_holding_anyone_up()
{
    let config = config_with(|c| {
        c.connections.rate_limit = 100_000;
        c.connections.rate_burst = 100_000;
        c.connections.write_timeout = Duration::from_secs(1);
    });
    let big = "x".repeat(config.connections.max_message_bytes - 200);
    let addr = TestServer::start(config).await.addr;
    let (mut other_a, other_a_id, mut other_b, other_b_id) = pair(addr, "bystanders").await;
    let mut sender = Client::connect(addr).await;
    let mut sleeper = Client::connect(addr).await;
    sender.join("stalled", "Sender").await;
    let (sleeper_id, _) = sleeper.join("stalled", "Sleeper").await;
    assert!(matches!(
        sender.recv().await,
        ServerMessage::PeerJoined { .. }
    ));
    // The sleeper never reads again. Its socket buffers fill, then the sender's share of
    // its queue: the sender is told to wait, and the sleeper keeps its seat for now.
    let mut sent = 0;
    let busy = loop {
        sender
            .signal(sleeper_id, Signal::Offer { sdp: big.clone() })
            .await;
        sent += 1;
        // Check for news without waiting.
        if let Ok(Some(Ok(Message::Text(text)))) =
            tokio::time::timeout(Duration::from_millis(1), sender.ws.next()).await
        {
            break serde_json::from_str::<ServerMessage>(&text).unwrap();
        }
        assert!(sent < 5_000, "the sender was never told to wait");
        if sent % 50 == 0 {
            // Meanwhile, the call next door still gets through at once.
            other_a.signal(other_b_id, offer("hi")).await;
            assert!(
                matches!(other_b.recv().await, ServerMessage::Signal { from, .. } if from == other_a_id)
            );
        }
    };
    assert!(
        matches!(busy, ServerMessage::Error { code: ErrorCode::PeerBusy, peer: Some(p), .. } if p == sleeper_id),
        "{busy:?}"
    );
    // Its own socket, stalled past write_timeout, is what lets it go; then the seat's
    // grace runs out and the sender is told. Refusals for the rest of the flood come first.
    loop {
        match sender.recv().await {
            ServerMessage::PeerLeft { peer } if peer == sleeper_id => break,
            ServerMessage::Error {
                code: ErrorCode::PeerBusy,
                ..
            } => {}
            other => panic!("{other:?}"),
        }
    }
    // The sleeper's socket was closed: reading drains what was buffered, then ends.
    let drained = tokio::time::timeout(REPLY_TIMEOUT, async {
        while let Some(Ok(_)) = sleeper.ws.next().await {}
    })
    .await;
    assert!(drained.is_ok(), "the server closed the sleeper's socket");
    let metrics = get(addr, "/metrics").await.1;
    assert!(
        metrics.contains("tandem_closed_connections_total{reason=\"slow_reader\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tandem_errors_total{code=\"peer_busy\"}"),
        "{metrics}"
    );
}

/// A TLS client that trusts `roots` only.
fn tls_client(roots: rustls::RootCertStore) -> Connector {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Connector::Rustls(Arc::new(config))
}

#[tokio::test]
async fn with_a_certificate_the_server_speaks_https_and_wss() {
    let dir = std::env::temp_dir().join(format!("tandem-wss-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    let addr = TestServer::start(config_with(|c| {
        c.tls.tls_cert = Some(cert);
        c.tls.tls_key = Some(key);
    }))
    .await
    .addr;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(made.cert.der().clone()).unwrap();
    let url = format!("wss://localhost:{}/ws", addr.port());
    let join = |name: &'static str| {
        let (url, connector) = (url.clone(), tls_client(roots.clone()));
        async move {
            let (ws, _) =
                tokio_tungstenite::connect_async_tls_with_config(url, None, false, Some(connector))
                    .await
                    .expect("TLS handshake and upgrade");
            let mut client = Client { ws };
            client.join("secure", name).await
        }
    };
    join("Alice").await;
    let (_, peers) = join("Bob").await;
    assert_eq!(peers[0].name, "Alice");
    // A client that does not trust the certificate is turned away by its own TLS.
    let untrusting = tokio_tungstenite::connect_async_tls_with_config(
        url.clone(),
        None,
        false,
        Some(tls_client(rustls::RootCertStore::empty())),
    )
    .await;
    assert!(untrusting.is_err());
    // Plain HTTP to the TLS port gets nowhere.
    assert!(tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .is_err());
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn self_signed_mode_prints_the_fingerprint_of_the_certificate_it_serves() {
    let server = Binary::start(&["--self-signed", "localhost,127.0.0.1"]);
    let fingerprint = server
        .preamble
        .iter()
        .find_map(|line| line.split("SHA-256 fingerprint ").nth(1).map(str::to_owned));
    let fingerprint = fingerprint.expect("the fingerprint is printed");
    assert!(server
        .preamble
        .iter()
        .any(|l| l.contains("localhost, 127.0.0.1")));
    // Trust exactly the certificate whose fingerprint was printed.
    let served = served_certificate(server.addr).await;
    assert_eq!(tandem::server::tls::fingerprint(&served), fingerprint);
    let mut roots = rustls::RootCertStore::empty();
    roots.add(served).unwrap();
    for host in ["localhost", "127.0.0.1"] {
        let url = format!("wss://{host}:{}/ws", server.addr.port());
        let (ws, _) = tokio_tungstenite::connect_async_tls_with_config(
            url,
            None,
            false,
            Some(tls_client(roots.clone())),
        )
        .await
        .unwrap_or_else(|e| panic!("{host}: {e}"));
        Client { ws }.join("lan", "Laptop").await;
    }
}

/// The certificate a TLS server presents, taken without checking it.
async fn served_certificate(
    addr: std::net::SocketAddr,
) -> rustls::pki_types::CertificateDer<'static> {
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{DigitallySignedStruct, SignatureScheme};
    use std::sync::Mutex;

    #[derive(Debug)]
    struct Keep(Mutex<Option<CertificateDer<'static>>>);
    impl ServerCertVerifier for Keep {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            *self.0.lock().unwrap() = Some(end_entity.clone().into_owned());
            Ok(ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Ok(HandshakeSignatureValid::assertion())
        }
        fn verify_tls13_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Ok(HandshakeSignatureValid::assertion())
        }
        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            rustls::crypto::ring::default_provider()
                .signature_verification_algorithms
                .supported_schemes()
        }
    }
    let keep = Arc::new(Keep(Mutex::new(None)));
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .dangerous()
    .with_custom_certificate_verifier(keep.clone())
    .with_no_client_auth();
    let url = format!("wss://localhost:{}/ws", addr.port());
    let _ = tokio_tungstenite::connect_async_tls_with_config(
        url,
        None,
        false,
        Some(Connector::Rustls(Arc::new(config))),
    )
    .await;
    let cert = keep.0.lock().unwrap().take();
    cert.expect("the server presented a certificate")
}

#[tokio::test]
async fn each_join_gets_its_own_turn_credentials() {
    let secret = "turn-shared-secret-for-tests";
    let addr = TestServer::start(config_with(|c| {
        c.ice.stun_urls = vec!["stun:127.0.0.1:3478".into()];
        c.ice.turn_urls = vec!["turn:127.0.0.1:3478?transport=udp".into()];
        c.ice.turn_secret = Some(secret.into());
        c.ice.turn_credential_lifetime = Duration::from_secs(600);
        c.ice.ice_transport_policy = IceTransportPolicy::Relay;
    }))
    .await
    .addr;
    let mut client = Client::connect(addr).await;
    client
        .send(json!({"type": "join", "room": "turn", "name": "Alice"}))
        .await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let ServerMessage::Joined {
        you,
        ice_servers,
        ice_transport_policy,
        ..
    } = client.recv().await
    else {
        panic!("not joined")
    };
    assert_eq!(ice_transport_policy, IceTransportPolicy::Relay);
    assert_eq!(ice_servers[0].urls, ["stun:127.0.0.1:3478"]);
    let turn = &ice_servers[1];
    let username = turn.username.clone().unwrap();
    let (expiry, id) = username.split_once(':').unwrap();
    assert_eq!(id, you.to_string());
    let expiry: u64 = expiry.parse().unwrap();
    assert!(
        (now + 600..=now + 602).contains(&expiry),
        "{expiry} vs {now}"
    );
    let expected = tandem::server::ice::rest_credentials(secret.as_bytes(), expiry, you).1;
    assert_eq!(turn.credential.as_deref(), Some(expected.as_str()));
}

#[tokio::test]
async fn metrics_count_a_call_and_name_no_one() {
    let addr = TestServer::start(quick_config()).await.addr;
    let (mut a, a_id, mut b, b_id) = pair(addr, "secret-room-name").await;
    a.signal(b_id, offer("v=0")).await;
    b.recv().await;
    b.signal(a_id, Signal::Answer { sdp: "v=0".into() }).await;
    a.recv().await;
    for _ in 0..3 {
        a.signal(
            b_id,
            Signal::Candidate {
                candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host".into(),
                sdp_mid: Some("0".into()),
                sdp_m_line_index: Some(0),
            },
        )
        .await;
        b.recv().await;
    }
    a.send_text("nonsense").await;
    a.recv().await;
    let (status, response) = get(addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(response.contains("text/plain; version=0.0.4"), "{response}");
    for line in [
        "tandem_connections 2",
        "tandem_rooms 1",
        "tandem_seats 2",
        "tandem_joins_total 2",
        "tandem_relayed_messages_total{kind=\"offer\"} 1",
        "tandem_relayed_messages_total{kind=\"answer\"} 1",
        "tandem_relayed_messages_total{kind=\"candidate\"} 3",
        "tandem_errors_total{code=\"bad_message\"} 1",
        "tandem_rate_limit_hits_total 0",
        "tandem_relay_seconds_count 5",
    ] {
        assert!(response.lines().any(|l| l == line), "{line} in\n{response}");
    }
    assert!(!response.contains("secret-room-name") && !response.contains("Alice"));
    // Nothing lists rooms or people.
    for path in [
        "/rooms",
        "/api/rooms",
        "/ws/rooms",
        "/call/secret-room-name",
    ] {
        let body = get(addr, path).await.1;
        assert!(!body.contains("Alice") && !body.contains("Bob"), "{path}");
    }
}

#[tokio::test]
async fn health_checks_and_security_headers() {
    let addr = TestServer::start(quick_config()).await.addr;
    assert_eq!(get(addr, "/healthz").await.0, 200);
    assert_eq!(get(addr, "/readyz").await.0, 200);
    let (status, page) = get(addr, "/").await;
    assert_eq!(status, 200);
    let header = |name: &str| {
        page.lines()
            .take_while(|l| !l.is_empty())
            .find_map(|l| {
                let (key, value) = l.split_once(": ")?;
                key.eq_ignore_ascii_case(name)
                    .then(|| value.trim().to_owned())
            })
            .unwrap_or_else(|| panic!("no {name} header in\n{page}"))
    };
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("referrer-policy"), "same-origin");
    assert!(header("permissions-policy").contains("camera=(self)"));
    assert!(header("permissions-policy").contains("display-capture=(self)"));
    let csp = header("content-security-policy");
    // The hydration script carries the nonce the policy names.
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce in the CSP");
    assert!(page.contains(&format!("nonce=\"{nonce}\"")), "{page}");
    assert!(csp.contains("'wasm-unsafe-eval'") && csp.contains("frame-ancestors 'none'"));
    // Each page gets a fresh nonce.
    let again = get(addr, "/").await.1;
    assert!(!again.contains(&format!("nonce=\"{nonce}\"")));
}

#[tokio::test]
async fn the_home_form_sent_without_the_app_goes_to_the_call_or_says_what_is_wrong() {
    let addr = TestServer::start(quick_config()).await.addr;
    let (status, response) = get(addr, "/?name=Zo%C3%AB+Q&room=kitchen-2").await;
    assert_eq!(status, 303, "{response}");
    assert!(
        response.contains("location: /call/Zo%C3%AB%20Q/kitchen-2"),
        "{response}"
    );
    // A mistake: the home page, with what was typed and what is wrong with it.
    let (status, page) = get(addr, "/?name=&room=no+spaces").await;
    assert_eq!(status, 200);
    assert!(page.contains("Enter your name."), "{page}");
    assert!(page.contains("value=\"no spaces\""), "{page}");
    assert!(page.contains("may only contain letters"), "{page}");
    // An invite link is not a submission: nothing is flagged.
    let page = get(addr, "/?room=kitchen").await.1;
    assert!(page.contains("value=\"kitchen\"") && !page.contains("Enter your name."));
}

#[tokio::test]
async fn a_call_link_from_elsewhere_opens_on_the_join_card_and_one_from_tandem_on_the_call() {
    let addr = TestServer::start(quick_config()).await.addr;
    let page = |site: &'static str| async move {
        let header = site_header(site);
        String::from_utf8(get_raw(addr, "/call/Bob/standup", &header).await).unwrap()
    };
    for elsewhere in ["cross-site", "same-site", "none", ""] {
        let page = page(elsewhere).await;
        assert!(page.contains("id=\"join-card\""), "{elsewhere}: {page}");
        assert!(
            page.contains("Join now") && page.contains("value=\"Bob\""),
            "{page}"
        );
        assert!(!page.contains("Call in room"), "{elsewhere}: {page}");
    }
    let page = page("same-origin").await;
    assert!(page.contains("Call in room standup"), "{page}");
    assert!(!page.contains("id=\"join-card\""), "{page}");
}

fn site_header(site: &str) -> String {
    if site.is_empty() {
        String::new()
    } else {
        format!("Sec-Fetch-Site: {site}\r\n")
    }
}

#[tokio::test]
async fn the_join_card_sent_without_the_app_goes_to_the_call_with_its_switches_as_set() {
    let addr = TestServer::start(quick_config()).await.addr;
    let sent = [
        ("microphone=on&camera=on", "/call/Bo%20B/standup\r\n"),
        ("camera=on", "/call/Bo%20B/standup?microphone=off\r\n"),
        ("microphone=on", "/call/Bo%20B/standup?camera=off\r\n"),
        ("", "/call/Bo%20B/standup?microphone=off&camera=off\r\n"),
    ];
    for (switches, to) in sent {
        let path = format!("/?room=standup&from=card&name=Bo+B&{switches}");
        let (status, response) = get(addr, &path).await;
        assert_eq!(status, 303, "{response}");
        assert!(
            response.contains(&format!("location: {to}")),
            "{switches}: {response}"
        );
    }
    // The home form has no switches: nothing is off.
    let response = get(addr, "/?room=standup&name=Bo+B").await.1;
    assert!(
        response.contains("location: /call/Bo%20B/standup\r\n"),
        "{response}"
    );
}

/// A raw GET asking for `encoding`: status, lower-cased headers, body bytes.
async fn fetch(
    addr: std::net::SocketAddr,
    path: &str,
    encoding: &str,
) -> (u16, std::collections::HashMap<String, String>, Vec<u8>) {
    let response = get_raw(addr, path, &format!("Accept-Encoding: {encoding}\r\n")).await;
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(response[..split].to_vec()).unwrap();
    let mut lines = head.lines();
    let status = lines.next().unwrap().split_whitespace().nth(1).unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
        .collect();
    (
        status.parse().unwrap(),
        headers,
        response[split + 4..].to_vec(),
    )
}

#[tokio::test]
async fn static_files_go_out_precompressed_and_hashed_ones_are_cached_for_good() {
    use std::io::Read;
    let site = std::env::temp_dir().join(format!("tandem-site-{}", std::process::id()));
    std::fs::create_dir_all(site.join("pkg")).unwrap();
    // Not quite random, so compression has something to find.
    let wasm: Vec<u8> = (0..200_000u32)
        .map(|i| ((i % 251) ^ (i / 997)) as u8)
        .collect();
    std::fs::write(site.join("pkg/app.0123abcd.wasm"), &wasm).unwrap();
    std::fs::write(site.join("robots.txt"), "User-agent: *\n".repeat(100)).unwrap();
    let mut options = tandem::server::leptos_options().unwrap();
    options.site_root = site.to_string_lossy().as_ref().into();
    options.hash_files = true;
    let addr = TestServer::start_serving(quick_config(), options)
        .await
        .addr;

    // The copies are written in the background just after startup.
    let deadline = std::time::Instant::now() + REPLY_TIMEOUT;
    let (status, headers, body) = loop {
        let answer = fetch(addr, "/pkg/app.0123abcd.wasm", "gzip, deflate, br").await;
        if answer.1.contains_key("content-encoding") || std::time::Instant::now() > deadline {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status, 200);
    assert_eq!(headers["content-encoding"], "br", "{headers:?}");
    assert_eq!(headers["content-type"], "application/wasm");
    assert_eq!(
        headers["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(headers["vary"]
        .to_ascii_lowercase()
        .contains("accept-encoding"));
    assert!(body.len() < wasm.len() / 2, "{} bytes", body.len());
    let mut unpacked = Vec::new();
    brotli::BrotliDecompress(&mut &body[..], &mut unpacked).unwrap();
    assert!(unpacked == wasm, "brotli copy differs from the file");

    let (status, headers, body) = fetch(addr, "/pkg/app.0123abcd.wasm", "gzip").await;
    assert_eq!(
        (status, headers["content-encoding"].as_str()),
        (200, "gzip")
    );
    let mut unpacked = Vec::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_end(&mut unpacked)
        .unwrap();
    assert!(unpacked == wasm, "gzip copy differs from the file");

    // A browser that accepts neither gets the file itself.
    let (status, headers, body) = fetch(addr, "/pkg/app.0123abcd.wasm", "identity").await;
    assert_eq!(status, 200);
    assert!(!headers.contains_key("content-encoding"));
    assert!(body == wasm);

    // An unhashed file may change under the same name: browsers must ask again.
    let (status, headers, _) = fetch(addr, "/robots.txt", "br").await;
    assert_eq!((status, headers["content-encoding"].as_str()), (200, "br"));
    assert_eq!(headers["cache-control"], "no-cache");
    // So must they for a missing file (it may exist after the next deploy) and for pages.
    let (status, headers, _) = fetch(addr, "/pkg/app.ffffffff.wasm", "br").await;
    assert_eq!(
        (status, headers["cache-control"].as_str()),
        (404, "no-cache")
    );
    std::fs::remove_dir_all(&site).unwrap();
}

#[tokio::test]
async fn pages_are_never_served_from_a_stale_cache() {
    let addr = TestServer::start(quick_config()).await.addr;
    for path in ["/", "/call/ada/some-room", "/healthz"] {
        let (status, headers, _) = fetch(addr, path, "identity").await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(headers["cache-control"], "no-cache", "{path}");
    }
    // A page differs by language and by where the person came from: no cache may hand
    // one person's page to another.
    for path in ["/", "/call/ada/some-room"] {
        let (_, headers, _) = fetch(addr, path, "identity").await;
        let vary = headers["vary"].to_ascii_lowercase();
        for header in ["accept-language", "cookie", "sec-fetch-site"] {
            assert!(vary.contains(header), "{path}: {vary}");
        }
    }
}

#[tokio::test]
async fn json_logs_carry_the_connection_span_and_no_secret() {
    let (turn_secret, resume_secret) = ("turn-secret-never-logged", "resume-secret-never-logged");
    let mut server = Binary::start_logging(&[
        "--log-format",
        "json",
        "--log-level",
        "debug",
        "--turn-url",
        "turn:127.0.0.1:3478",
        "--turn-secret",
        turn_secret,
        "--resume-secret",
        resume_secret,
    ]);
    let (mut a, _, _b, _) = pair(server.addr, "logged-room").await;
    a.ws.close(None).await.unwrap();
    server.signal("TERM");
    server.exit_within(Duration::from_secs(10)).await;
    let logs = server.stderr();
    let joined = logs
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|entry| entry["fields"]["message"] == "joined")
        .unwrap_or_else(|| panic!("no JSON 'joined' line in\n{logs}"));
    assert_eq!(joined["span"]["room"], "logged-room");
    assert!(joined["span"]["peer"].is_u64(), "{joined}");
    assert!(joined["span"]["ip"].as_str().is_some());
    let printed = format!("{}{logs}", server.preamble.join("\n"));
    assert!(
        !printed.contains(turn_secret) && !printed.contains(resume_secret),
        "{printed}"
    );
}

#[tokio::test]
async fn bad_configurations_stop_the_binary_naming_the_setting() {
    for (args, setting) in [
        (vec!["--turn-url", "turn:127.0.0.1:3478"], "turn_urls"),
        (vec!["--turn-secret", "0123456789abcdef"], "turn_urls"),
        (
            vec![
                "--tls-cert",
                "/nonexistent/cert.pem",
                "--tls-key",
                "/nonexistent/key.pem",
            ],
            "tls_cert",
        ),
        (vec!["--allowed-origin", "evil.example"], "allowed_origins"),
        (vec!["--max-message-bytes", "10"], "max_message_bytes"),
        (vec!["--log-level", "tandem=["], "log_level"),
        (vec!["--rate-limit", "0"], "rate_limit"),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(setting), "{args:?}: {stderr}");
    }
    let secret = "do-not-print-me-please";
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(["--turn-secret", secret])
        .env("TANDEM_RESUME_SECRET", "short")
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!all.contains(secret) && !all.contains("short\""), "{all}");
    // --help documents every setting with its default.
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--turn-secret",
        "--allowed-origin",
        "--rate-limit",
        "--self-signed",
        "--log-format",
    ] {
        assert!(help.contains(flag), "{flag}");
    }
    assert!(
        help.contains("[env: TANDEM_RATE_LIMIT=]") && help.contains("[default: 20]"),
        "{help}"
    );
}
