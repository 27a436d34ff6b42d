//! The server's runtime configuration: `Leptos.toml`, then environment, then flags.
//!
//! cargo-leptos reads its *build* settings from Cargo.toml; this file is what the running
//! binary needs. A bad value stops the server at start with the setting's name.

use crate::protocol::{IceServer, ROOM_CAPACITY};
use clap::Parser;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the server looks for its configuration when `--config` is not given.
pub const DEFAULT_CONFIG_FILE: &str = "Leptos.toml";

#[derive(Debug, Parser)]
#[command(
    name = "tandem",
    version,
    about = "Self-hosted peer-to-peer video calls"
)]
pub struct Cli {
    /// Configuration file. When not given, `Leptos.toml` in the working directory is used
    /// if it exists.
    #[arg(long, env = "TANDEM_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on, overriding the file's `listen` (default 127.0.0.1:3000).
    /// Port 0 picks a free port; the chosen address is printed at start.
    #[arg(long, env = "TANDEM_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// How long a dropped participant's seat is held for them to come back (e.g. "20s").
    #[arg(long, env = "TANDEM_RESUME_GRACE", value_parser = parse_duration)]
    pub resume_grace: Option<Duration>,
    /// How often the server pings each connection (e.g. "5s").
    #[arg(long, env = "TANDEM_HEARTBEAT_INTERVAL", value_parser = parse_duration)]
    pub heartbeat_interval: Option<Duration>,
    /// Silence after which a connection counts as dead (e.g. "10s").
    #[arg(long, env = "TANDEM_HEARTBEAT_TIMEOUT", value_parser = parse_duration)]
    pub heartbeat_timeout: Option<Duration>,
    /// Secret that signs resume tokens (16+ characters). Set it so that calls resume
    /// across server restarts; without it, each start makes a random one.
    #[arg(long, env = "TANDEM_RESUME_SECRET", hide_env_values = true)]
    pub resume_secret: Option<String>,
    /// Largest file people may send each other, in bytes (default 1 GiB). Files go peer
    /// to peer; the server only tells both browsers the limit.
    #[arg(long, env = "TANDEM_MAX_FILE_BYTES")]
    pub max_file_bytes: Option<u64>,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("{text:?}: {e} (try \"20s\" or \"500ms\")"))
}

/// Settings as written in the file; every field optional so a partial file works.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    room_capacity: Option<usize>,
    resume_grace: Option<String>,
    heartbeat_interval: Option<String>,
    heartbeat_timeout: Option<String>,
    resume_secret: Option<String>,
    max_file_bytes: Option<u64>,
    #[serde(default)]
    ice_servers: Vec<IceServer>,
}

/// The configuration the server runs with.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub listen: SocketAddr,
    /// Seats per room.
    pub room_capacity: usize,
    /// Handed to every browser on join. Empty by default: peers on one machine or one LAN
    /// connect with host candidates, and nothing leaves the network unless configured.
    pub ice_servers: Vec<IceServer>,
    /// A dropped participant's seat is held this long; then the others are told they left.
    pub resume_grace: Duration,
    /// The server pings every connection this often…
    pub heartbeat_interval: Duration,
    /// …and closes one that has sent nothing (not even a pong) for this long. A vanished
    /// peer is announced after at most `heartbeat_timeout + resume_grace`.
    pub heartbeat_timeout: Duration,
    /// Signs resume tokens. `None`: a random secret for this process only.
    pub resume_secret: Option<String>,
    /// Largest file people may send each other.
    pub max_file_bytes: u64,
}

/// Shortest resume secret accepted, in bytes.
pub const MIN_SECRET_LEN: usize = 16;

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            room_capacity: ROOM_CAPACITY,
            ice_servers: Vec::new(),
            resume_grace: Duration::from_secs(20),
            heartbeat_interval: Duration::from_secs(5),
            heartbeat_timeout: Duration::from_secs(10),
            resume_secret: None,
            max_file_bytes: crate::transfer::DEFAULT_MAX_FILE_BYTES,
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

