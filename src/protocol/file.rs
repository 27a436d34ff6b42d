//! File transfer over a data channel of its own, peer to peer: the pure parts (framing,
//! limits, digests, progress), shared by the browser and native tests.
//!
//! On the channel `file:<id>` the sender sends a [`FileHeader`] (JSON text), then the
//! bytes as binary messages of at most [`CHUNK_BYTES`], then [`FileFrame::Done`]. The
//! receiver checks the SHA-256 against the header before offering the file, and answers
//! [`FileFrame::Received`] or [`FileFrame::Rejected`]. Either side closing the channel
//! before that is a cancel.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Largest binary message: every browser delivers 16 KiB intact.
pub const CHUNK_BYTES: u64 = 16 * 1024;
/// Default largest file, unless the server says otherwise.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 1024 * 1024 * 1024;
/// Label prefix of transfer channels (the chat channel is "chat").
pub const CHANNEL_PREFIX: &str = "file:";
/// Files one person may be sending us at once; further channels are closed unread.
pub const MAX_INCOMING_TRANSFERS: usize = 4;
/// Longest file name kept, in bytes (what file systems allow).
pub const MAX_FILE_NAME_BYTES: usize = 255;
/// What a received file is offered as, whatever the sender says it is: a download,
/// never something the browser would open (and run) in our origin.
pub const RECEIVED_FILE_TYPE: &str = "application/octet-stream";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileHeader {
    pub name: String,
    pub size: u64,
    pub mime: String,
    /// Hex SHA-256 of the whole file.
    pub sha256: String,
}

/// Text frames on a transfer channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FileFrame {
    Header(FileHeader),
    Done,
    /// From the receiver: the file arrived intact.
    Received,
    /// From the receiver: the file was refused or arrived damaged; `reason` in English
    /// for whoever reads the frame, `failure` for the sender's page to word (left out by
    /// an older receiver; one this version does not know reads as left out, so `reason`
    /// is shown instead).
    Rejected {
        reason: String,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "known_failure"
        )]
        failure: Option<TransferError>,
    },
}

/// A `failure` of a kind this version knows, else none (the frame stays readable).
fn known_failure<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<TransferError>, D::Error> {
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(serde_json::from_value(value).ok())
}

/// Largest text frame read on a file channel: a header with a long name fits many times.
pub const MAX_FILE_FRAME_BYTES: usize = 16 * 1024;

impl FileFrame {
    /// A text frame from a file channel, sized before it is parsed: the peer chose it.
    pub fn decode(text: &str) -> Option<FileFrame> {
        if text.len() > MAX_FILE_FRAME_BYTES {
            return None;
        }
        serde_json::from_str(text).ok()
    }
}

/// Why a receiver did not keep a file: found by its checks, shown on its page and said to
/// the sender in [`FileFrame::Rejected`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TransferError {
    #[error("refused: it is {} — files can be at most {}", human_bytes(*size), human_bytes(*limit))]
    TooLarge { size: u64, limit: u64 },
    #[error("arrived damaged (its checksum does not match), so it was not saved")]
    Corrupt,
    #[error("arrived with {got} bytes instead of {expected}")]
    WrongSize { got: u64, expected: u64 },
    #[error("the other side sent something that is not a file")]
    NotAFile,
    #[error("the sender sent more than the announced size")]
    MoreThanAnnounced,
    #[error("unexpected message in the file")]
    Unexpected,
    #[error("the browser could not hold the file")]
    NotKept,
    #[error("the browser could not offer the file")]
    NotOffered,
}

/// A peer-chosen file name made safe to show and to save: no path separators, control
/// characters or bidirectional overrides (which make "exe.txt" read as "txt.exe"), at
/// most [`MAX_FILE_NAME_BYTES`], never empty, never "." or "..".
pub fn safe_file_name(name: &str) -> String {
    let bidi = |c: char| matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    let mut safe = String::new();
    for c in name.chars() {
        let c = match c {
            '/' | '\\' => '_',
            c if c.is_control() || bidi(c) => continue,
            c => c,
        };
        if safe.len() + c.len_utf8() > MAX_FILE_NAME_BYTES {
            break;
        }
        safe.push(c);
    }
    let safe = safe.trim();
    if safe.is_empty() || safe.chars().all(|c| c == '.') {
        "file".into()
    } else {
        safe.to_owned()
    }
}

pub fn check_size(size: u64, limit: u64) -> Result<(), TransferError> {
    if size > limit {
        Err(TransferError::TooLarge { size, limit })
    } else {
        Ok(())
    }
}

