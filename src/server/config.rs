//! The server's runtime configuration: `Leptos.toml`, then environment, then flags.
//!
//! cargo-leptos reads its *build* settings from Cargo.toml; this file is what the running
//! binary needs. Each setting is declared once, as a field below: its name is the file's
//! `snake_case` key, its `--kebab-case` flag and its `TANDEM_UPPER_CASE` variable; its
//! `default_value` is what `--help` shows; its `value_parser` is its check. Flags win
//! over the environment, both over the file: the file's values are handed to clap as the
//! defaults. What no single setting can check alone is in [`Config::check`].

use crate::protocol::file::DEFAULT_MAX_FILE_BYTES;
use crate::protocol::signaling::{
    IceTransportPolicy, DEFAULT_ROOM_CAPACITY, DEFAULT_UPLOAD_BUDGET, MAX_ROOM_CAPACITY,
};
use clap::{Args, CommandFactory, FromArgMatches, Parser, ValueEnum};
use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// Where the server looks for its configuration when `--config` is not given.
pub const DEFAULT_CONFIG_FILE: &str = "Leptos.toml";
/// Shortest secret accepted (resume and TURN secrets), in bytes.
pub const MIN_SECRET_LEN: usize = 16;
/// Range of `upload_budget` accepted, in bits per second: below 100 kbps no video fits,
/// above 1 Gbps the figure is surely a typo.
pub const MIN_UPLOAD_BUDGET: u64 = 100_000;
pub const MAX_UPLOAD_BUDGET: u64 = 1_000_000_000;
/// Range of `max_message_bytes` accepted: a session description needs a few KiB.
pub const MIN_MESSAGE_BYTES: usize = 4 * 1024;
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;

/// The configuration the server runs with.
#[derive(Clone, Debug, PartialEq, Parser)]
#[command(
    name = "tandem",
    version,
    about = "Self-hosted peer-to-peer video calls",
    long_about = "Self-hosted peer-to-peer video calls.\n\nEvery setting can also be given in \
                  the configuration file (snake_case names) or the environment (TANDEM_…); \
                  flags win over the environment, the environment over the file."
)]
pub struct Config {
    /// Configuration file [default: Leptos.toml in the working directory, if present]
    #[arg(long, env = "TANDEM_CONFIG")]
    pub config: Option<PathBuf>,

    /// Address to listen on; port 0 picks a free port, printed at start
    #[arg(long, env = "TANDEM_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub calls: CallSettings,

    #[command(flatten)]
    pub connections: ConnectionSettings,

    #[command(flatten)]
    pub ice: IceSettings,

    #[command(flatten)]
    pub relay: RelaySettings,

    #[command(flatten)]
    pub tls: TlsSettings,

    #[command(flatten)]
    pub cluster: ClusterSettings,

    #[command(flatten)]
    pub log: LogSettings,
}

/// What the rooms need: seats, and what browsers are told on joining.
#[derive(Clone, Debug, PartialEq, Args)]
#[command(next_help_heading = "Calls")]
pub struct CallSettings {
    /// Seats per room, 2 to 8: everyone sends to everyone, and past 8 a call needs a
    /// media server
    #[arg(long, env = "TANDEM_ROOM_CAPACITY", default_value_t = DEFAULT_ROOM_CAPACITY,
          value_parser = room_capacity)]
    pub room_capacity: usize,

    /// Upload each browser shares among the people it sends video to, in bits per second:
    /// the floor, unless the browser shows its link is the limit
    #[arg(long, env = "TANDEM_UPLOAD_BUDGET", default_value_t = DEFAULT_UPLOAD_BUDGET,
          value_parser = upload_budget)]
    pub upload_budget: u64,

    /// Largest file people may send each other, in bytes; files go peer to peer, the
    /// server only tells both browsers the limit
    #[arg(long, env = "TANDEM_MAX_FILE_BYTES", default_value_t = DEFAULT_MAX_FILE_BYTES,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_file_bytes: u64,

    /// Secret that signs resume tokens (16+ characters), so calls resume across server
    /// restarts [default: a random one per start]
    #[arg(long, env = "TANDEM_RESUME_SECRET", hide_env_values = true, value_parser = secret)]
    pub resume_secret: Option<Secret>,
}

