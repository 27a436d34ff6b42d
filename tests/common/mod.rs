//! What the integration tests share: the real server on a random loopback port (in this
//! process, or as the real binary), and real WebSocket clients.
#![allow(dead_code)] // each test binary uses some of these

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;
use tandem::protocol::signaling::{ErrorCode, KnockId, PeerId, PeerInfo, ServerMessage, Signal};
use tandem::server::config::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

// Also compiled into the unit tests of `server::cluster`, for its scripts.
// Kept beside the cluster it tests (its unit tests use it too): src never reaches into
// tests/.
#[path = "../../src/server/cluster/test_redis.rs"]
mod redis_server;
#[allow(unused_imports)] // some test binaries start no Redis
pub use redis_server::RedisServer;
mod link;
#[allow(unused_imports)] // some test binaries cut no link
pub use link::Link;

/// Long enough for any loopback reply; only reached when a test is about to fail.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// A seat grace short enough that tests see it expire. The heartbeat keeps its default:
/// a test client only answers pings while the test reads from it.
pub fn quick_config() -> Config {
    let mut config = Config::default();
    config.connections.resume_grace = Duration::from_millis(300);
    config.calls.resume_secret = Some("integration-test-secret".into());
    config
}

/// [`quick_config`] with `change` made to it.
pub fn config_with(change: impl FnOnce(&mut Config)) -> Config {
    let mut config = quick_config();
    change(&mut config);
    config
}

/// A running server; dropping it leaves it running until the test ends.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    pub async fn start(config: Config) -> TestServer {
        TestServer::start_serving(config, tandem::server::leptos_options().unwrap()).await
    }

    /// A server whose site (static files, hashing) is described by `options`.
    pub async fn start_serving(
        config: Config,
        options: leptos::config::LeptosOptions,
    ) -> TestServer {
        let tls = config
            .tls
            .source()
            .map(|tls| tandem::server::tls::setup(&tls).unwrap());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async {
                // A dropped handle (no stop sent) leaves the server running.
                if stopped.await.is_err() {
                    std::future::pending::<()>().await;
                }
            };
            tandem::server::serve(listener, &config, tls, options, shutdown)
                .await
                .unwrap();
        });
        TestServer {
            addr,
            stop: Some(stop),
            task,
        }
    }

    /// Signals shutdown and waits for the server to finish.
    pub async fn shut_down(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(REPLY_TIMEOUT, self.task)
            .await
            .expect("shutdown is bounded")
            .unwrap();
    }
}

pub async fn start_server() -> SocketAddr {
    TestServer::start(quick_config()).await.addr
}

