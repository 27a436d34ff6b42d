//! The server's runtime configuration: `Leptos.toml`, then environment, then flags.
//!
//! cargo-leptos reads its *build* settings from Cargo.toml; this file is what the running
//! binary needs. Every setting has one name: `snake_case` in the file, `--kebab-case` as a
//! flag, `TANDEM_UPPER_CASE` in the environment (flags win over the environment, both
//! over the file). A bad value stops the server at start with the setting's name.

use crate::protocol::signaling::{
    IceTransportPolicy, DEFAULT_ROOM_CAPACITY, DEFAULT_UPLOAD_BUDGET, MAX_ROOM_CAPACITY,
};
use clap::{Parser, ValueEnum};
use serde::Deserialize;
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
/// Smallest message size limit accepted: a session description needs a few KiB.
pub const MIN_MESSAGE_BYTES: usize = 4 * 1024;

/// Every setting, as given in the file, the environment or on the command line. All are
/// optional here; [`Config`] fills in the defaults and checks them together.
#[derive(Debug, Default, Parser, Deserialize)]
#[command(
    name = "tandem",
    version,
    about = "Self-hosted peer-to-peer video calls",
    long_about = "Self-hosted peer-to-peer video calls.\n\nEvery setting can also be given in \
                  the configuration file (snake_case names) or the environment (TANDEM_…); \
                  flags win over the environment, the environment over the file."
)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Configuration file [default: Leptos.toml in the working directory, if present]
    #[arg(long, env = "TANDEM_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Address to listen on; port 0 picks a free port, printed at start
    /// [default: 127.0.0.1:3000]
    #[arg(long, env = "TANDEM_LISTEN")]
    pub listen: Option<SocketAddr>,

    /// Origins whose pages may open the signaling socket, e.g. https://call.example.org
    /// (comma-separated) [default: the server's own origin only]
    #[arg(
        long = "allowed-origin",
        env = "TANDEM_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Option<Vec<String>>,

    /// STUN servers for the browsers, e.g. stun:stun.example.org:3478 (comma-separated)
    /// [default: none; peers on one network need none]
    #[arg(long = "stun-url", env = "TANDEM_STUN_URLS", value_delimiter = ',')]
    pub stun_urls: Option<Vec<String>>,

    /// TURN servers for the browsers, e.g. turn:turn.example.org:3478?transport=udp
    /// (comma-separated); needs turn_secret or turn_username + turn_password [default: none]
    #[arg(long = "turn-url", env = "TANDEM_TURN_URLS", value_delimiter = ',')]
    pub turn_urls: Option<Vec<String>>,

    /// Shared secret of the TURN server (coturn's static-auth-secret): every join gets
    /// its own short-lived credentials, made the way coturn's REST API expects
    #[arg(long, env = "TANDEM_TURN_SECRET", hide_env_values = true)]
    pub turn_secret: Option<Secret>,

    /// How long TURN credentials made from turn_secret stay valid [default: 1h]
    #[arg(long, env = "TANDEM_TURN_CREDENTIAL_LIFETIME")]
    pub turn_credential_lifetime: Option<Span>,

    /// Fixed TURN user name, for TURN servers without a shared secret
    #[arg(long, env = "TANDEM_TURN_USERNAME")]
    pub turn_username: Option<String>,

    /// Fixed TURN password, with turn_username
    #[arg(long, env = "TANDEM_TURN_PASSWORD", hide_env_values = true)]
    pub turn_password: Option<Secret>,

    /// Which paths browsers may use: "all", or "relay" to send all media through TURN
    /// (hides each person's address from the other) [default: all]
    #[arg(long, env = "TANDEM_ICE_TRANSPORT_POLICY")]
    pub ice_transport_policy: Option<IceTransportPolicy>,

    /// Seats per room, 2 to 8: everyone sends to everyone, and past 8 a call needs a
    /// media server [default: 6]
    #[arg(long, env = "TANDEM_ROOM_CAPACITY")]
    pub room_capacity: Option<usize>,

    /// Upload each browser shares among the people it sends video to, in bits per second,
    /// until the browser has measured its own [default: 2500000]
    #[arg(long, env = "TANDEM_UPLOAD_BUDGET")]
    pub upload_budget: Option<u64>,

    /// Largest signaling message accepted, in bytes; a bigger one closes the socket with
    /// code 1009 [default: 65536]
    #[arg(long, env = "TANDEM_MAX_MESSAGE_BYTES")]
    pub max_message_bytes: Option<usize>,

    /// Messages per second one connection may send, on average [default: 20]
    #[arg(long, env = "TANDEM_RATE_LIMIT")]
    pub rate_limit: Option<u32>,

    /// Messages one connection may send at once before the rate limit applies; this many
    /// refused messages within rate_burst seconds close the socket (1008) [default: 60]
    #[arg(long, env = "TANDEM_RATE_BURST")]
    pub rate_burst: Option<u32>,

    /// Open signaling connections allowed from one IP address [default: 20]
    #[arg(long, env = "TANDEM_MAX_CONNECTIONS_PER_IP")]
    pub max_connections_per_ip: Option<u32>,

    /// How long a dropped participant's seat is held for them to come back [default: 20s]
    #[arg(long, env = "TANDEM_RESUME_GRACE")]
    pub resume_grace: Option<Span>,

    /// How often the server pings each connection [default: 5s]
    #[arg(long, env = "TANDEM_HEARTBEAT_INTERVAL")]
    pub heartbeat_interval: Option<Span>,

    /// Silence after which a connection counts as dead [default: 10s]
    #[arg(long, env = "TANDEM_HEARTBEAT_TIMEOUT")]
    pub heartbeat_timeout: Option<Span>,

    /// Secret that signs resume tokens (16+ characters), so calls resume across server
    /// restarts [default: a random one per start]
    #[arg(long, env = "TANDEM_RESUME_SECRET", hide_env_values = true)]
    pub resume_secret: Option<Secret>,

    /// Largest file people may send each other, in bytes; files go peer to peer, the
    /// server only tells both browsers the limit [default: 1073741824]
    #[arg(long, env = "TANDEM_MAX_FILE_BYTES")]
    pub max_file_bytes: Option<u64>,

    /// Log format [default: text]
    #[arg(long, env = "TANDEM_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,

    /// Log level or filter, e.g. "debug" or "info,tandem=debug" [default: info]
    #[arg(long, env = "TANDEM_LOG_LEVEL")]
    pub log_level: Option<String>,

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