/// What each signaling connection is held to.
#[derive(Clone, Debug, PartialEq, Args)]
#[command(next_help_heading = "Connections")]
pub struct ConnectionSettings {
    /// Origins whose pages may open the signaling socket, e.g. https://call.example.org
    /// (comma-separated) [default: the server's own origin only]
    #[arg(long = "allowed-origin", env = "TANDEM_ALLOWED_ORIGINS", value_delimiter = ',',
          value_parser = origin)]
    pub allowed_origins: Vec<String>,

    /// Largest signaling message accepted, in bytes; a bigger one closes the socket with
    /// code 1009
    #[arg(long, env = "TANDEM_MAX_MESSAGE_BYTES", default_value = "65536",
          value_parser = message_bytes)]
    pub max_message_bytes: usize,

    /// Messages per second one connection may send, on average
    #[arg(long, env = "TANDEM_RATE_LIMIT", default_value = "20", value_parser = at_least_one)]
    pub rate_limit: u32,

    /// Messages one connection may send at once before the rate limit applies; this many
    /// refused messages within rate_burst seconds close the socket (1008)
    #[arg(long, env = "TANDEM_RATE_BURST", default_value = "60", value_parser = at_least_one)]
    pub rate_burst: u32,

    /// Open signaling connections allowed from one IP address
    #[arg(long, env = "TANDEM_MAX_CONNECTIONS_PER_IP", default_value = "20",
          value_parser = at_least_one)]
    pub max_connections_per_ip: u32,

    /// Open TCP connections of all kinds (pages, files, signaling sockets, TLS
    /// handshakes); past it new connections are closed at once and open ones carry on.
    /// Keep it below the process's open-file limit (`ulimit -n`)
    #[arg(long, env = "TANDEM_MAX_CONNECTIONS", default_value = "10000",
          value_parser = at_least_one)]
    pub max_connections: u32,

    /// IPv6 addresses count together for max_connections_per_ip when they share this many
    /// leading bits (one home or phone is given a whole /64), 32 to 128
    #[arg(long, env = "TANDEM_IPV6_PREFIX", default_value = "64", value_parser = ipv6_prefix)]
    pub ipv6_prefix: u8,

    /// Addresses of the reverse proxies or load balancers in front of this server
    /// (comma-separated): for connections from them, the person's address is read from
    /// X-Forwarded-For, so that max_connections_per_ip counts people, not the proxy
    /// [default: none]
    #[arg(
        long = "trusted-proxy",
        env = "TANDEM_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<std::net::IpAddr>,

    /// How long a dropped participant's seat is held for them to come back; then the
    /// others are told they left
    #[arg(long, env = "TANDEM_RESUME_GRACE", default_value = "20s", value_parser = duration)]
    pub resume_grace: Duration,

    /// How often the server pings each connection
    #[arg(long, env = "TANDEM_HEARTBEAT_INTERVAL", default_value = "5s",
          value_parser = duration)]
    pub heartbeat_interval: Duration,

    /// Silence (not even a pong) after which a connection counts as dead; a vanished
    /// person is announced after at most this plus resume_grace
    #[arg(long, env = "TANDEM_HEARTBEAT_TIMEOUT", default_value = "10s",
          value_parser = duration)]
    pub heartbeat_timeout: Duration,

    /// Longest one message may take to be written to a connection; past it the client
    /// counts as not reading and is dropped
    #[arg(long, env = "TANDEM_WRITE_TIMEOUT", default_value = "10s", value_parser = duration)]
    pub write_timeout: Duration,
}

/// How browsers find a path to each other: what they are told on join.
#[derive(Clone, Debug, PartialEq, Args)]
#[command(next_help_heading = "ICE")]
pub struct IceSettings {
    /// STUN servers for the browsers, e.g. stun:stun.example.org:3478 (comma-separated)
    /// [default: none; peers on one network need none]
    #[arg(long = "stun-url", env = "TANDEM_STUN_URLS", value_delimiter = ',',
          value_parser = stun_url)]
    pub stun_urls: Vec<String>,

    /// TURN servers for the browsers, e.g. turn:turn.example.org:3478?transport=udp
    /// (comma-separated); needs turn_secret or turn_username + turn_password [default: none]
    #[arg(long = "turn-url", env = "TANDEM_TURN_URLS", value_delimiter = ',',
          value_parser = turn_url)]
    pub turn_urls: Vec<String>,

    /// Shared secret of the TURN server (coturn's static-auth-secret): every join gets
    /// its own short-lived credentials, made the way coturn's REST API expects
    #[arg(long, env = "TANDEM_TURN_SECRET", hide_env_values = true, value_parser = secret)]
    pub turn_secret: Option<Secret>,

    /// How long TURN credentials made from turn_secret stay valid
    #[arg(long, env = "TANDEM_TURN_CREDENTIAL_LIFETIME", default_value = "1h",
          value_parser = credential_lifetime)]
    pub turn_credential_lifetime: Duration,

    /// Fixed TURN user name, for TURN servers without a shared secret
    #[arg(long, env = "TANDEM_TURN_USERNAME")]
    pub turn_username: Option<String>,

    /// Fixed TURN password, with turn_username
    #[arg(long, env = "TANDEM_TURN_PASSWORD", hide_env_values = true)]
    pub turn_password: Option<Secret>,

    /// Which paths browsers may use: "all", or "relay" to send all media through TURN
    /// (hides each person's address from the other)
    #[arg(long, env = "TANDEM_ICE_TRANSPORT_POLICY", default_value = "all",
          value_parser = transport_policy)]
    pub ice_transport_policy: IceTransportPolicy,
}

/// The TURN relay built into the server (src/server/relay/): unset, none runs.
#[derive(Clone, Debug, PartialEq, Args)]
#[command(next_help_heading = "Built-in TURN relay")]
pub struct RelaySettings {
    /// Run a TURN relay on this address, over UDP and TCP alike, e.g. 0.0.0.0:3478;
    /// browsers are handed its turn: URLs and credentials signed with turn_secret
    /// [default: none]
    #[arg(long, env = "TANDEM_TURN_LISTEN")]
    pub turn_listen: Option<SocketAddr>,

    /// The address browsers reach the relay at, for a server behind NAT (its relayed
    /// addresses and turn: URLs name it) [default: turn_listen's address]
    #[arg(long, env = "TANDEM_TURN_PUBLIC_ADDRESS")]
    pub turn_public_address: Option<std::net::IpAddr>,