/// A server whose rooms hold two, for tests about a full room.
pub async fn start_two_seat_server() -> SocketAddr {
    TestServer::start(config_with(|c| c.calls.room_capacity = 2))
        .await
        .addr
}

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        Client::connect_to(addr, "/ws").await
    }

    /// Opens the socket at `path` (with its query).
    pub async fn connect_to(addr: SocketAddr, path: &str) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}{path}"))
            .await
            .expect("websocket upgrade");
        Client { ws }
    }

    /// Opens the socket as a browser page at `origin` would; `Err` is the HTTP status of
    /// a refused upgrade.
    pub async fn connect_from(addr: SocketAddr, origin: &str) -> Result<Client, u16> {
        Client::connect_with(addr, &[("origin", origin)]).await
    }

    /// Opens the socket with these request `headers`; `Err` is the HTTP status of a
    /// refused upgrade.
    pub async fn connect_with(addr: SocketAddr, headers: &[(&str, &str)]) -> Result<Client, u16> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        use tokio_tungstenite::tungstenite::http::HeaderName;
        let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
        for (name, value) in headers {
            request.headers_mut().insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((ws, _)) => Ok(Client { ws }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                Err(response.status().as_u16())
            }
            Err(e) => panic!("upgrade failed without an HTTP answer: {e}"),
        }
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.unwrap();
    }

    pub async fn send(&mut self, message: Value) {
        self.send_text(&message.to_string()).await;
    }

    /// The next server message; fails the test after [`REPLY_TIMEOUT`].
    pub async fn recv(&mut self) -> ServerMessage {
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

    pub async fn expect_error(&mut self, code: ErrorCode) -> String {
        match self.recv().await {
            ServerMessage::Error {
                code: got, message, ..
            } if got == code => message,
            other => panic!("expected {code:?}, got {other:?}"),
        }
    }

    /// Nothing is waiting for this client. The server answers a `ping` in order with what
    /// it queued for us, so anything the others' processed messages sent us would arrive
    /// before the `pong`. (Callers make sure the others' messages were processed: each
    /// got its answer.)
    pub async fn expect_silence(&mut self) {
        self.send(json!({"type": "ping"})).await;
        match self.recv().await {
            ServerMessage::Pong => {}
            other => panic!("expected nothing, got {other:?}"),
        }
    }

    /// Joins and returns (own id, peers already there).
    pub async fn join(&mut self, room: &str, name: &str) -> (PeerId, Vec<PeerInfo>) {
        let (you, peers, _) = self.join_with_token(room, name).await;
        (you, peers)
    }

    /// Joins and returns (own id, peers already there, resume token).
    pub async fn join_with_token(
        &mut self,
        room: &str,
        name: &str,
    ) -> (PeerId, Vec<PeerInfo>, String) {
        self.send(json!({"type": "join", "room": room, "name": name}))
            .await;
        match self.recv().await {
            ServerMessage::Joined {
                you, peers, token, ..
            } => (you, peers, token),
            other => panic!("expected joined, got {other:?}"),
        }
    }

    pub async fn resume(&mut self, token: &str) -> ServerMessage {
        self.send(json!({"type": "resume", "token": token})).await;
        self.recv().await
    }

    /// Waits for the server to close this connection; returns the close code, if any.
    pub async fn closed(&mut self) -> Option<u16> {
        tokio::time::timeout(REPLY_TIMEOUT, async {
            loop {
                match self.ws.next().await {
                    None | Some(Err(_)) => return None,
                    Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code.into()),
                    Some(Ok(_)) => {}
                }
            }
        })
        .await
        .expect("the server should close the connection")
    }

    pub async fn signal(&mut self, to: PeerId, signal: Signal) {
        self.send(json!({"type": "signal", "to": to, "signal": signal}))
            .await;
    }
}

pub fn offer(sdp: &str) -> Signal {
    Signal::Offer { sdp: sdp.into() }
}

/// Two clients in `room`: (first, its id, second, its id), with the join news consumed.
pub async fn pair(addr: SocketAddr, room: &str) -> (Client, PeerId, Client, PeerId) {
    let mut a = Client::connect(addr).await;
    let mut b = Client::connect(addr).await;
    let (a_id, _) = a.join(room, "Alice").await;
    let (b_id, _) = b.join(room, "Bob").await;
    assert!(matches!(a.recv().await, ServerMessage::PeerJoined { .. }));
    (a, a_id, b, b_id)
}

/// A minimal HTTP GET with `headers` (each ending in CRLF): the response as it came.
pub async fn get_raw(addr: SocketAddr, path: &str, headers: &str) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(REPLY_TIMEOUT, stream.read_to_end(&mut response))
        .await
        .unwrap()
        .unwrap();
    response
}

/// A minimal HTTP GET, enough to see what the server renders.
pub async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let response = String::from_utf8(get_raw(addr, path, "").await).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap();
    (status, response)
}

/// The real binary, as a person runs it.
pub struct Binary {
    pub child: std::process::Child,
    pub addr: SocketAddr,
    /// What it printed on stdout up to and including the "listening" line.
    pub preamble: Vec<String>,
    logs: Option<std::thread::JoinHandle<String>>,
}

impl Binary {
    pub fn start(args: &[&str]) -> Binary {
        Binary::spawn(args, false)
    }

    /// Like `start`, keeping what it logs on stderr for [`Binary::stderr`].
    pub fn start_logging(args: &[&str]) -> Binary {
        Binary::spawn(args, true)
    }

