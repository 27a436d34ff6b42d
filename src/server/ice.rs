//! The ICE servers each browser is handed when it takes a seat.
//!
//! With a TURN shared secret, every seat gets its own credentials, made the way coturn's
//! REST API (`use-auth-secret`) expects: the user name is `<expiry unix time>:<peer id>`
//! and the password is base64(HMAC-SHA1(secret, user name)). coturn checks them with the
//! same secret and no database; they stop working at the expiry, so a leaked pair is
//! worth little.

use super::config::{IceSettings, Secret, Turn, TurnAuth};
use crate::protocol::signaling::{IceServer, IceTransportPolicy, PeerId};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use std::time::{SystemTime, UNIX_EPOCH};

/// What the server tells browsers about ICE.
pub struct IceConfig {
    stun_urls: Vec<String>,
    turn: Option<Turn>,
    pub policy: IceTransportPolicy,
}

impl IceConfig {
    pub fn new(settings: &IceSettings) -> IceConfig {
        IceConfig {
            stun_urls: settings.stun_urls.clone(),
            turn: settings.turn(),
            policy: settings.ice_transport_policy,
        }
    }

    /// With the built-in relay: browsers are told its URLs (or `turn_urls`, where the
    /// relay is reached by another name, behind a port forward say) with credentials
    /// signed with `secret`, the relay's own.
    pub fn with_relay(
        settings: &IceSettings,
        relay_urls: Vec<String>,
        secret: Secret,
    ) -> IceConfig {
        let urls = if settings.turn_urls.is_empty() {
            relay_urls
        } else {
            settings.turn_urls.clone()
        };
        IceConfig {
            stun_urls: settings.stun_urls.clone(),
            turn: Some(Turn {
                urls,
                auth: TurnAuth::Rest {
                    secret,
                    lifetime: settings.turn_credential_lifetime,
                },
            }),
            policy: settings.ice_transport_policy,
        }
    }

    /// No servers: browsers on one machine or network need none.
    pub fn none() -> IceConfig {
        IceConfig {
            stun_urls: Vec::new(),
            turn: None,
            policy: IceTransportPolicy::All,
        }
    }

    /// The `iceServers` for peer `id`, with TURN credentials valid from `now`.
    pub fn servers_for(&self, id: PeerId, now: SystemTime) -> Vec<IceServer> {
        let mut servers = Vec::new();
        if !self.stun_urls.is_empty() {
            servers.push(IceServer {
                urls: self.stun_urls.clone(),
                username: None,
                credential: None,
            });
        }
        if let Some(turn) = &self.turn {
            let (username, credential) = match &turn.auth {
                TurnAuth::Static { username, password } => {
                    (username.clone(), password.expose().to_owned())
                }
                TurnAuth::Rest { secret, lifetime } => {
                    let expiry = now
                        .duration_since(UNIX_EPOCH)
                        .unwrap_or_default()
                        .saturating_add(*lifetime)
                        .as_secs();
                    rest_credentials(secret.expose().as_bytes(), expiry, id)
                }
            };
            servers.push(IceServer {
                urls: turn.urls.clone(),
                username: Some(username),
                credential: Some(credential),
            });
        }
        servers
    }
}

/// coturn's REST API credentials for `id`, valid until `expiry` (unix seconds).
pub fn rest_credentials(secret: &[u8], expiry: u64, id: PeerId) -> (String, String) {
    let username = format!("{expiry}:{id}");
    let password = rest_password(secret, &username);
    (username, password)
}

/// The password of a REST user name: base64(HMAC-SHA1(secret, user name)). The built-in
/// relay checks credentials with it, as coturn does.
pub fn rest_password(secret: &[u8], username: &str) -> String {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret).expect("HMAC takes any key size");
    mac.update(username.as_bytes());
    B64.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::config::{Config, Secret};
    use std::time::Duration;

    #[test]
    fn credentials_match_an_independent_hmac_sha1() {
        // Computed with Python: base64(hmac.new(secret, b"1700003600:42", sha1).digest())
        let (user, password) = rest_credentials(b"north-wind-and-sun", 1_700_003_600, PeerId(42));
        assert_eq!(user, "1700003600:42");
        assert_eq!(password, "P38PfPt5IVGiumVT3j2deQZKAgQ=");
    }

    #[test]
    fn each_peer_gets_credentials_expiring_after_the_lifetime() {
        let mut settings = Config::default().ice;
        settings.stun_urls = vec!["stun:127.0.0.1:3478".into()];
        settings.turn_urls = vec!["turn:127.0.0.1:3478".into()];
        settings.turn_secret = Some(Secret::from("north-wind-and-sun"));
        settings.turn_credential_lifetime = Duration::from_secs(3600);
        let ice = IceConfig::new(&settings);
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let servers = ice.servers_for(PeerId(42), now);
        assert_eq!(servers[0].urls, ["stun:127.0.0.1:3478"]);
        assert_eq!(servers[0].username, None);
        assert_eq!(servers[1].username.as_deref(), Some("1700003600:42"));
        assert_eq!(
            servers[1].credential.as_deref(),
            Some("P38PfPt5IVGiumVT3j2deQZKAgQ=")
        );
        let other = ice.servers_for(PeerId(43), now);
        assert_ne!(other[1].credential, servers[1].credential);
    }

    #[test]
    fn static_credentials_are_handed_out_as_configured() {
        let mut settings = Config::default().ice;
        settings.turn_urls = vec!["turns:turn.example.org".into()];
        settings.turn_username = Some("u".into());
        settings.turn_password = Some(Secret::from("p"));
        let ice = IceConfig::new(&settings);
        let servers = ice.servers_for(PeerId(1), SystemTime::now());
        assert_eq!(servers.len(), 1);
        assert_eq!(servers[0].credential.as_deref(), Some("p"));
        assert!(IceConfig::none()
            .servers_for(PeerId(1), SystemTime::now())
            .is_empty());
    }
}