    /// Ports the relay gives its allocations, e.g. 49152-65535 (open them in the
    /// firewall, UDP)
    #[arg(long, env = "TANDEM_TURN_RELAY_PORTS", default_value = "49152-65535",
          value_parser = port_range)]
    pub turn_relay_ports: PortRange,

    /// Let the relay send to loopback, private, link-local and other non-public
    /// addresses; off, a credential cannot reach into the network the server is in
    #[arg(long, env = "TANDEM_TURN_ALLOW_PRIVATE_PEERS", default_value = "false",
          num_args = 0..=1, default_missing_value = "true",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub turn_allow_private_peers: bool,

    /// Allocations one credential (one person in one call) may hold at once: a browser
    /// makes one per TURN URL for each person it talks to
    #[arg(long, env = "TANDEM_TURN_MAX_ALLOCATIONS", default_value = "16",
          value_parser = at_least_one)]
    pub turn_max_allocations: u32,

    /// Bits per second one credential may relay, both ways together; past it packets
    /// are dropped
    #[arg(long, env = "TANDEM_TURN_MAX_BITRATE", default_value = "20000000",
          value_parser = clap::value_parser!(u32).range(64_000..))]
    pub turn_max_bitrate: u32,
}

/// A range of ports, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

/// Where the certificate for HTTPS comes from, if anywhere.
#[derive(Clone, Debug, PartialEq, Args)]
#[command(next_help_heading = "HTTPS")]
pub struct TlsSettings {
    /// TLS certificate chain (PEM); with tls_key, serve HTTPS and WSS
    #[arg(long, env = "TANDEM_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,

    /// TLS private key (PEM), with tls_cert
    #[arg(long, env = "TANDEM_TLS_KEY")]
    pub tls_key: Option<PathBuf>,

    /// Serve HTTPS with a certificate made at start for these host names and IP
    /// addresses (comma-separated), for trying Tandem across a LAN; browsers will warn
    #[arg(long, env = "TANDEM_SELF_SIGNED", value_delimiter = ',')]
    pub self_signed: Option<Vec<String>>,
}

/// Several Tandem servers sharing rooms through Redis. Unset, rooms live in this process
/// and nothing else is needed.
#[derive(Clone, Debug, PartialEq, Args)]
#[command(next_help_heading = "Several servers")]
pub struct ClusterSettings {
    /// Redis through which several Tandem servers share rooms, e.g.
    /// redis://127.0.0.1:6379/0 or redis+unix:///run/redis.sock; every server needs the
    /// same resume_secret [default: none; rooms stay in this process]
    #[arg(long, env = "TANDEM_REDIS_URL", hide_env_values = true, value_parser = redis_url)]
    pub redis_url: Option<Secret>,

    /// Prefix of every Redis key and channel Tandem uses, so that several deployments
    /// can share one Redis
    #[arg(long, env = "TANDEM_REDIS_PREFIX", default_value = "tandem",
          value_parser = redis_prefix)]
    pub redis_prefix: String,

    /// A server silent in Redis this long counts as gone: its seats wait resume_grace
    /// for their people to resume on another server, then are freed
    #[arg(long, env = "TANDEM_SERVER_LIVENESS", default_value = "15s", value_parser = duration)]
    pub server_liveness: Duration,

    /// CA certificate (PEM file) that signed the Redis server's certificate, for a
    /// rediss:// redis_url [default: the system's trusted roots]
    #[arg(long, env = "TANDEM_REDIS_CA")]
    pub redis_ca: Option<PathBuf>,
}

#[derive(Clone, Debug, PartialEq, Args)]
#[command(next_help_heading = "Logs")]
pub struct LogSettings {
    /// Log format
    #[arg(long, env = "TANDEM_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,

    /// Log level or filter, e.g. "debug" or "info,tandem=debug"
    #[arg(long, env = "TANDEM_LOG_LEVEL", default_value = "info", value_parser = log_filter)]
    pub log_level: String,
}

/// A secret: never printed, not even by `{:?}`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(text: &str) -> Result<Secret, Self::Err> {
        Ok(Secret(text.to_owned()))
    }
}