impl Config {
    /// Builds the configuration from the command line, reading the file it names (or the
    /// default file, when present).
    pub fn load(cli: &Cli) -> Result<Config, ConfigError> {
        let path = match &cli.config {
            Some(path) => Some(path.as_path()),
            None => Some(Path::new(DEFAULT_CONFIG_FILE)).filter(|path| path.exists()),
        };
        let mut config = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
                Config::from_toml(&text).map_err(|source| ConfigError::InFile {
                    path: path.to_path_buf(),
                    source: Box::new(source),
                })?
            }
            None => Config::default(),
        };
        if let Some(listen) = cli.listen {
            config.listen = listen;
        }
        config.resume_grace = cli.resume_grace.unwrap_or(config.resume_grace);
        config.heartbeat_interval = cli.heartbeat_interval.unwrap_or(config.heartbeat_interval);
        config.heartbeat_timeout = cli.heartbeat_timeout.unwrap_or(config.heartbeat_timeout);
        if cli.resume_secret.is_some() {
            config.resume_secret = cli.resume_secret.clone();
        }
        config.max_file_bytes = cli.max_file_bytes.unwrap_or(config.max_file_bytes);
        config.check()?;
        Ok(config)
    }

    /// Checks what no single setting can check alone.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.heartbeat_interval.is_zero() {
            return Err(ConfigError::Invalid {
                setting: "heartbeat_interval",
                why: "must be more than zero".into(),
            });
        }
        if self.heartbeat_timeout <= self.heartbeat_interval {
            return Err(ConfigError::Invalid {
                setting: "heartbeat_timeout",
                why: format!(
                    "{} must be longer than heartbeat_interval ({}), or every connection times out",
                    humantime::format_duration(self.heartbeat_timeout),
                    humantime::format_duration(self.heartbeat_interval)
                ),
            });
        }
        if let Some(secret) = &self.resume_secret {
            if secret.len() < MIN_SECRET_LEN {
                // The secret itself is never echoed.
                return Err(ConfigError::Invalid {
                    setting: "resume_secret",
                    why: format!("must be at least {MIN_SECRET_LEN} characters"),
                });
            }
        }
        Ok(())
    }

    /// Parses and checks the text of a configuration file.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let file: FileConfig = toml::from_str(text).map_err(|e| ConfigError::Parse(Box::new(e)))?;
        let mut config = Config::default();
        if let Some(listen) = file.listen {
            config.listen = listen.parse().map_err(|e| ConfigError::Invalid {
                setting: "listen",
                why: format!("{listen:?} is not an address like 127.0.0.1:3000 ({e})"),
            })?;
        }
        if let Some(capacity) = file.room_capacity {
            if capacity < 2 {
                return Err(ConfigError::Invalid {
                    setting: "room_capacity",
                    why: format!("{capacity} seats cannot hold a call; use 2 or more"),
                });
            }
            config.room_capacity = capacity;
        }
        for server in &file.ice_servers {
            check_ice_server(server)?;
        }
        config.ice_servers = file.ice_servers;
        for (setting, text, field) in [
            ("resume_grace", &file.resume_grace, &mut config.resume_grace),
            (
                "heartbeat_interval",
                &file.heartbeat_interval,
                &mut config.heartbeat_interval,
            ),
            (
                "heartbeat_timeout",
                &file.heartbeat_timeout,
                &mut config.heartbeat_timeout,
            ),
        ] {
            if let Some(text) = text {
                *field =
                    parse_duration(text).map_err(|why| ConfigError::Invalid { setting, why })?;
            }
        }
        config.resume_secret = file.resume_secret;
        config.max_file_bytes = file.max_file_bytes.unwrap_or(config.max_file_bytes);
        config.check()?;
        Ok(config)
    }
}

fn check_ice_server(server: &IceServer) -> Result<(), ConfigError> {
    let invalid = |why: String| ConfigError::Invalid {
        setting: "ice_servers",
        why,
    };
    if server.urls.is_empty() {
        return Err(invalid("an entry has no urls".into()));
    }
    for url in &server.urls {
        let scheme = url.split(':').next().unwrap_or_default();
        if !matches!(scheme, "stun" | "stuns" | "turn" | "turns") {
            return Err(invalid(format!(
                "{url:?} must start with stun:, stuns:, turn: or turns:"
            )));
        }
        if scheme.starts_with("turn") && (server.username.is_none() || server.credential.is_none())
        {
            return Err(invalid(format!(
                "{url:?} is a TURN server and needs username and credential"
            )));
        }
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
        assert!(config.ice_servers.is_empty());
    }

    #[test]
    fn full_file_parses() {
        let config = Config::from_toml(
            r#"
            listen = "0.0.0.0:8443"
            room_capacity = 2
            [[ice_servers]]
            urls = ["stun:127.0.0.1:3478"]
            [[ice_servers]]
            urls = ["turn:127.0.0.1:3478?transport=udp"]
            username = "u"
            credential = "p"
            "#,
        )
        .unwrap();
        assert_eq!(config.listen.port(), 8443);
        assert_eq!(config.ice_servers.len(), 2);
    }

    #[test]
    fn bad_settings_name_themselves() {
        for (text, setting) in [
            ("listen = \"localhost\"", "listen"),
            ("room_capacity = 1", "room_capacity"),
            ("[[ice_servers]]\nurls = []", "ice_servers"),
            ("[[ice_servers]]\nurls = [\"http://x\"]", "ice_servers"),
            ("[[ice_servers]]\nurls = [\"turn:x\"]", "ice_servers"),
            ("resume_grace = \"soon\"", "resume_grace"),
            ("heartbeat_interval = \"0s\"", "heartbeat_interval"),
            (
                "heartbeat_timeout = \"3s\"\nheartbeat_interval = \"5s\"",
                "heartbeat_timeout",
            ),
            ("resume_secret = \"short\"", "resume_secret"),
        ] {
            match Config::from_toml(text) {
                Err(ConfigError::Invalid { setting: s, .. }) => assert_eq!(s, setting, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        let err = Config::from_toml("lisen = \"1.2.3.4:5\"").unwrap_err();
        assert!(err.to_string().contains("lisen"), "{err}");
    }

    #[test]
    fn flags_override_the_file() {
        let cli = Cli::parse_from([
            "tandem",
            "--config",
            "Leptos.toml",
            "--listen",
            "127.0.0.1:0",
            "--resume-grace",
            "1500ms",
            "--resume-secret",
            "0123456789abcdef",
        ]);
        let config = Config::load(&cli).unwrap();
        assert_eq!(config.listen.port(), 0);
        assert_eq!(config.resume_grace, Duration::from_millis(1500));
        assert_eq!(config.heartbeat_interval, Duration::from_secs(5));
        assert_eq!(config.resume_secret.as_deref(), Some("0123456789abcdef"));
        let err = Config::load(&Cli::parse_from(["tandem", "--resume-secret", "hunter2"]))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "secrets are never echoed: {err}");
        assert!(Cli::try_parse_from(["tandem", "--resume-grace", "forever"]).is_err());
    }

    #[test]
    fn missing_explicit_file_is_an_error() {
        let cli = Cli::parse_from(["tandem", "--config", "/nonexistent/tandem.toml"]);
        assert!(matches!(Config::load(&cli), Err(ConfigError::Read { .. })));
    }
}
