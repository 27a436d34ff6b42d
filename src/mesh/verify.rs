//! The code two people compare by voice to know that nobody is in the middle of their
//! connection (issue 22's "Verify Bob").
//!
//! Each side of a peer connection proves its DTLS certificate by the `a=fingerprint` lines
//! of its description. A relay in the middle (a signaling server that answers each side
//! with a connection of its own) must give each side *its* certificate instead of the
//! other person's, so the fingerprints Alice sees are not the ones Bob sees. The code is a
//! hash of both sides' fingerprints, taken in an order that does not depend on who is
//! local: both pages compute the same code exactly when they see the same two
//! certificates.
//!
//! Pure and native: the browser layer hands in the two SDP texts it already has.

use sha2::{Digest, Sha256};
use std::fmt;

/// Groups of digits in a code, and digits per group: 24 digits, about 80 bits. A relay
/// would have to find a certificate whose hash matches on all of them to go unnoticed.
pub const CODE_GROUPS: usize = 6;
pub const GROUP_DIGITS: u32 = 4;
/// Fingerprint lines looked at per description: a description has one per certificate
/// (browsers send one, sometimes repeated per media section); more is not a description
/// a browser made.
pub const MAX_FINGERPRINTS: usize = 16;
/// Separates these hashes from any other use of SHA-256 over the same text.
const DOMAIN: &[u8] = b"tandem verification code v1\n";

/// Why no code could be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the {0} description has no a=fingerprint line")]
    NoFingerprint(Side),
    #[error("the {0} description has more than {MAX_FINGERPRINTS} a=fingerprint lines")]
    TooManyFingerprints(Side),
    #[error("the {0} description has a malformed a=fingerprint line")]
    Malformed(Side),
}

/// Why a connection has no code to show yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoCode {
    /// No connection to them yet.
    NotConnected,
    /// Its descriptions are still being exchanged.
    SettingUp,
    /// A description could not be read for its fingerprint.
    Unreadable(VerifyError),
}

/// Which description an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Local,
    Remote,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Local => "local",
            Side::Remote => "remote",
        })
    }
}

/// A verification code: [`CODE_GROUPS`] groups of [`GROUP_DIGITS`] digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VerificationCode([u16; CODE_GROUPS]);

impl fmt::Display for VerificationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, group) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{group:0width$}", width = GROUP_DIGITS as usize)?;
        }
        Ok(())
    }
}

/// The fingerprints of one description, normalised (hash name lower case, hex upper
/// case), each once, sorted.
pub fn fingerprints(sdp: &str, side: Side) -> Result<Vec<String>, VerifyError> {
    let mut found = Vec::new();
    for line in sdp.lines() {
        let Some(value) = line.trim_end().strip_prefix("a=fingerprint:") else {
            continue;
        };
        let (hash, hex) = value.split_once(' ').ok_or(VerifyError::Malformed(side))?;
        let hex = hex.trim();
        let well_formed = !hash.is_empty()
            && hash.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !hex.is_empty()
            && hex
                .split(':')
                .all(|byte| byte.len() == 2 && byte.bytes().all(|b| b.is_ascii_hexdigit()));
        if !well_formed {
            return Err(VerifyError::Malformed(side));
        }
        let normalised = format!("{} {}", hash.to_ascii_lowercase(), hex.to_ascii_uppercase());
        if !found.contains(&normalised) {
            if found.len() == MAX_FINGERPRINTS {
                return Err(VerifyError::TooManyFingerprints(side));
            }
            found.push(normalised);
        }
    }
    if found.is_empty() {
        return Err(VerifyError::NoFingerprint(side));
    }
    found.sort();
    Ok(found)
}