/// A duration written like "20s", "500ms" or "1h".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span(pub Duration);

impl FromStr for Span {
    type Err = String;
    fn from_str(text: &str) -> Result<Span, String> {
        humantime::parse_duration(text)
            .map(Span)
            .map_err(|e| format!("{text:?}: {e} (try \"20s\" or \"500ms\")"))
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Span, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A secret: never printed, not even by `{:?}`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
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

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "snake_case")]
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

/// The configuration the server runs with.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub listen: SocketAddr,
    /// Origins allowed to open the signaling socket besides the server's own.
    pub allowed_origins: Vec<String>,
    /// Handed to every browser on join. None by default: peers on one machine or one LAN
    /// connect with host candidates, and nothing leaves the network unless configured.
    pub stun_urls: Vec<String>,
    pub turn: Option<Turn>,
    pub ice_transport_policy: IceTransportPolicy,
    /// Seats per room.
    pub room_capacity: usize,
    /// Bits per second a browser shares among the people it sends video to, until it
    /// has an estimate of its own.
    pub upload_budget: u64,
    pub max_message_bytes: usize,
    /// Messages per second per connection, and how many may come at once.
    pub rate_limit: u32,
    pub rate_burst: u32,
    pub max_connections_per_ip: u32,
    /// A dropped participant's seat is held this long; then the others are told they left.
    pub resume_grace: Duration,
    /// The server pings every connection this often…
    pub heartbeat_interval: Duration,
    /// …and closes one that has sent nothing (not even a pong) for this long. A vanished
    /// peer is announced after at most `heartbeat_timeout + resume_grace`.
    pub heartbeat_timeout: Duration,
    /// Signs resume tokens. `None`: a random secret for this process only.
    pub resume_secret: Option<Secret>,
    /// Largest file people may send each other.
    pub max_file_bytes: u64,
    pub log_format: LogFormat,
    pub log_level: String,
    pub tls: Option<Tls>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            allowed_origins: Vec::new(),
            stun_urls: Vec::new(),
            turn: None,
            ice_transport_policy: IceTransportPolicy::All,
            room_capacity: DEFAULT_ROOM_CAPACITY,
            upload_budget: DEFAULT_UPLOAD_BUDGET,
            max_message_bytes: 64 * 1024,
            rate_limit: 20,
            rate_burst: 60,
            max_connections_per_ip: 20,
            resume_grace: Duration::from_secs(20),
            heartbeat_interval: Duration::from_secs(5),
            heartbeat_timeout: Duration::from_secs(10),
            resume_secret: None,
            max_file_bytes: crate::protocol::file::DEFAULT_MAX_FILE_BYTES,
            log_format: LogFormat::Text,
            log_level: "info".into(),
            tls: None,
        }
    }
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
    Invalid { setting: &'static str, why: String },
}