impl From<&str> for Secret {
    fn from(text: &str) -> Secret {
        Secret(text.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Lines for people.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// How browsers authenticate to the TURN servers.
#[derive(Clone, Debug, PartialEq)]
pub enum TurnAuth {
    /// coturn's `use-auth-secret`: fresh credentials per join, valid for `lifetime`.
    Rest { secret: Secret, lifetime: Duration },
    /// One fixed user name and password for everyone.
    Static { username: String, password: Secret },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Turn {
    pub urls: Vec<String>,
    pub auth: TurnAuth,
}

/// Where the certificate for HTTPS comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum Tls {
    Files { cert: PathBuf, key: PathBuf },
    SelfSigned { hosts: Vec<String> },
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    InFile {
        path: PathBuf,
        source: Box<ConfigError>,
    },
    #[error("{0}")]
    Parse(Box<toml::de::Error>),
    #[error("setting `{setting}`: {why}")]
    Invalid { setting: String, why: String },
    /// What clap says of the command line: `--help`, `--version`, or a flag it does not
    /// know. [`clap::Error::exit`] prints it as clap would.
    #[error("{0}")]
    Usage(clap::Error),
}

impl ConfigError {
    pub fn invalid(setting: &str, why: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            setting: setting.to_owned(),
            why: why.into(),
        }
    }

    /// A setting's value parser refused a value: named by the setting, not by the flag,
    /// since the value may have come from the file or the environment. The value itself
    /// is left out (it may be a secret); each parser names it when that is safe.
    fn from_clap(error: clap::Error, command: &clap::Command) -> ConfigError {
        use clap::error::{ContextKind, ContextValue, ErrorKind};
        let setting = match error.get(ContextKind::InvalidArg) {
            Some(ContextValue::String(flag)) => command
                .get_arguments()
                .find(|arg| {
                    // The flag as clap shows it: `--name <VALUE>` (a prefix alone could
                    // be another setting's: --max-connections, --max-connections-per-ip).
                    arg.get_long().is_some_and(|long| {
                        let given = flag.split([' ', '=']).next().unwrap_or_default();
                        given == format!("--{long}")
                    })
                })
                .map(|arg| arg.get_id().to_string()),
            _ => None,
        };
        let why = match (error.kind(), std::error::Error::source(&error)) {
            (ErrorKind::ValueValidation, Some(why)) => why.to_string(),
            (ErrorKind::InvalidValue, _) => match error.get(ContextKind::ValidValue) {
                Some(valid) => format!("must be one of: {valid}"),
                None => "not a valid value".to_owned(),
            },
            _ => return ConfigError::Usage(error),
        };
        match setting {
            Some(setting) => ConfigError::Invalid { setting, why },
            None => ConfigError::Usage(error),
        }
    }
}

impl Default for Config {
    /// Every default, whatever the environment says.
    fn default() -> Config {
        let command = Config::command().mut_args(|arg| arg.env(None));
        command
            .try_get_matches_from(["tandem"])
            .and_then(|matches| Config::from_arg_matches(&matches))
            .expect("the declared defaults parse")
    }
}

impl Config {
    /// Builds the configuration from the command line `args` (program name first) and the
    /// environment, over the file `--config` names (or the default file, when present).
    pub fn load<I, T>(args: I) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let command = Config::command();
        // Flags and environment first, alone: an error here is theirs.
        let matches = command
            .clone()
            .try_get_matches_from(&args)
            .map_err(|e| ConfigError::from_clap(e, &command))?;
        let path = match matches.get_one::<PathBuf>("config") {
            Some(path) => path.clone(),
            None => match Path::new(DEFAULT_CONFIG_FILE) {
                path if path.exists() => path.to_path_buf(),
                _ => return Config::checked(&matches),
            },
        };
        let in_file = |source| ConfigError::InFile {
            path: path.clone(),
            source: Box::new(source),
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let command = with_file_defaults(command, &text).map_err(in_file)?;
        let matches = command
            .clone()
            .try_get_matches_from(&args)
            .map_err(|e| in_file(ConfigError::from_clap(e, &command)))?;
        Config::checked(&matches).map_err(in_file)
    }

    /// Parses and checks the text of a configuration file alone.
    #[cfg(test)]
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let command = Config::command().mut_args(|arg| arg.env(None));
        let command = with_file_defaults(command, text)?;
        let matches = command
            .clone()
            .try_get_matches_from(["tandem"])
            .map_err(|e| ConfigError::from_clap(e, &command))?;
        Config::checked(&matches)
    }

    fn checked(matches: &clap::ArgMatches) -> Result<Config, ConfigError> {
        let config = Config::from_arg_matches(matches).map_err(ConfigError::Usage)?;
        config.check()?;
        Ok(config)
    }

    /// Checks what no single setting can check alone.
    pub fn check(&self) -> Result<(), ConfigError> {
        let connections = &self.connections;
        if connections.heartbeat_timeout <= connections.heartbeat_interval {
            return Err(ConfigError::invalid(
                "heartbeat_timeout",
                format!(
                    "{} must be longer than heartbeat_interval ({}), or every connection times out",
                    humantime::format_duration(connections.heartbeat_timeout),
                    humantime::format_duration(connections.heartbeat_interval)
                ),
            ));
        }
        if self.cluster.redis_url.is_some() && self.calls.resume_secret.is_none() {
            return Err(ConfigError::invalid(
                "redis_url",
                "servers sharing rooms must share resume_secret too, or a person cannot \
                 resume their seat on another server",
            ));
        }
        if let Some(ca) = &self.cluster.redis_ca {
            let tls = self
                .cluster
                .redis_url
                .as_ref()
                .is_some_and(|url| url.expose().starts_with("rediss://"));
            if !tls {
                return Err(ConfigError::invalid(
                    "redis_ca",
                    "is only for a rediss:// redis_url (Redis over TLS)",
                ));
            }
            if let Err(e) = std::fs::metadata(ca) {
                return Err(ConfigError::invalid(
                    "redis_ca",
                    format!("cannot read {}: {e}", ca.display()),
                ));
            }
        }
        if let Some(listen) = self.relay.turn_listen {
            if self.ice.turn_username.is_some() || self.ice.turn_password.is_some() {
                return Err(ConfigError::invalid(
                    "turn_listen",
                    "the built-in relay takes credentials signed with turn_secret, not \
                     turn_username and turn_password",
                ));
            }
            if self.cluster.redis_url.is_some() && self.ice.turn_secret.is_none() {
                return Err(ConfigError::invalid(
                    "turn_listen",
                    "servers sharing rooms must share turn_secret too, or a credential from \
                     one server fails on another's relay",
                ));
            }
            if listen.ip().is_unspecified() && self.relay.turn_public_address.is_none() {
                return Err(ConfigError::invalid(
                    "turn_public_address",
                    format!(
                        "needed with turn_listen {listen}: browsers must be told an address \
                         they can reach the relay at"
                    ),
                ));
            }
        } else if self.relay.turn_public_address.is_some() {
            return Err(ConfigError::invalid(
                "turn_public_address",
                "is for the built-in relay: set turn_listen too",
            ));
        }
        self.ice.check(self.relay.turn_listen.is_some())?;
        self.tls.check()
    }
}

impl IceSettings {
    /// The TURN servers and how browsers log in to them, once [`IceSettings::check`] has
    /// passed (it turns away every combination this does not read).
    pub fn turn(&self) -> Option<Turn> {
        let auth = match (&self.turn_secret, &self.turn_username, &self.turn_password) {
            (Some(secret), None, None) => TurnAuth::Rest {
                secret: secret.clone(),
                lifetime: self.turn_credential_lifetime,
            },
            (None, Some(username), Some(password)) => TurnAuth::Static {
                username: username.clone(),
                password: password.clone(),
            },
            _ => return None,
        };
        Some(Turn {
            urls: self.turn_urls.clone(),
            auth,
        })
        .filter(|turn| !turn.urls.is_empty())
    }