/// The code for a connection whose local and remote descriptions are `local` and
/// `remote`. The other side, whose local is this side's remote, gets the same code.
pub fn verification_code(local: &str, remote: &str) -> Result<VerificationCode, VerifyError> {
    let mut sides = [
        fingerprints(local, Side::Local)?.join("\n"),
        fingerprints(remote, Side::Remote)?.join("\n"),
    ];
    sides.sort();
    let mut hash = Sha256::new();
    hash.update(DOMAIN);
    for side in &sides {
        // Length-prefixed, so no two pairs of sides hash the same text.
        hash.update((side.len() as u64).to_be_bytes());
        hash.update(side.as_bytes());
    }
    let digest = hash.finalize();
    let modulus = 10u32.pow(GROUP_DIGITS);
    let mut groups = [0u16; CODE_GROUPS];
    for (group, bytes) in groups.iter_mut().zip(digest.chunks_exact(4)) {
        let word = u32::from_be_bytes(bytes.try_into().expect("chunks of exactly four bytes"));
        *group = u16::try_from(word % modulus).expect("below 10,000");
    }
    Ok(VerificationCode(groups))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: &str = "a=fingerprint:sha-256 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";
    const BOB: &str = "a=fingerprint:sha-256 10:32:54:76:98:BA:DC:FE:10:32:54:76:98:BA:DC:FE:10:32:54:76:98:BA:DC:FE:10:32:54:76:98:BA:DC:FE";
    const MALLORY: &str = "a=fingerprint:sha-256 10:32:54:76:98:BA:DC:FE:10:32:54:76:98:BA:DC:FE:10:32:54:76:98:BA:DC:FE:10:32:54:76:98:BA:DC:FF";

    fn sdp(fingerprint: &str) -> String {
        format!(
            "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n{fingerprint}\r\na=setup:actpass\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n{fingerprint}\r\n"
        )
    }

    #[test]
    fn both_sides_of_a_pair_get_the_same_code() {
        let alice = verification_code(&sdp(ALICE), &sdp(BOB)).expect("fingerprints on both sides");
        let bob = verification_code(&sdp(BOB), &sdp(ALICE)).expect("fingerprints on both sides");
        assert_eq!(alice, bob);
    }

    #[test]
    fn a_different_certificate_on_one_side_gives_a_different_code() {
        // A relay in the middle: Alice sees Mallory's certificate where Bob's should be.
        let alice = verification_code(&sdp(ALICE), &sdp(MALLORY)).expect("fingerprints");
        let bob = verification_code(&sdp(BOB), &sdp(ALICE)).expect("fingerprints");
        assert_ne!(alice, bob);
    }

    #[test]
    fn the_code_is_six_groups_of_four_digits() {
        let code = verification_code(&sdp(ALICE), &sdp(BOB)).expect("fingerprints");
        let text = code.to_string();
        let groups: Vec<&str> = text.split(' ').collect();
        assert_eq!(groups.len(), CODE_GROUPS);
        assert!(groups
            .iter()
            .all(|g| g.len() == 4 && g.bytes().all(|b| b.is_ascii_digit())));
    }

    #[test]
    fn case_and_repetition_of_a_fingerprint_do_not_change_the_code() {
        let lower = format!("a=fingerprint:SHA-256 {}", &BOB[22..].to_ascii_lowercase());
        let once = verification_code(&sdp(ALICE), BOB).expect("fingerprints");
        let twice_lower = verification_code(&sdp(ALICE), &sdp(&lower)).expect("fingerprints");
        assert_eq!(once, twice_lower);
    }

    #[test]
    fn a_description_without_a_fingerprint_gives_no_code() {
        assert_eq!(
            verification_code("v=0\r\n", &sdp(BOB)),
            Err(VerifyError::NoFingerprint(Side::Local))
        );
        assert_eq!(
            verification_code(&sdp(ALICE), ""),
            Err(VerifyError::NoFingerprint(Side::Remote))
        );
    }

    #[test]
    fn malformed_or_too_many_fingerprints_are_refused() {
        for bad in [
            "a=fingerprint:sha-256",
            "a=fingerprint:sha-256 ",
            "a=fingerprint:sha-256 AB:C",
            "a=fingerprint:sha-256 AB::CD",
            "a=fingerprint: AB:CD",
            "a=fingerprint:sha 256 AB:CD",
        ] {
            assert_eq!(
                verification_code(&sdp(ALICE), bad),
                Err(VerifyError::Malformed(Side::Remote)),
                "{bad:?}"
            );
        }
        let many: String = (0..=MAX_FINGERPRINTS)
            .map(|i| format!("a=fingerprint:sha-256 {i:02X}:00\r\n"))
            .collect();
        assert_eq!(
            verification_code(&many, &sdp(BOB)),
            Err(VerifyError::TooManyFingerprints(Side::Local))
        );
    }
}