/// Byte ranges `[start, end)` of the chunks of a file of `size` bytes.
pub fn chunks(size: u64) -> impl Iterator<Item = (u64, u64)> {
    (0..size.div_ceil(CHUNK_BYTES))
        .map(move |i| (i * CHUNK_BYTES, ((i + 1) * CHUNK_BYTES).min(size)))
}

/// Hashes a file as its chunks go by.
#[derive(Default)]
pub struct Checksum {
    hasher: Sha256,
    bytes: u64,
}

impl Checksum {
    pub fn update(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
        self.bytes += chunk.len() as u64;
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn hex(self) -> String {
        self.hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Whether what arrived is what the header promised.
    pub fn verify(self, header: &FileHeader) -> Result<(), TransferError> {
        if self.bytes != header.size {
            return Err(TransferError::WrongSize {
                got: self.bytes,
                expected: header.size,
            });
        }
        if self.hex() != header.sha256 {
            return Err(TransferError::Corrupt);
        }
        Ok(())
    }
}

/// Whether moving from `before` to `now` bytes (of `size`) reaches a new whole percent:
/// progress bars are redrawn about a hundred times a file, not once per chunk.
pub fn crosses_percent(before: u64, now: u64, size: u64) -> bool {
    now >= size || (now * 100 / size.max(1)) > (before * 100 / size.max(1))
}

/// "5.0 MiB", "812.0 KiB", "96 bytes" (binary units, as limits like 1 GiB are).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [(&str, f64); 3] = [
        ("GiB", 1_073_741_824.0),
        ("MiB", 1_048_576.0),
        ("KiB", 1_024.0),
    ];
    UNITS
        .iter()
        .find(|(_, size)| bytes as f64 >= *size)
        .map(|(unit, size)| format!("{:.1} {unit}", bytes as f64 / size))
        .unwrap_or_else(|| format!("{bytes} bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_whose_size_is_not_a_whole_number_of_bytes_is_refused() {
        let header = |size: &str| {
            serde_json::from_str::<FileFrame>(&format!(
                r#"{{"type":"header","name":"f","mime":"x","sha256":"0"{size}}}"#
            ))
        };
        assert!(header(r#","size":12"#).is_ok());
        for bad in [
            r#","size":-1"#,
            r#","size":1.5"#,
            r#","size":"12""#,
            "",
            r#","size":1e99"#,
        ] {
            assert!(header(bad).is_err(), "{bad}");
        }
        assert!(check_size(DEFAULT_MAX_FILE_BYTES + 1, DEFAULT_MAX_FILE_BYTES).is_err());
        // A frame is sized before it is parsed.
        let long = format!(
            r#"{{"type":"header","name":"{}","size":1,"mime":"x","sha256":"0"}}"#,
            "n".repeat(MAX_FILE_FRAME_BYTES)
        );
        assert_eq!(FileFrame::decode(&long), None);
        assert_eq!(
            FileFrame::decode(r#"{"type":"done"}"#),
            Some(FileFrame::Done)
        );
    }

    #[test]
    fn file_names_from_a_peer_are_made_safe() {
        assert_eq!(safe_file_name("report.pdf"), "report.pdf");
        assert_eq!(safe_file_name("../../etc/passwd"), ".._.._etc_passwd");
        assert_eq!(
            safe_file_name("C:\\Windows\\evil.dll"),
            "C:_Windows_evil.dll"
        );
        assert_eq!(safe_file_name("a\u{0}b\nc\u{7f}"), "abc");
        // "invoice_\u{202E}fdp.exe" reads as "invoice_exe.pdf".
        assert_eq!(safe_file_name("invoice_\u{202E}fdp.exe"), "invoice_fdp.exe");
        assert_eq!(safe_file_name("x\u{2066}y\u{2069}z\u{200F}"), "xyz");
        assert_eq!(safe_file_name(""), "file");
        assert_eq!(safe_file_name(" \u{202E} "), "file");
        assert_eq!(safe_file_name(".."), "file");
        let long = safe_file_name(&"é".repeat(300));
        assert_eq!(
            long.len(),
            254,
            "cut at a character boundary within 255 bytes"
        );
        assert!(long.chars().all(|c| c == 'é'));
        assert_eq!(safe_file_name(&"a".repeat(300)).len(), 255);
    }

    #[test]
    fn chunks_cover_the_file_exactly_and_stay_small() {
        let ranges: Vec<_> = chunks(40_000).collect();
        assert_eq!(
            ranges,
            vec![(0, 16_384), (16_384, 32_768), (32_768, 40_000)]
        );
        assert_eq!(chunks(0).count(), 0);
        assert_eq!(
            chunks(CHUNK_BYTES).collect::<Vec<_>>(),
            vec![(0, CHUNK_BYTES)]
        );
        let five_mb = 5 * 1024 * 1024;
        assert!(chunks(five_mb).all(|(a, b)| b - a <= CHUNK_BYTES));
        assert_eq!(chunks(five_mb).map(|(a, b)| b - a).sum::<u64>(), five_mb);
    }

    #[test]
    fn sizes_over_the_limit_are_refused_with_a_reason() {
        assert!(check_size(1_000, 1_000).is_ok());
        let err = check_size(2 << 20, 1 << 20).unwrap_err();
        assert_eq!(
            err.to_string(),
            "refused: it is 2.0 MiB — files can be at most 1.0 MiB"
        );
    }

    #[test]
    fn checksums_catch_damage_and_truncation() {
        let data = b"hello, file";
        let mut sum = Checksum::default();
        sum.update(&data[..5]);
        sum.update(&data[5..]);
        let header = FileHeader {
            name: "a.txt".into(),
            size: data.len() as u64,
            mime: "text/plain".into(),
            sha256: {
                let mut whole = Checksum::default();
                whole.update(data);
                whole.hex()
            },
        };
        assert_eq!(header.sha256.len(), 64);
        assert!(sum.verify(&header).is_ok());
        let mut damaged = Checksum::default();
        damaged.update(b"hello, fild");
        assert_eq!(damaged.verify(&header), Err(TransferError::Corrupt));
        let mut short = Checksum::default();
        short.update(b"hello");
        assert!(matches!(
            short.verify(&header),
            Err(TransferError::WrongSize { got: 5, .. })
        ));
    }

    #[test]
    fn frames_are_tagged_json() {
        let done = serde_json::to_string(&FileFrame::Done).unwrap();
        assert_eq!(done, r#"{"type":"done"}"#);
        let rejected = FileFrame::Rejected {
            reason: "damaged".into(),
            failure: None,
        };
        let text = serde_json::to_string(&rejected).unwrap();
        assert_eq!(text, r#"{"type":"rejected","reason":"damaged"}"#);
        assert_eq!(serde_json::from_str::<FileFrame>(&text).unwrap(), rejected);
        let wrong_size = FileFrame::Rejected {
            reason: "short".into(),
            failure: Some(TransferError::WrongSize {
                got: 500,
                expected: 1000,
            }),
        };
        let text = serde_json::to_string(&wrong_size).expect("frames serialize");
        assert_eq!(
            text,
            r#"{"type":"rejected","reason":"short","failure":{"kind":"wrong_size","got":500,"expected":1000}}"#
        );
        assert_eq!(FileFrame::decode(&text), Some(wrong_size));
        // A failure this version does not know leaves the reason to be shown.
        assert_eq!(
            FileFrame::decode(r#"{"type":"rejected","reason":"no","failure":{"kind":"new"}}"#),
            Some(FileFrame::Rejected {
                reason: "no".into(),
                failure: None
            })
        );
        assert_eq!(
            serde_json::from_str::<FileFrame>(r#"{"type":"received"}"#).unwrap(),
            FileFrame::Received
        );
        let header: FileFrame = serde_json::from_str(
            r#"{"type":"header","name":"x","size":3,"mime":"","sha256":"ab"}"#,
        )
        .unwrap();
        assert!(matches!(
            header,
            FileFrame::Header(FileHeader { size: 3, .. })
        ));
    }

    #[test]
    fn progress_redraws_once_per_percent() {
        let size = 5 * 1024 * 1024;
        let redraws = chunks(size)
            .filter(|&(start, end)| crosses_percent(start, end, size))
            .count();
        assert_eq!(redraws, 100);
        assert!(crosses_percent(0, 10, 10));
        assert!(!crosses_percent(0, 1, 1_000));
    }

    #[test]
    fn byte_counts_read_naturally() {
        assert_eq!(human_bytes(96), "96 bytes");
        assert_eq!(human_bytes(5_242_880), "5.0 MiB");
        assert_eq!(human_bytes(1_073_741_824), "1.0 GiB");
        assert_eq!(human_bytes(1_536), "1.5 KiB");
    }
}
