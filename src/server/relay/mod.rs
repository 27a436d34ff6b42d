//! The TURN relay built into the server (`turn_listen`): for two people whose networks
//! let no direct connection through, in the same process and runtime as signaling.
//!
//! The TURN protocol is the webrtc-rs `turn` crate's (allocations, permissions, channels,
//! message integrity, nonces, lifetimes). Chosen over turn-rs's `turn-server`, whose
//! listeners take no authentication of ours, never check a REST credential's expiry, and
//! relay only between its own clients (see the commit that added it). Around it, Tandem
//! adds what the crate has no hook for:
//! - [`gate`]: every message a browser sends is looked at first; permissions to
//!   non-public peers (unless `turn_allow_private_peers`) and allocations past a
//!   credential's quota are refused with a signed 403 or 486;
//! - a relayed socket that refuses packets to or from non-public peers, and drops what is
//!   past the credential's bandwidth;
//! - [`tcp`]: TURN over TCP, which the crate has no listener for;
//! - credentials: coturn's REST scheme, signed with `turn_secret` ([`super::ice`]), so a
//!   credential from any server of a Redis deployment works on every server's relay;
//! - `/metrics`: allocations, relayed bytes, refusals by reason.

pub mod gate;
pub mod tcp;

use super::config::{RelaySettings, Secret};
use super::ice::rest_password;
use super::metrics::TurnMetrics;
use async_trait::async_trait;
use gate::{Gate, Refusal, Verdict};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, Weak};
use std::time::{SystemTime, UNIX_EPOCH};
use stun::agent::TransactionId;
use stun::error_code::{ErrorCodeAttribute, CODE_ALLOC_QUOTA_REACHED, CODE_FORBIDDEN};
use stun::message::{Message, MessageType, Method, Setter, CLASS_ERROR_RESPONSE};
use turn::auth::{generate_auth_key, AuthHandler};
use turn::relay::relay_range::RelayAddressGeneratorRanges;
use turn::relay::RelayAddressGenerator;
use turn::server::config::{ConnConfig, ServerConfig};
use webrtc_util::Conn;

/// The realm the relay names in its challenges.
pub const REALM: &str = "tandem";

/// What every listener and relayed socket of one relay share.
struct Shared {
    gate: Mutex<Gate>,
    secret: Secret,
    metrics: TurnMetrics,
    /// Each credential's bandwidth, shared by its allocations while any is open.
    bandwidth: Mutex<HashMap<String, Weak<DefaultDirectRateLimiter>>>,
    bytes_per_second: NonZeroU32,
    allow_private_peers: bool,
}

impl Shared {
    fn gate(&self) -> std::sync::MutexGuard<'_, Gate> {
        self.gate
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn refused(&self, refusal: Refusal) {
        self.metrics.refused(refusal);
    }

    fn bandwidth_for(&self, username: &str) -> Arc<DefaultDirectRateLimiter> {
        let mut all = self
            .bandwidth
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        all.retain(|_, limiter| limiter.strong_count() > 0);
        if let Some(limiter) = all.get(username).and_then(Weak::upgrade) {
            return limiter;
        }
        let limiter = Arc::new(RateLimiter::direct(Quota::per_second(
            self.bytes_per_second,
        )));
        all.insert(username.to_owned(), Arc::downgrade(&limiter));
        limiter
    }

