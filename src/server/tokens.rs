//! Resume tokens: a signed claim to one seat.
//!
//! The token carries the seat itself (room, peer id, name), so a restarted server that
//! knows the same secret can give the seat back with the same id, and no one in the call
//! notices the restart. `boot` tells this server process apart from earlier ones: a token
//! this process issued whose seat is gone was given up or timed out, and stays refused.

use crate::protocol::signaling::{ErrorCode, PeerId};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A token older than this is refused even by a restarted server, which cannot know what
/// became of the seat. Long enough for any call.
pub const MAX_TOKEN_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// What a token claims.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatClaim {
    pub room: String,
    pub id: PeerId,
    pub name: String,
    /// Which server process issued it.
    pub boot: u64,
    /// Unix seconds.
    pub issued: u64,
}

pub struct ResumeTokens {
    secret: Vec<u8>,
    boot: u64,
}

impl ResumeTokens {
    pub fn new(secret: &[u8]) -> ResumeTokens {
        ResumeTokens {
            secret: secret.to_vec(),
            boot: rand::random(),
        }
    }

    pub fn issue(&self, room: &str, id: PeerId, name: &str) -> String {
        let claim = SeatClaim {
            room: room.to_owned(),
            id,
            name: name.to_owned(),
            boot: self.boot,
            issued: unix_now(),
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
        if unix_now().saturating_sub(claim.issued) > MAX_TOKEN_AGE.as_secs() {
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

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_carries_its_seat() {
        let tokens = ResumeTokens::new(b"secret");
        let token = tokens.issue("room1", PeerId(42), "Zoë");
        let claim = tokens.verify(&token).unwrap();
        assert_eq!(
            (claim.room.as_str(), claim.id, claim.name.as_str()),
            ("room1", PeerId(42), "Zoë")
        );
        assert!(tokens.issued_here(&claim));
    }

    #[test]
    fn a_restarted_server_with_the_same_secret_accepts_it() {
        let token = ResumeTokens::new(b"secret").issue("r", PeerId(1), "a");
        let restarted = ResumeTokens::new(b"secret");
        let claim = restarted.verify(&token).unwrap();
        assert!(!restarted.issued_here(&claim));
        assert_eq!(
            ResumeTokens::new(b"other secret").verify(&token),
            Err(ErrorCode::InvalidToken)
        );
    }

    #[test]
    fn forged_and_garbled_tokens_are_refused() {
        let tokens = ResumeTokens::new(b"secret");
        let token = tokens.issue("r", PeerId(1), "a");
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
    fn old_tokens_expire() {
        let tokens = ResumeTokens::new(b"secret");
        let claim = SeatClaim {
            room: "r".into(),
            id: PeerId(1),
            name: "a".into(),
            boot: 0,
            issued: unix_now() - MAX_TOKEN_AGE.as_secs() - 10,
        };
        let payload = B64.encode(serde_json::to_vec(&claim).unwrap());
        let signature = B64.encode(tokens.mac(payload.as_bytes()).finalize().into_bytes());
        assert_eq!(
            tokens.verify(&format!("{payload}.{signature}")),
            Err(ErrorCode::ResumeExpired)
        );
    }
}