    /// `relay`: the built-in relay runs, which needs no turn_urls.
    fn check(&self, relay: bool) -> Result<(), ConfigError> {
        let has_credentials = match (&self.turn_secret, &self.turn_username, &self.turn_password) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(ConfigError::invalid(
                    "turn_secret",
                    "give either turn_secret or turn_username + turn_password, not both",
                ))
            }
            (None, Some(_), None) => {
                return Err(ConfigError::invalid(
                    "turn_password",
                    "needed with turn_username",
                ))
            }
            (None, None, Some(_)) => {
                return Err(ConfigError::invalid(
                    "turn_username",
                    "needed with turn_password",
                ))
            }
            (None, None, None) => false,
            _ => true,
        };
        match (self.turn_urls.is_empty(), has_credentials) {
            _ if relay => Ok(()),
            (true, true) => Err(ConfigError::invalid(
                "turn_urls",
                "TURN credentials are set but no TURN server is",
            )),
            (false, false) => Err(ConfigError::invalid(
                "turn_urls",
                "a TURN server needs turn_secret, or turn_username and turn_password",
            )),
            _ => Ok(()),
        }
    }
}

impl TlsSettings {
    /// Where the certificate comes from, once [`TlsSettings::check`] has passed.
    pub fn source(&self) -> Option<Tls> {
        match (&self.tls_cert, &self.tls_key, &self.self_signed) {
            (Some(cert), Some(key), None) => Some(Tls::Files {
                cert: cert.clone(),
                key: key.clone(),
            }),
            (None, None, Some(hosts)) => Some(Tls::SelfSigned {
                hosts: hosts.clone(),
            }),
            _ => None,
        }
    }

    /// Whether pages are served over HTTPS with a real certificate (HSTS is sent then).
    pub fn has_certificate_files(&self) -> bool {
        matches!(self.source(), Some(Tls::Files { .. }))
    }

    fn check(&self) -> Result<(), ConfigError> {
        match (&self.tls_cert, &self.tls_key, &self.self_signed) {
            (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => Err(ConfigError::invalid(
                "self_signed",
                "give either tls_cert + tls_key or self_signed, not both",
            )),
            (Some(_), None, None) => Err(ConfigError::invalid("tls_key", "needed with tls_cert")),
            (None, Some(_), None) => Err(ConfigError::invalid("tls_cert", "needed with tls_key")),
            (None, None, Some(hosts)) if hosts.iter().all(|h| h.trim().is_empty()) => Err(
                ConfigError::invalid("self_signed", "name at least one host name or IP address"),
            ),
            _ => Ok(()),
        }
    }
}

/// The command with the file's values as its defaults, so that the environment and flags
/// still win and every value goes through the same parser. A key that names no setting
/// is an error: a typo must not be silently ignored.
fn with_file_defaults(command: clap::Command, text: &str) -> Result<clap::Command, ConfigError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Parse(Box::new(e)))?;
    let mut command = command;
    for (key, value) in table {
        let Some(arg) = command
            .get_arguments()
            .find(|arg| arg.get_id() == key.as_str() && arg.get_id() != "config")
        else {
            return Err(ConfigError::invalid(&key, "no such setting"));
        };
        let is_list = arg.get_value_delimiter().is_some();
        let values = match (value, is_list) {
            (toml::Value::Array(items), true) => items
                .into_iter()
                .map(|item| scalar(&key, item))
                .collect::<Result<Vec<_>, _>>()?,
            (toml::Value::Array(_), false) => {
                return Err(ConfigError::invalid(&key, "takes one value, not a list"))
            }
            (value, _) => vec![scalar(&key, value)?],
        };
        command = command.mut_arg(&key, |arg| arg.default_values(values));
    }
    Ok(command)
}