    /// A STUN error answering `transaction`, signed with `username`'s key when there is
    /// one (browsers ignore unsigned answers to signed requests).
    fn refusal(
        &self,
        refusal: Refusal,
        method: Method,
        transaction: [u8; 12],
        username: Option<&str>,
    ) -> Option<Vec<u8>> {
        let code = match refusal {
            Refusal::AllocationQuota => CODE_ALLOC_QUOTA_REACHED,
            _ => CODE_FORBIDDEN,
        };
        let mut setters: Vec<Box<dyn Setter>> = vec![
            Box::new(TransactionId(transaction)),
            Box::new(MessageType::new(method, CLASS_ERROR_RESPONSE)),
            Box::new(ErrorCodeAttribute {
                code,
                reason: refusal.name().as_bytes().to_vec(),
            }),
        ];
        if let Some(username) = username {
            let password = rest_password(self.secret.expose().as_bytes(), username);
            setters.push(Box::new(stun::integrity::MessageIntegrity(
                generate_auth_key(username, REALM, &password),
            )));
        }
        setters.push(Box::new(stun::fingerprint::FINGERPRINT));
        let mut message = Message::new();
        message.build(&setters).ok()?;
        Some(message.raw)
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// Credentials are coturn's REST ones: `<expiry>:<peer id>`, and the password is the
/// HMAC of that name with the shared secret.
struct RestAuth(Arc<Shared>);

impl AuthHandler for RestAuth {
    fn auth_handle(
        &self,
        username: &str,
        realm: &str,
        _from: SocketAddr,
    ) -> Result<Vec<u8>, turn::Error> {
        match gate::expiry(username) {
            // Counted as the 400 it is answered with (see `Gated::send_to`).
            None => Err(turn::Error::ErrNoSuchUser),
            Some(expiry) if expiry < unix_now() => {
                self.0.refused(Refusal::Expired);
                Err(turn::Error::ErrNoSuchUser)
            }
            Some(_) => {
                let password = rest_password(self.0.secret.expose().as_bytes(), username);
                Ok(generate_auth_key(username, realm, &password))
            }
        }
    }
}

/// One listener (UDP or TCP) with the gate in front of it. The TURN crate handles one
/// message at a time per listener, so the user name of the Allocate being handled is
/// known to the relayed socket it asks for next.
struct Gated {
    inner: Arc<dyn Conn + Send + Sync>,
    shared: Arc<Shared>,
    allocating: Arc<Mutex<Option<String>>>,
}

#[async_trait]
impl Conn for Gated {
    async fn connect(&self, addr: SocketAddr) -> webrtc_util::Result<()> {
        self.inner.connect(addr).await
    }

    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        self.inner.recv(buf).await
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        loop {
            let (n, from) = self.inner.recv_from(buf).await?;
            let Some(bytes) = buf.get(..n) else { continue };
            let message = gate::inspect(bytes);
            // Channel data and bindings (the media's path) pass without taking the lock.
            if message == gate::Inbound::Other {
                return Ok((n, from));
            }
            let verdict = self.shared.gate().admit(&message, from.ip(), unix_now());
            match verdict {
                Verdict::Pass => {
                    if let gate::Inbound::Allocate { username, .. } = message {
                        *self
                            .allocating
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(username);
                    }
                    return Ok((n, from));
                }
                Verdict::Drop(refusal) => self.shared.refused(refusal),
                Verdict::Refuse {
                    refusal,
                    method,
                    transaction,
                    username,
                } => {
                    self.shared.refused(refusal);
                    if let Some(answer) =
                        self.shared
                            .refusal(refusal, method, transaction, username.as_deref())
                    {
                        let _ = self.inner.send_to(&answer, from).await;
                    }
                }
            }
        }
    }

    async fn send(&self, buf: &[u8]) -> webrtc_util::Result<usize> {
        self.inner.send(buf).await
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> webrtc_util::Result<usize> {
        if gate::refused_as_unauthenticated(buf) {
            self.shared.refused(Refusal::BadCredential);
        }
        self.inner.send_to(buf, target).await
    }

    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        self.inner.remote_addr()
    }

    async fn close(&self) -> webrtc_util::Result<()> {
        // Called by the TURN crate whenever one allocation ends: the listener is shared
        // by all of them and stays open until the relay stops.
        Ok(())
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

/// Makes each allocation's relayed socket, on the configured ports.
struct Relays {
    inner: RelayAddressGeneratorRanges,
    shared: Arc<Shared>,
    allocating: Arc<Mutex<Option<String>>>,
}

#[async_trait]
impl RelayAddressGenerator for Relays {
    fn validate(&self) -> Result<(), turn::Error> {
        self.inner.validate()
    }

    async fn allocate_conn(
        &self,
        use_ipv4: bool,
        requested_port: u16,
    ) -> Result<(Arc<dyn Conn + Send + Sync>, SocketAddr), turn::Error> {
        let (conn, addr) = self.inner.allocate_conn(use_ipv4, requested_port).await?;
        let username = self
            .allocating
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
            .unwrap_or_default();
        self.shared.gate().allocated(&username);
        self.shared.metrics.allocations.inc();
        let bandwidth = self.shared.bandwidth_for(&username);
        Ok((
            Arc::new(Relayed {
                inner: conn,
                shared: self.shared.clone(),
                username,
                bandwidth,
            }),
            addr,
        ))
    }
}

/// One allocation's socket towards its peers: only allowed peers, within the
/// credential's bandwidth, every byte counted. Dropped with its allocation.
struct Relayed {
    inner: Arc<dyn Conn + Send + Sync>,
    shared: Arc<Shared>,
    username: String,
    bandwidth: Arc<DefaultDirectRateLimiter>,
}

impl Relayed {
    /// Whether a packet of `n` bytes to or from `peer` may pass.
    fn passes(&self, peer: IpAddr, n: usize) -> bool {
        if !(self.shared.allow_private_peers || gate::public_peer(peer)) {
            self.shared.refused(Refusal::PrivatePeer);
            return false;
        }
        let cells =
            NonZeroU32::new(u32::try_from(n).unwrap_or(u32::MAX).max(1)).expect("at least one");
        if !matches!(self.bandwidth.check_n(cells), Ok(Ok(()))) {
            self.shared.refused(Refusal::Bandwidth);
            return false;
        }
        self.shared.metrics.relayed_bytes.inc_by(n as u64);
        true
    }
}

impl Drop for Relayed {
    fn drop(&mut self) {
        self.shared.gate().released(&self.username);
        self.shared.metrics.allocations.dec();
    }
}

#[async_trait]
impl Conn for Relayed {
    async fn connect(&self, addr: SocketAddr) -> webrtc_util::Result<()> {
        self.inner.connect(addr).await
    }

    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        self.inner.recv(buf).await
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        loop {
            let (n, from) = self.inner.recv_from(buf).await?;
            if self.passes(from.ip(), n) {
                return Ok((n, from));
            }
        }
    }

    async fn send(&self, buf: &[u8]) -> webrtc_util::Result<usize> {
        self.inner.send(buf).await
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> webrtc_util::Result<usize> {
        if !self.passes(target.ip(), buf.len()) {
            // Dropped, as the network would.
            return Ok(buf.len());
        }
        self.inner.send_to(buf, target).await
    }

    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        self.inner.remote_addr()
    }

    async fn close(&self) -> webrtc_util::Result<()> {
        self.inner.close().await
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

/// A running relay.
pub struct Relay {
    server: turn::server::Server,
    tcp: Arc<tcp::TcpTurn>,
    /// Where it listens (UDP and TCP on one port).
    pub local: SocketAddr,
    /// What browsers are told: the relay over UDP, then over TCP.
    pub urls: Vec<String>,
}

impl Relay {
    /// Starts the relay `settings` describe, checking credentials signed with `secret`.
    pub async fn start(
        settings: &RelaySettings,
        listen: SocketAddr,
        secret: Secret,
        metrics: TurnMetrics,
    ) -> std::io::Result<Relay> {
        let (udp, tcp) = bind_both(listen).await?;
        let local = udp.local_addr()?;
        let public = settings.turn_public_address.unwrap_or(local.ip());
        let bits = settings.turn_max_bitrate / 8;
        let shared = Arc::new(Shared {
            gate: Mutex::new(Gate::new(
                settings.turn_allow_private_peers,
                settings.turn_max_allocations as usize,
            )),
            secret,
            metrics,
            bandwidth: Mutex::default(),
            bytes_per_second: NonZeroU32::new(bits)
                .expect("turn_max_bitrate is at least 64 kbit/s"),
            allow_private_peers: settings.turn_allow_private_peers,
        });
        let tcp = Arc::new(tcp);
        let listeners: [Arc<dyn Conn + Send + Sync>; 2] = [Arc::new(udp), tcp.clone()];
        let conn_configs = listeners
            .into_iter()
            .map(|listener| {
                let allocating = Arc::new(Mutex::new(None));
                ConnConfig {
                    conn: Arc::new(Gated {
                        inner: listener,
                        shared: shared.clone(),
                        allocating: allocating.clone(),
                    }),
                    relay_addr_generator: Box::new(Relays {
                        inner: RelayAddressGeneratorRanges {
                            relay_address: public,
                            min_port: settings.turn_relay_ports.first,
                            max_port: settings.turn_relay_ports.last,
                            max_retries: 40,
                            address: local.ip().to_string(),
                            net: Arc::new(webrtc_util::vnet::net::Net::new(None)),
                        },
                        shared: shared.clone(),
                        allocating,
                    }),
                }
            })
            .collect();
        let server = turn::server::Server::new(ServerConfig {
            conn_configs,
            realm: REALM.to_owned(),
            auth_handler: Arc::new(RestAuth(shared)),
            channel_bind_timeout: std::time::Duration::ZERO,
            alloc_close_notify: None,
        })
        .await
        .map_err(|e| std::io::Error::other(format!("cannot start the TURN relay: {e}")))?;
        let host = match public {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => format!("[{v6}]"),
        };
        let urls = ["udp", "tcp"]
            .map(|transport| format!("turn:{host}:{}?transport={transport}", local.port()))
            .to_vec();
        Ok(Relay {
            server,
            tcp,
            local,
            urls,
        })
    }

    /// Ends every allocation and stops listening.
    pub async fn stop(&self) {
        let _ = self.server.close().await;
        self.tcp.shut();
    }
}

/// A UDP socket and a TCP listener on one port (port 0: a free one for both).
async fn bind_both(listen: SocketAddr) -> std::io::Result<(tokio::net::UdpSocket, tcp::TcpTurn)> {
    let mut last_error = None;
    for _ in 0..20 {
        let udp = tokio::net::UdpSocket::bind(listen).await?;
        let mut at = listen;
        at.set_port(udp.local_addr()?.port());
        match tcp::TcpTurn::bind(at).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if listen.port() == 0 => last_error = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_error.unwrap_or_else(|| std::io::Error::other("no port free for UDP and TCP")))
}