fn invalid(setting: &'static str, why: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting,
        why: why.into(),
    }
}

impl Settings {
    /// Reads a configuration file's settings.
    pub fn from_toml(text: &str) -> Result<Settings, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse(Box::new(e)))
    }

    /// Takes every setting `over` gives, keeping ours for the rest.
    fn overridden_by(self, over: Settings) -> Settings {
        macro_rules! pick {
            ($($field:ident),* $(,)?) => {
                Settings { $($field: over.$field.or(self.$field)),* }
            };
        }
        pick!(
            config,
            listen,
            allowed_origins,
            stun_urls,
            turn_urls,
            turn_secret,
            turn_credential_lifetime,
            turn_username,
            turn_password,
            ice_transport_policy,
            room_capacity,
            upload_budget,
            max_message_bytes,
            rate_limit,
            rate_burst,
            max_connections_per_ip,
            resume_grace,
            heartbeat_interval,
            heartbeat_timeout,
            resume_secret,
            max_file_bytes,
            log_format,
            log_level,
            tls_cert,
            tls_key,
            self_signed,
        )
    }
}

impl Config {
    /// Builds the configuration from the command line and environment (`cli`), over the
    /// file it names (or the default file, when present).
    pub fn load(cli: Settings) -> Result<Config, ConfigError> {
        let path = match &cli.config {
            Some(path) => Some(path.clone()),
            None => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|path| path.exists()),
        };
        let file = match &path {
            Some(path) => read_file(path)?,
            None => Settings::default(),
        };
        let settings = file.overridden_by(cli);
        Config::from_settings(settings).map_err(|e| match (path, &e) {
            (Some(path), ConfigError::Invalid { .. }) => ConfigError::InFile {
                path,
                source: Box::new(e),
            },
            _ => e,
        })
    }

    /// Parses and checks the text of a configuration file alone.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        Config::from_settings(Settings::from_toml(text)?)
    }

    /// Fills in defaults and checks every setting, alone and together.
    pub fn from_settings(s: Settings) -> Result<Config, ConfigError> {
        let d = Config::default();
        let span = |value: Option<Span>, default: Duration| value.map_or(default, |s| s.0);
        let config = Config {
            listen: s.listen.unwrap_or(d.listen),
            allowed_origins: s.allowed_origins.unwrap_or_default(),
            stun_urls: s.stun_urls.unwrap_or_default(),
            turn: turn(
                s.turn_urls.unwrap_or_default(),
                s.turn_secret,
                s.turn_credential_lifetime.map(|s| s.0),
                s.turn_username,
                s.turn_password,
            )?,
            ice_transport_policy: s.ice_transport_policy.unwrap_or(d.ice_transport_policy),
            room_capacity: s.room_capacity.unwrap_or(d.room_capacity),
            upload_budget: s.upload_budget.unwrap_or(d.upload_budget),
            max_message_bytes: s.max_message_bytes.unwrap_or(d.max_message_bytes),
            rate_limit: s.rate_limit.unwrap_or(d.rate_limit),
            rate_burst: s.rate_burst.unwrap_or(d.rate_burst),
            max_connections_per_ip: s.max_connections_per_ip.unwrap_or(d.max_connections_per_ip),
            resume_grace: span(s.resume_grace, d.resume_grace),
            heartbeat_interval: span(s.heartbeat_interval, d.heartbeat_interval),
            heartbeat_timeout: span(s.heartbeat_timeout, d.heartbeat_timeout),
            resume_secret: s.resume_secret,
            max_file_bytes: s.max_file_bytes.unwrap_or(d.max_file_bytes),
            log_format: s.log_format.unwrap_or_default(),
            log_level: s.log_level.unwrap_or(d.log_level),
            tls: tls(s.tls_cert, s.tls_key, s.self_signed)?,
        };
        config.check()?;
        Ok(config)
    }

    /// Checks what no single setting can check alone.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.heartbeat_interval.is_zero() {
            return Err(invalid("heartbeat_interval", "must be more than zero"));
        }
        if self.heartbeat_timeout <= self.heartbeat_interval {
            return Err(invalid(
                "heartbeat_timeout",
                format!(
                    "{} must be longer than heartbeat_interval ({}), or every connection times out",
                    humantime::format_duration(self.heartbeat_timeout),
                    humantime::format_duration(self.heartbeat_interval)
                ),
            ));
        }
        check_secret("resume_secret", self.resume_secret.as_ref())?;
        if self.room_capacity < 2 {
            return Err(invalid(
                "room_capacity",
                format!(
                    "{} seats cannot hold a call; use 2 or more",
                    self.room_capacity
                ),
            ));
        }
        if self.room_capacity > MAX_ROOM_CAPACITY {
            return Err(invalid(
                "room_capacity",
                format!(
                    "{} is more than {MAX_ROOM_CAPACITY}: everyone sends to everyone, and a \
                     full mesh past {MAX_ROOM_CAPACITY} people needs a media server",
                    self.room_capacity
                ),
            ));
        }
        if !(MIN_UPLOAD_BUDGET..=MAX_UPLOAD_BUDGET).contains(&self.upload_budget) {
            return Err(invalid(
                "upload_budget",
                format!(
                    "{} bits per second is outside {MIN_UPLOAD_BUDGET}..={MAX_UPLOAD_BUDGET}",
                    self.upload_budget
                ),
            ));
        }
        if !(MIN_MESSAGE_BYTES..=16 << 20).contains(&self.max_message_bytes) {
            return Err(invalid(
                "max_message_bytes",
                format!(
                    "{} is outside {MIN_MESSAGE_BYTES}..=16777216 (a session description needs a few KiB)",
                    self.max_message_bytes
                ),
            ));
        }
        for (setting, value) in [
            ("rate_limit", self.rate_limit),
            ("rate_burst", self.rate_burst),
            ("max_connections_per_ip", self.max_connections_per_ip),
        ] {
            if value == 0 {
                return Err(invalid(setting, "must be at least 1"));
            }
        }
        for url in &self.stun_urls {
            if !(url.starts_with("stun:") || url.starts_with("stuns:")) {
                return Err(invalid(
                    "stun_urls",
                    format!("{url:?} must start with stun: or stuns:"),
                ));
            }
        }
        for origin in &self.allowed_origins {
            check_origin(origin)?;
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log_level) {
            return Err(invalid("log_level", format!("{:?}: {e}", self.log_level)));
        }
        Ok(())
    }
}