    fn spawn(args: &[&str], keep_logs: bool) -> Binary {
        use std::io::{BufRead, Read};
        use std::process::Stdio;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::piped())
            .stderr(if keep_logs {
                Stdio::piped()
            } else {
                Stdio::inherit()
            })
            .spawn()
            .unwrap();
        let logs = child.stderr.take().map(|mut stderr| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = stderr.read_to_string(&mut text);
                text
            })
        });
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut preamble = Vec::new();
        let addr = loop {
            let mut line = String::new();
            assert!(
                stdout.read_line(&mut line).unwrap() > 0,
                "exited: {preamble:?}"
            );
            preamble.push(line.trim().to_owned());
            if let Some(addr) = line.trim().strip_prefix("tandem listening on ") {
                break addr
                    .rsplit("://")
                    .next()
                    .and_then(|a| a.parse().ok())
                    .unwrap_or_else(|| panic!("no address in {line:?}"));
            }
        };
        Binary {
            child,
            addr,
            preamble,
            logs,
        }
    }

    /// Everything logged, once the process has exited.
    pub fn stderr(&mut self) -> String {
        self.logs
            .take()
            .expect("started with start_logging")
            .join()
            .unwrap()
    }

    pub fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        let status = std::process::Command::new("kill")
            .args(["-s", name, &pid])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit, failing after `limit`.
    pub async fn exit_within(&mut self, limit: Duration) -> std::process::ExitStatus {
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(started.elapsed() < limit, "still running after {limit:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A test that ends early (or forgets) must not leave a server running: it would keep the
/// test's stderr open and outlive the run.
impl Drop for Binary {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A newcomer at `room` of a locked room, who must be told to wait for `host`.
pub async fn knock(client: &mut Client, room: &str, name: &str, host: &str) {
    client
        .send(json!({"type": "join", "room": room, "name": name}))
        .await;
    assert_eq!(
        client.recv().await,
        ServerMessage::Waiting {
            host_name: host.into()
        }
    );
}

/// Locks `room` as its host `host` (the only one in it), has `knocker` knock as `name`,
/// and lets them in: `knocker` has read its `joined`.
pub async fn let_in(host: &mut Client, knocker: &mut Client, room: &str, name: &str) {
    host.send(json!({"type": "lock"})).await;
    assert_eq!(host.recv().await, ServerMessage::Locked { locked: true });
    let host_name = "Alice";
    knock(knocker, room, name, host_name).await;
    let knock = knock_heard(host, name).await;
    host.send(json!({"type": "admit", "knock": knock})).await;
    assert!(matches!(
        knocker.recv().await,
        ServerMessage::Joined { locked: true, .. }
    ));
}

/// Reads (answering pings) until a fresh resume token comes, within the reply timeout,
/// and returns it.
pub async fn token_comes(client: &mut Client) -> String {
    let token = async {
        loop {
            if let ServerMessage::Token { token } = client.recv().await {
                return token;
            }
        }
    };
    tokio::time::timeout(REPLY_TIMEOUT, token)
        .await
        .expect("no fresh token came")
}

/// The next message, which must be a knock by `name`.
pub async fn knock_heard(host: &mut Client, name: &str) -> KnockId {
    match host.recv().await {
        ServerMessage::Knock { knock, name: who } if who == name => knock,
        other => panic!("expected {name}'s knock, got {other:?}"),
    }
}

/// The value of the metric `name` (with its labels, if any) that the server at `addr`
/// reports.
pub async fn metric_at(addr: SocketAddr, name: &str) -> f64 {
    let text = get(addr, "/metrics").await.1;
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

/// What a browser joining `room` on the server at `addr` is told of TURN: the URLs, the
/// user name and the password.
pub async fn turn_credentials(addr: SocketAddr, room: &str) -> (Vec<String>, String, String) {
    let mut client = Client::connect(addr).await;
    client
        .send(json!({"type": "join", "room": room, "name": "Turner"}))
        .await;
    let ServerMessage::Joined { ice_servers, .. } = client.recv().await else {
        panic!("expected joined");
    };
    let turn = ice_servers
        .into_iter()
        .find(|server| server.urls.iter().any(|url| url.starts_with("turn:")))
        .expect("a TURN server in joined");
    (
        turn.urls,
        turn.username.expect("a TURN user name"),
        turn.credential.expect("a TURN password"),
    )
}

/// A TURN client (the crate the built-in relay uses) of the relay at `relay`, listening.
pub async fn turn_client(
    relay: SocketAddr,
    username: &str,
    password: &str,
) -> turn::client::Client {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("a UDP socket");
    let client = turn::client::Client::new(turn::client::ClientConfig {
        stun_serv_addr: relay.to_string(),
        turn_serv_addr: relay.to_string(),
        username: username.to_owned(),
        password: password.to_owned(),
        realm: tandem::server::relay::REALM.to_owned(),
        software: String::new(),
        rto_in_ms: 0,
        conn: std::sync::Arc::new(socket),
        vnet: None,
    })
    .await
    .expect("a TURN client");
    client.listen().await.expect("listening");
    client
}

/// Waits (at most 10 s) for `check` to hold: for a state that comes by itself, such as
/// a reconnect, never in place of an answer the test could wait for.
pub async fn eventually<F: std::future::Future<Output = bool>>(what: &str, check: impl Fn() -> F) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
