//! Resume tokens: a signed claim to one seat.
//!
//! The token carries the seat itself (room, peer id, name), so a restarted server that
//! knows the same secret can give the seat back with the same id, and no one in the call
//! notices the restart. `boot` tells this server process apart from earlier ones: a token
//! this process issued whose seat is gone was given up or timed out, and stays refused.
//!
//! A token works once: it names the seat's attachment (`gen`), and taking the seat moves
//! the seat on to the next one, whose token only the new holder has. Tokens are also
//! short-lived ([`token_lifetime`]): a connected client is sent a fresh one with every
//! [`TOKEN_REFRESH_BEATS`]th heartbeat, so a token outlives its seat by at most a few
//! minutes, even when a restarted server cannot know that the seat was given up.

use crate::protocol::signaling::{ErrorCode, PeerId};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A connected client is sent a fresh token with every this many heartbeats (every
/// minute with the default `heartbeat_interval` of 5 s).
pub const TOKEN_REFRESH_BEATS: u32 = 12;

/// How long a token is accepted: the seat's grace after its socket drops, plus two
/// refresh periods, so the token a client holds when its socket drops lasts until its
/// seat is freed, and hardly longer (2 min 20 s with the defaults).
pub fn token_lifetime(resume_grace: Duration, heartbeat_interval: Duration) -> Duration {
    resume_grace + 2 * TOKEN_REFRESH_BEATS * heartbeat_interval
}

/// What a token claims.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatClaim {
    pub room: String,
    pub id: PeerId,
    pub name: String,
    /// Which attachment of the seat it resumes: a token already used names an earlier one.
    #[serde(default)]
    pub gen: u64,
    /// Which server process issued it.
    pub boot: u64,
    /// Unix milliseconds.
    pub issued: u64,
}

pub struct ResumeTokens {
    secret: Vec<u8>,
    boot: u64,
    lifetime: Duration,
}

impl ResumeTokens {
    /// Tokens signed with `secret`, accepted for `lifetime` (see [`token_lifetime`]).
    pub fn new(secret: &[u8], lifetime: Duration) -> ResumeTokens {
        ResumeTokens {
            secret: secret.to_vec(),
            boot: rand::random(),
            lifetime,
        }
    }

    /// How long a token is accepted after it was issued.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// A token for attachment `gen` of seat `id`.
    pub fn issue(&self, room: &str, id: PeerId, name: &str, gen: u64) -> String {
        let claim = SeatClaim {
            room: room.to_owned(),
            id,
            name: name.to_owned(),
            gen,
            boot: self.boot,
            issued: unix_now_ms(),
        };
        let payload = B64.encode(
            serde_json::to_vec(&claim).expect("a struct of strings and numbers serializes"),
        );
        let signature = B64.encode(self.mac(payload.as_bytes()).finalize().into_bytes());
        format!("{payload}.{signature}")
    }

    /// The claim, if the token is genuine and young enough.
    pub fn verify(&self, token: &str) -> Result<SeatClaim, ErrorCode> {
        let (payload, signature) = token.split_once('.').ok_or(ErrorCode::InvalidToken)?;
        let signature = B64.decode(signature).map_err(|_| ErrorCode::InvalidToken)?;
        self.mac(payload.as_bytes())
            .verify_slice(&signature)
            .map_err(|_| ErrorCode::InvalidToken)?;
        let bytes = B64.decode(payload).map_err(|_| ErrorCode::InvalidToken)?;
        let claim: SeatClaim =
            serde_json::from_slice(&bytes).map_err(|_| ErrorCode::InvalidToken)?;
        if unix_now_ms().saturating_sub(claim.issued) > self.lifetime.as_millis() as u64 {
            return Err(ErrorCode::ResumeExpired);
        }
        Ok(claim)
    }

    /// Whether this server process issued the claim (rather than one before a restart).
    pub fn issued_here(&self, claim: &SeatClaim) -> bool {
        claim.boot == self.boot
    }

    fn mac(&self, data: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret)
            .expect("HMAC accepts keys of every length");
        mac.update(data);
        mac
    }
}

fn unix_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRACE: Duration = Duration::from_secs(140);

    #[test]
    fn a_token_carries_its_seat() {
        let tokens = ResumeTokens::new(b"secret", GRACE);
        let token = tokens.issue("room1", PeerId(42), "Zoë", 3);
        let claim = tokens.verify(&token).unwrap();
        assert_eq!(
            (
                claim.room.as_str(),
                claim.id,
                claim.name.as_str(),
                claim.gen
            ),
            ("room1", PeerId(42), "Zoë", 3)
        );
        assert!(tokens.issued_here(&claim));
    }

    #[test]
    fn a_restarted_server_with_the_same_secret_accepts_it() {
        let token = ResumeTokens::new(b"secret", GRACE).issue("r", PeerId(1), "a", 0);
        let restarted = ResumeTokens::new(b"secret", GRACE);
        let claim = restarted.verify(&token).unwrap();
        assert!(!restarted.issued_here(&claim));
        assert_eq!(
            ResumeTokens::new(b"other secret", GRACE).verify(&token),
            Err(ErrorCode::InvalidToken)
        );
    }

    #[test]
    fn forged_and_garbled_tokens_are_refused() {
        let tokens = ResumeTokens::new(b"secret", GRACE);
        let token = tokens.issue("r", PeerId(1), "a", 0);
        let (payload, signature) = token.split_once('.').unwrap();
        let forged_claim = B64.encode(br#"{"room":"r","id":2,"name":"a","boot":0,"issued":0}"#);
        for bad in [
            "",
            "no-dot",
            ".",
            &format!("{payload}."),
            &format!("{forged_claim}.{signature}"),
            &format!("{payload}.{}", B64.encode([0u8; 32])),
            &format!("{payload}x.{signature}"),
        ] {
            assert_eq!(tokens.verify(bad), Err(ErrorCode::InvalidToken), "{bad:?}");
        }
    }

    #[test]
    fn a_token_lives_for_the_grace_and_two_refreshes() {
        let lifetime = token_lifetime(Duration::from_secs(20), Duration::from_secs(5));
        assert_eq!(lifetime, Duration::from_secs(20 + 120));
        let tokens = ResumeTokens::new(b"secret", lifetime);
        let claim = SeatClaim {
            room: "r".into(),
            id: PeerId(1),
            name: "a".into(),
            gen: 0,
            boot: 0,
            issued: unix_now_ms() - tokens.lifetime().as_millis() as u64 - 2,
        };
        let payload = B64.encode(serde_json::to_vec(&claim).unwrap());
        let signature = B64.encode(tokens.mac(payload.as_bytes()).finalize().into_bytes());
        assert_eq!(
            tokens.verify(&format!("{payload}.{signature}")),
            Err(ErrorCode::ResumeExpired)
        );
    }
}