fn read_file(path: &Path) -> Result<Settings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Settings::from_toml(&text).map_err(|source| ConfigError::InFile {
        path: path.to_path_buf(),
        source: Box::new(source),
    })
}

fn check_secret(setting: &'static str, secret: Option<&Secret>) -> Result<(), ConfigError> {
    match secret {
        // The secret itself is never echoed.
        Some(secret) if secret.expose().len() < MIN_SECRET_LEN => Err(invalid(
            setting,
            format!("must be at least {MIN_SECRET_LEN} characters"),
        )),
        _ => Ok(()),
    }
}

fn turn(
    urls: Vec<String>,
    secret: Option<Secret>,
    lifetime: Option<Duration>,
    username: Option<String>,
    password: Option<Secret>,
) -> Result<Option<Turn>, ConfigError> {
    for url in &urls {
        if !(url.starts_with("turn:") || url.starts_with("turns:")) {
            return Err(invalid(
                "turn_urls",
                format!("{url:?} must start with turn: or turns:"),
            ));
        }
    }
    check_secret("turn_secret", secret.as_ref())?;
    if lifetime.is_some_and(|l| l < Duration::from_secs(60)) {
        return Err(invalid(
            "turn_credential_lifetime",
            "must be at least 1 minute, or calls lose their relay mid-setup",
        ));
    }
    let auth = match (secret, username, password) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(invalid(
                "turn_secret",
                "give either turn_secret or turn_username + turn_password, not both",
            ))
        }
        (Some(secret), None, None) => Some(TurnAuth::Rest {
            secret,
            lifetime: lifetime.unwrap_or(Duration::from_secs(3600)),
        }),
        (None, Some(username), Some(password)) => Some(TurnAuth::Static { username, password }),
        (None, Some(_), None) => return Err(invalid("turn_password", "needed with turn_username")),
        (None, None, Some(_)) => return Err(invalid("turn_username", "needed with turn_password")),
        (None, None, None) => None,
    };
    match (urls.is_empty(), auth) {
        (true, None) => Ok(None),
        (true, Some(_)) => Err(invalid(
            "turn_urls",
            "TURN credentials are set but no TURN server is",
        )),
        (false, None) => Err(invalid(
            "turn_urls",
            "a TURN server needs turn_secret, or turn_username and turn_password",
        )),
        (false, Some(auth)) => Ok(Some(Turn { urls, auth })),
    }
}