fn scalar(key: &str, value: toml::Value) -> Result<String, ConfigError> {
    match value {
        toml::Value::String(text) => Ok(text),
        toml::Value::Integer(number) => Ok(number.to_string()),
        toml::Value::Boolean(yes) => Ok(yes.to_string()),
        _ => Err(ConfigError::invalid(
            key,
            "must be a string, a whole number or true/false",
        )),
    }
}

// Each setting's own check, named in its declaration above.

fn duration(text: &str) -> Result<Duration, String> {
    let parsed = humantime::parse_duration(text)
        .map_err(|e| format!("{text:?}: {e} (try \"20s\" or \"500ms\")"))?;
    if parsed.is_zero() {
        return Err("must be more than zero".into());
    }
    Ok(parsed)
}

fn port_range(text: &str) -> Result<PortRange, String> {
    let (first, last) = text
        .split_once('-')
        .ok_or_else(|| format!("{text:?}: write it as first-last, e.g. 49152-65535"))?;
    let port = |text: &str| {
        text.trim()
            .parse::<u16>()
            .ok()
            .filter(|&port| port > 0)
            .ok_or_else(|| format!("{text:?} is not a port (1 to 65535)"))
    };
    let range = PortRange {
        first: port(first)?,
        last: port(last)?,
    };
    if range.last < range.first {
        return Err(format!("{text:?}: the first port is above the last"));
    }
    Ok(range)
}

fn credential_lifetime(text: &str) -> Result<Duration, String> {
    match duration(text)? {
        lifetime if lifetime < Duration::from_secs(60) => {
            Err("must be at least 1 minute, or calls lose their relay mid-setup".into())
        }
        lifetime => Ok(lifetime),
    }
}

/// The secret itself is never echoed.
fn secret(text: &str) -> Result<Secret, String> {
    if text.len() < MIN_SECRET_LEN {
        return Err(format!("must be at least {MIN_SECRET_LEN} characters"));
    }
    Ok(Secret(text.to_owned()))
}

fn redis_url(text: &str) -> Result<Secret, String> {
    // The value may hold a password: only the scheme is ever named.
    let scheme = text.split_once("://").map_or("", |(scheme, _)| scheme);
    match scheme {
        "redis" | "rediss" | "redis+unix" | "unix" => {}
        _ => return Err("must start with redis://, rediss:// (TLS) or redis+unix://".into()),
    }
    redis::Client::open(text).map_err(|_| "not a valid Redis address".to_owned())?;
    Ok(Secret(text.to_owned()))
}

fn redis_prefix(text: &str) -> Result<String, String> {
    let fits = !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if fits {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "{text:?} must be 1 to 64 letters, digits, '-', '_' or '.'"
        ))
    }
}

fn room_capacity(text: &str) -> Result<usize, String> {
    match text
        .parse::<usize>()
        .map_err(|e| format!("{text:?}: {e}"))?
    {
        seats @ 0..=1 => Err(format!("{seats} seats cannot hold a call; use 2 or more")),
        seats if seats > MAX_ROOM_CAPACITY => Err(format!(
            "{seats} is more than {MAX_ROOM_CAPACITY}: everyone sends to everyone, and a full \
             mesh past {MAX_ROOM_CAPACITY} people needs a media server"
        )),
        seats => Ok(seats),
    }
}

fn upload_budget(text: &str) -> Result<u64, String> {
    let bits = text.parse::<u64>().map_err(|e| format!("{text:?}: {e}"))?;
    if !(MIN_UPLOAD_BUDGET..=MAX_UPLOAD_BUDGET).contains(&bits) {
        return Err(format!(
            "{bits} bits per second is outside {MIN_UPLOAD_BUDGET}..={MAX_UPLOAD_BUDGET}"
        ));
    }
    Ok(bits)
}

fn message_bytes(text: &str) -> Result<usize, String> {
    let bytes = text
        .parse::<usize>()
        .map_err(|e| format!("{text:?}: {e}"))?;
    if !(MIN_MESSAGE_BYTES..=MAX_MESSAGE_BYTES).contains(&bytes) {
        return Err(format!(
            "{bytes} is outside {MIN_MESSAGE_BYTES}..={MAX_MESSAGE_BYTES} (a session \
             description needs a few KiB)"
        ));
    }
    Ok(bytes)
}

fn at_least_one(text: &str) -> Result<u32, String> {
    match text.parse::<u32>().map_err(|e| format!("{text:?}: {e}"))? {
        0 => Err("must be at least 1".into()),
        n => Ok(n),
    }
}

fn ipv6_prefix(text: &str) -> Result<u8, String> {
    match text.parse::<u8>().map_err(|e| format!("{text:?}: {e}"))? {
        bits @ 32..=128 => Ok(bits),
        _ => Err("must be 32 to 128 (bits of an IPv6 address)".into()),
    }
}

fn stun_url(url: &str) -> Result<String, String> {
    if !(url.starts_with("stun:") || url.starts_with("stuns:")) {
        return Err(format!("{url:?} must start with stun: or stuns:"));
    }
    Ok(url.to_owned())
}

fn turn_url(url: &str) -> Result<String, String> {
    if !(url.starts_with("turn:") || url.starts_with("turns:")) {
        return Err(format!("{url:?} must start with turn: or turns:"));
    }
    Ok(url.to_owned())
}