fn tls(
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    self_signed: Option<Vec<String>>,
) -> Result<Option<Tls>, ConfigError> {
    match (cert, key, self_signed) {
        (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => Err(invalid(
            "self_signed",
            "give either tls_cert + tls_key or self_signed, not both",
        )),
        (Some(cert), Some(key), None) => Ok(Some(Tls::Files { cert, key })),
        (Some(_), None, None) => Err(invalid("tls_key", "needed with tls_cert")),
        (None, Some(_), None) => Err(invalid("tls_cert", "needed with tls_key")),
        (None, None, Some(hosts)) if hosts.iter().all(|h| h.trim().is_empty()) => Err(invalid(
            "self_signed",
            "name at least one host name or IP address",
        )),
        (None, None, Some(hosts)) => Ok(Some(Tls::SelfSigned { hosts })),
        (None, None, None) => Ok(None),
    }
}

/// An origin is `scheme://host[:port]`, exactly as browsers send it: no path, no slash.
fn check_origin(origin: &str) -> Result<(), ConfigError> {
    let bad = |why: &str| invalid("allowed_origins", format!("{origin:?} {why}"));
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(|| bad("must start with https:// or http://"))?;
    if rest.is_empty() || rest.contains(['/', '?', '#', ' ']) {
        return Err(bad("must be scheme://host[:port] with no path"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        assert_eq!(Config::from_toml("").unwrap(), Config::default());
    }

    #[test]
    fn shipped_file_parses() {
        let text = include_str!("../../Leptos.toml");
        let config = Config::from_toml(text).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:3000");
        assert!(config.stun_urls.is_empty() && config.turn.is_none());
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
            log_format = "json"
            log_level = "debug"
            self_signed = ["localhost", "192.168.1.20"]
            "#,
        )
        .unwrap();
        assert_eq!(config.listen.port(), 8443);
        assert_eq!((config.room_capacity, config.upload_budget), (8, 1_000_000));
        assert_eq!(config.ice_transport_policy, IceTransportPolicy::Relay);
        assert_eq!(
            config.turn.unwrap().auth,
            TurnAuth::Rest {
                secret: Secret("0123456789abcdef".into()),
                lifetime: Duration::from_secs(7200)
            }
        );
        assert_eq!(config.log_format, LogFormat::Json);
        assert!(matches!(config.tls, Some(Tls::SelfSigned { hosts }) if hosts.len() == 2));
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
                "turn_urls = [\"turn:x\"]\nturn_secret = \"0123456789abcdef\"\nturn_credential_lifetime = \"1s\"",
                "turn_credential_lifetime",
            ),
            ("heartbeat_interval = \"0s\"", "heartbeat_interval"),
            (
                "heartbeat_timeout = \"3s\"\nheartbeat_interval = \"5s\"",
                "heartbeat_timeout",
            ),
            ("resume_secret = \"short\"", "resume_secret"),
            ("max_message_bytes = 100", "max_message_bytes"),
            ("rate_limit = 0", "rate_limit"),
            ("rate_burst = 0", "rate_burst"),
            ("max_connections_per_ip = 0", "max_connections_per_ip"),
            ("allowed_origins = [\"example.org\"]", "allowed_origins"),
            ("allowed_origins = [\"https://x/path\"]", "allowed_origins"),
            ("log_level = \"tandem=[\"", "log_level"),
            ("tls_cert = \"c.pem\"", "tls_key"),
            ("tls_key = \"k.pem\"", "tls_cert"),
            (
                "tls_cert = \"c\"\ntls_key = \"k\"\nself_signed = [\"localhost\"]",
                "self_signed",
            ),
            ("self_signed = [\"\"]", "self_signed"),
        ] {
            match Config::from_toml(text) {
                Err(ConfigError::Invalid { setting: s, .. }) => assert_eq!(s, setting, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        // Values that do not even parse name their key too.
        for (text, key) in [
            ("lisen = \"1.2.3.4:5\"", "lisen"),
            ("listen = \"localhost\"", "listen"),
            ("resume_grace = \"soon\"", "resume_grace"),
            ("log_format = \"xml\"", "log_format"),
            ("ice_transport_policy = \"never\"", "ice_transport_policy"),
        ] {
            let err = Config::from_toml(text).unwrap_err().to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn flags_override_the_environment_and_the_file() {
        let cli = Settings::parse_from([
            "tandem",
            "--config",
            "Leptos.toml",
            "--listen",
            "127.0.0.1:0",
            "--resume-grace",
            "1500ms",
            "--resume-secret",
            "0123456789abcdef",
            "--allowed-origin",
            "https://a.example,https://b.example",
            "--ice-transport-policy",
            "relay",
        ]);
        let config = Config::load(cli).unwrap();
        assert_eq!(config.listen.port(), 0);
        assert_eq!(config.resume_grace, Duration::from_millis(1500));
        assert_eq!(config.heartbeat_interval, Duration::from_secs(5));
        assert_eq!(config.allowed_origins.len(), 2);
        assert_eq!(config.ice_transport_policy, IceTransportPolicy::Relay);
        assert_eq!(
            config.resume_secret.as_ref().map(Secret::expose),
            Some("0123456789abcdef")
        );
        let err = Config::load(Settings::parse_from([
            "tandem",
            "--resume-secret",
            "hunter2",
        ]))
        .unwrap_err()
        .to_string();
        assert!(!err.contains("hunter2"), "secrets are never echoed: {err}");
        assert!(!format!("{config:?}").contains("0123456789abcdef"));
        assert!(Settings::try_parse_from(["tandem", "--resume-grace", "forever"]).is_err());
    }

    #[test]
    fn every_file_setting_has_a_flag_and_an_environment_variable() {
        use clap::CommandFactory;
        let command = Settings::command();
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            if matches!(id, "help" | "version") {
                continue;
            }
            let env = arg.get_env().expect(id).to_string_lossy().into_owned();
            assert!(env.starts_with("TANDEM_"), "{id}: {env}");
            assert!(arg.get_help().is_some(), "{id} is documented");
        }
        // Defaults are written in the help text.
        let help = command.clone().render_long_help().to_string();
        assert!(help.contains("[default: 127.0.0.1:3000]"), "{help}");
    }

    #[test]
    fn missing_explicit_file_is_an_error() {
        let cli = Settings::parse_from(["tandem", "--config", "/nonexistent/tandem.toml"]);
        assert!(matches!(Config::load(cli), Err(ConfigError::Read { .. })));
    }
}