fn transport_policy(text: &str) -> Result<IceTransportPolicy, String> {
    match text {
        "all" => Ok(IceTransportPolicy::All),
        "relay" => Ok(IceTransportPolicy::Relay),
        _ => Err(format!("{text:?} must be \"all\" or \"relay\"")),
    }
}

/// An origin is `scheme://host[:port]`, exactly as browsers send it: no path, no slash.
fn origin(origin: &str) -> Result<String, String> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(|| format!("{origin:?} must start with https:// or http://"))?;
    if rest.is_empty() || rest.contains(['/', '?', '#', ' ']) {
        return Err(format!(
            "{origin:?} must be scheme://host[:port] with no path"
        ));
    }
    Ok(origin.to_owned())
}

fn log_filter(text: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::try_new(text).map_err(|e| format!("{text:?}: {e}"))?;
    Ok(text.to_owned())
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        assert_eq!(Config::from_toml("").unwrap(), Config::default());
        let defaults = Config::default();
        assert_eq!(defaults.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(
            defaults.connections.heartbeat_timeout,
            Duration::from_secs(10)
        );
        assert_eq!(defaults.calls.room_capacity, DEFAULT_ROOM_CAPACITY);
        assert!(defaults.ice.turn().is_none() && defaults.tls.source().is_none());
    }

    #[test]
    fn shipped_file_parses() {
        let text = include_str!("../../Leptos.toml");
        let config = Config::from_toml(text).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:3000");
        assert!(config.ice.stun_urls.is_empty() && config.ice.turn().is_none());
    }

    #[test]
    fn full_file_parses() {
        let config = Config::from_toml(
            r#"
            listen = "0.0.0.0:8443"
            allowed_origins = ["https://call.example.org"]
            stun_urls = ["stun:127.0.0.1:3478"]
            turn_urls = ["turn:127.0.0.1:3478?transport=udp"]
            turn_secret = "0123456789abcdef"
            turn_credential_lifetime = "2h"
            ice_transport_policy = "relay"
            room_capacity = 8
            upload_budget = 1000000
            max_message_bytes = 8192
            rate_limit = 5
            rate_burst = 10
            max_connections_per_ip = 3
            write_timeout = "3s"
            log_format = "json"
            log_level = "debug"
            self_signed = ["localhost", "192.168.1.20"]
            "#,
        )
        .unwrap();
        assert_eq!(config.listen.port(), 8443);
        assert_eq!(
            (config.calls.room_capacity, config.calls.upload_budget),
            (8, 1_000_000)
        );
        assert_eq!(config.ice.ice_transport_policy, IceTransportPolicy::Relay);
        assert_eq!(
            config.ice.turn().unwrap().auth,
            TurnAuth::Rest {
                secret: Secret("0123456789abcdef".into()),
                lifetime: Duration::from_secs(7200)
            }
        );
        assert_eq!(config.connections.write_timeout, Duration::from_secs(3));
        assert_eq!(config.log.log_format, LogFormat::Json);
        assert!(matches!(config.tls.source(), Some(Tls::SelfSigned { hosts }) if hosts.len() == 2));
    }

    #[test]
    fn bad_settings_name_themselves() {
        for (text, setting) in [
            ("room_capacity = 1", "room_capacity"),
            ("room_capacity = 9", "room_capacity"),
            ("upload_budget = 99999", "upload_budget"),
            ("stun_urls = [\"http://x\"]", "stun_urls"),
            ("turn_urls = [\"stun:x\"]", "turn_urls"),
            ("turn_urls = [\"turn:x\"]", "turn_urls"),
            ("turn_secret = \"0123456789abcdef\"", "turn_urls"),
            ("turn_secret = \"short\"", "turn_secret"),
            ("turn_username = \"u\"", "turn_password"),
            ("turn_password = \"p\"", "turn_username"),
            (
                "turn_credential_lifetime = \"1s\"",
                "turn_credential_lifetime",
            ),
            ("heartbeat_interval = \"0s\"", "heartbeat_interval"),
            (
                "heartbeat_timeout = \"3s\"\nheartbeat_interval = \"5s\"",
                "heartbeat_timeout",
            ),
            ("write_timeout = \"0s\"", "write_timeout"),
            ("resume_secret = \"short\"", "resume_secret"),
            ("max_message_bytes = 100", "max_message_bytes"),
            ("max_file_bytes = 0", "max_file_bytes"),
            ("rate_limit = 0", "rate_limit"),
            ("rate_burst = 0", "rate_burst"),
            ("max_connections_per_ip = 0", "max_connections_per_ip"),
            ("ipv6_prefix = 16", "ipv6_prefix"),
            ("allowed_origins = [\"example.org\"]", "allowed_origins"),
            ("allowed_origins = [\"https://x/path\"]", "allowed_origins"),
            ("log_level = \"tandem=[\"", "log_level"),
            ("log_format = \"xml\"", "log_format"),
            ("listen = \"localhost\"", "listen"),
            ("resume_grace = \"soon\"", "resume_grace"),
            ("ice_transport_policy = \"never\"", "ice_transport_policy"),
            ("turn_listen = \"0.0.0.0:3478\"", "turn_public_address"),
            ("turn_public_address = \"203.0.113.1\"", "turn_public_address"),
            (
                "turn_listen = \"127.0.0.1:3478\"\nturn_username = \"u\"\nturn_password = \"p\"\nturn_urls = [\"turn:x\"]",
                "turn_listen",
            ),
            (
                "turn_listen = \"127.0.0.1:3478\"\nredis_url = \"redis://127.0.0.1\"\nresume_secret = \"0123456789abcdef\"",
                "turn_listen",
            ),
            ("turn_relay_ports = \"50000-40000\"", "turn_relay_ports"),
            ("turn_relay_ports = \"0-100\"", "turn_relay_ports"),
            ("turn_relay_ports = \"40000\"", "turn_relay_ports"),
            ("turn_max_allocations = 0", "turn_max_allocations"),
            ("turn_max_bitrate = 1000", "turn_max_bitrate"),
            ("turn_allow_private_peers = \"maybe\"", "turn_allow_private_peers"),
            ("tls_cert = \"c.pem\"", "tls_key"),
            ("tls_key = \"k.pem\"", "tls_cert"),
            (
                "tls_cert = \"c\"\ntls_key = \"k\"\nself_signed = [\"localhost\"]",
                "self_signed",
            ),
            ("self_signed = [\"\"]", "self_signed"),
            ("lisen = \"1.2.3.4:5\"", "lisen"),
            ("config = \"other.toml\"", "config"),
            ("listen = [\"1.2.3.4:5\"]", "listen"),
            ("rate_limit = 1.5", "rate_limit"),
            ("redis_url = \"redis://127.0.0.1/0\"", "redis_url"),
            ("redis_url = \"http://127.0.0.1/0\"", "redis_url"),
            (
                "redis_url = \"redis://127.0.0.1/0\"\nresume_secret = \"0123456789abcdef\"\n\
                 redis_ca = \"/etc/hostname\"",
                "redis_ca",
            ),
            (
                "redis_url = \"rediss://127.0.0.1/0\"\nresume_secret = \"0123456789abcdef\"\n\
                 redis_ca = \"/nonexistent/ca.pem\"",
                "redis_ca",
            ),
        ] {
            match Config::from_toml(text) {
                Err(ConfigError::Invalid { setting: s, .. }) => assert_eq!(s, setting, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(matches!(
            Config::from_toml("listen = "),
            Err(ConfigError::Parse(_))
        ));
    }

    #[test]
    fn flags_override_the_file() {
        let file = std::env::temp_dir().join(format!("tandem-config-{}.toml", std::process::id()));
        std::fs::write(&file, "rate_limit = 7\nrate_burst = 9\n").unwrap();
        let config = Config::load([
            "tandem".as_ref(),
            "--config".as_ref(),
            file.as_os_str(),
            "--rate-limit".as_ref(),
            "3".as_ref(),
        ])
        .unwrap();
        std::fs::remove_file(&file).unwrap();
        assert_eq!(config.connections.rate_limit, 3, "the flag wins");
        assert_eq!(config.connections.rate_burst, 9, "the file fills in");
        assert_eq!(
            config.connections.heartbeat_interval,
            Duration::from_secs(5)
        );
    }

    #[test]
    fn a_bad_value_in_the_file_names_the_file_and_the_setting() {
        let file = std::env::temp_dir().join(format!("tandem-bad-{}.toml", std::process::id()));
        std::fs::write(&file, "room_capacity = 12\n").unwrap();
        let err =
            Config::load(["tandem".as_ref(), "--config".as_ref(), file.as_os_str()]).unwrap_err();
        std::fs::remove_file(&file).unwrap();
        let ConfigError::InFile { path, source } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(path, &file);
        assert!(
            matches!(&**source, ConfigError::Invalid { setting, why }
                if setting == "room_capacity" && why.contains("media server")),
            "{err}"
        );
    }

    #[test]
    fn secrets_are_never_echoed() {
        let err = Config::load(["tandem", "--resume-secret", "hunter2"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("resume_secret") && !err.contains("hunter2"),
            "{err}"
        );
        let config = Config::load(["tandem", "--resume-secret", "0123456789abcdef"]).unwrap();
        assert!(!format!("{config:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn every_setting_has_a_flag_an_environment_variable_help_and_its_default() {
        let command = Config::command();
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            if matches!(id, "help" | "version") {
                continue;
            }
            let env = arg.get_env().expect(id).to_string_lossy().into_owned();
            assert_eq!(env, format!("TANDEM_{}", id.to_uppercase()));
            assert!(arg.get_long().is_some(), "{id} has a flag");
            assert!(arg.get_help().is_some(), "{id} is documented");
        }
        // The help shows the declared defaults, not copies of them.
        let help = command.clone().render_long_help().to_string();
        for default in [
            "[default: 127.0.0.1:3000]",
            "[default: 10s]",
            "[default: 6]",
        ] {
            assert!(help.contains(default), "{default}: {help}");
        }
    }

    #[test]
    fn missing_explicit_file_is_an_error() {
        let result = Config::load(["tandem", "--config", "/nonexistent/tandem.toml"]);
        assert!(matches!(result, Err(ConfigError::Read { .. })));
    }

    #[test]
    fn help_and_unknown_flags_are_usage() {
        for args in [["tandem", "--help"], ["tandem", "--no-such-flag"]] {
            assert!(matches!(Config::load(args), Err(ConfigError::Usage(_))));
        }
    }
}
