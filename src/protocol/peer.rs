//! What one browser tells another directly, over the chat data channel. The server
//! never sees any of it, and the other browser is untrusted input exactly like a socket:
//! anyone with the room link can attach a page of their own. Every limit on what a peer
//! may send lives here and is applied when a message is decoded.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// Longest chat message, in characters: far below what a data channel carries in one
/// message, and longer than anyone types.
pub const MAX_CHAT_CHARS: usize = 4000;
/// Largest data-channel message decoded at all, in bytes: a chat line of
/// [`MAX_CHAT_CHARS`] four-byte characters, JSON-escaped, and its envelope. Anything
/// bigger is dropped unread.
pub const MAX_PEER_MESSAGE_BYTES: usize = 6 * MAX_CHAT_CHARS + 256;
/// Frames one person may send on the chat channel per second, of any kind: an honest page
/// sends a few; past this they are dropped before they are even read.
pub const MAX_PEER_MESSAGES_PER_SECOND: u32 = 200;
/// Chat lines kept on screen; older ones scroll away for good.
pub const MAX_CHAT_LINES: usize = 500;
/// Chat lines one person may send: this many a second on average…
pub const CHAT_LINES_PER_SECOND: f64 = 10.0;
/// …and this many at once.
pub const CHAT_BURST: f64 = 30.0;
/// Reactions one person may send: this many a second on average…
pub const REACTIONS_PER_SECOND: f64 = 2.0;
/// …and this many at once. Past that they are dropped without a word: a reaction is a
/// moment's gesture, and a flood shows as a few floating over one tile.
pub const REACTION_BURST: f64 = 5.0;
/// Changes of one person's hand shown: this many a second on average, and this many at
/// once; a faster flip-flop is not shown as it happens, only where it ends up (a hand is
/// a hint: the latest state is what counts, and each change redraws a tile and a list).
pub const HAND_CHANGES_PER_SECOND: f64 = 2.0;
pub const HAND_CHANGE_BURST: f64 = 4.0;
/// Longest a hand can say it has been up, in milliseconds (a day): `for_ms` orders the
/// hands a newcomer learns of, and nothing older than the call can be true.
pub const MAX_HAND_UP_MS: u32 = 24 * 60 * 60 * 1000;
/// Highest `turn` a hand may have. A hand's turn is one more than the highest turn up
/// when it was raised, so a call reaches this only after a million raises with a hand
/// up all along: at two changes a second, nearly six days.
pub const MAX_HAND_TURN: u32 = 1_000_000;

/// One message on the data channel, as a JSON text frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PeerMessage {
    /// A line of chat.
    Chat { text: String },
    /// What this side is sending now; sent when the channel opens and on every change, so
    /// the other side can say "muted" or show a placeholder instead of a black picture.
    Media {
        audio: bool,
        video: bool,
        screen: bool,
    },
    /// The sender's hand: up or down. Sent when the channel opens and on every change.
    /// A hand up comes after every hand with a lower `turn` (its owner saw those up when
    /// raising it), and among equal turns after those up for longer than `for_ms`: the
    /// order hands went up in, learned by a newcomer without comparing clocks.
    Hand {
        up: bool,
        #[serde(default)]
        for_ms: u32,
        #[serde(default)]
        turn: u32,
    },
    /// The host asks the receiver to lower their hand; taken only from the room's host.
    LowerHand,
    /// A reaction, floated over the sender's tile for a moment.
    React { reaction: Reaction },
    /// The sender records the call (or stopped). Sent when the channel opens and on every
    /// change, so everyone, a newcomer too, sees who is recording.
    Recording { on: bool },
}

/// The reactions there are: a fixed set, so a peer cannot float text of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reaction {
    ThumbsUp,
    Clap,
    Laugh,
    Heart,
    Party,
    Surprised,
}

impl Reaction {
    pub const ALL: [Reaction; 6] = [
        Reaction::ThumbsUp,
        Reaction::Clap,
        Reaction::Laugh,
        Reaction::Heart,
        Reaction::Party,
        Reaction::Surprised,
    ];

    pub fn emoji(self) -> &'static str {
        match self {
            Reaction::ThumbsUp => "👍",
            Reaction::Clap => "👏",
            Reaction::Laugh => "😂",
            Reaction::Heart => "❤️",
            Reaction::Party => "🎉",
            Reaction::Surprised => "😮",
        }
    }
}

/// Every `type` a message may have.
const TYPES: [&str; 6] = ["chat", "media", "hand", "lower_hand", "react", "recording"];

/// Why a message from a peer was dropped. Each kind is counted, and warned about once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum PeerMessageError {
    #[error("a message over {MAX_PEER_MESSAGE_BYTES} bytes")]
    TooLarge,
    #[error("a message that is not JSON, or has fields of the wrong type")]
    Malformed,
    #[error("a message of a type this version does not know")]
    UnknownType,
    #[error("binary data where text was expected")]
    Binary,
    #[error("a chat line over {MAX_CHAT_CHARS} characters")]
    ChatTooLong,
    #[error("more than {MAX_PEER_MESSAGES_PER_SECOND} messages in a second")]
    TooFast,
    #[error("a hand up for longer than a day")]
    HandTooOld,
    #[error("a hand's turn past {MAX_HAND_TURN}")]
    HandTurnTooHigh,
    #[error("a host's request from someone who is not the host")]
    NotFromHost,
}

impl PeerMessageError {
    pub const ALL: [PeerMessageError; 9] = [
        PeerMessageError::TooLarge,
        PeerMessageError::Malformed,
        PeerMessageError::UnknownType,
        PeerMessageError::Binary,
        PeerMessageError::ChatTooLong,
        PeerMessageError::TooFast,
        PeerMessageError::HandTooOld,
        PeerMessageError::HandTurnTooHigh,
        PeerMessageError::NotFromHost,
    ];
}

impl PeerMessage {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("strings and booleans always serialize")
    }

    /// Decodes a text frame from a peer, with every limit applied: size before parsing,
    /// then the type, then the fields, then the chat line's length.
    pub fn decode(text: &str) -> Result<PeerMessage, PeerMessageError> {
        if text.len() > MAX_PEER_MESSAGE_BYTES {
            return Err(PeerMessageError::TooLarge);
        }
        #[derive(Deserialize)]
        struct Tagged<'a> {
            #[serde(rename = "type", borrow)]
            kind: Cow<'a, str>,
        }
        let tagged: Tagged = serde_json::from_str(text).map_err(|_| PeerMessageError::Malformed)?;
        if !TYPES.contains(&&*tagged.kind) {
            return Err(PeerMessageError::UnknownType);
        }
        let message: PeerMessage =
            serde_json::from_str(text).map_err(|_| PeerMessageError::Malformed)?;
        match &message {
            PeerMessage::Chat { text } if text.chars().count() > MAX_CHAT_CHARS => {
                Err(PeerMessageError::ChatTooLong)
            }
            PeerMessage::Hand { for_ms, .. } if *for_ms > MAX_HAND_UP_MS => {
                Err(PeerMessageError::HandTooOld)
            }
            PeerMessage::Hand { turn, .. } if *turn > MAX_HAND_TURN => {
                Err(PeerMessageError::HandTurnTooHigh)
            }
            _ => Ok(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        for message in [
            PeerMessage::Chat {
                text: "<b>hi</b> \"there\"".into(),
            },
            PeerMessage::Media {
                audio: false,
                video: true,
                screen: false,
            },
            PeerMessage::Hand {
                up: true,
                for_ms: 1_500,
                turn: 2,
            },
            PeerMessage::LowerHand,
            PeerMessage::React {
                reaction: Reaction::Party,
            },
            PeerMessage::Recording { on: true },
        ] {
            assert_eq!(PeerMessage::decode(&message.encode()).unwrap(), message);
        }
        assert_eq!(
            PeerMessage::Media {
                audio: true,
                video: false,
                screen: true
            }
            .encode(),
            r#"{"type":"media","audio":true,"video":false,"screen":true}"#
        );
        assert_eq!(
            PeerMessage::React {
                reaction: Reaction::ThumbsUp
            }
            .encode(),
            r#"{"type":"react","reaction":"thumbs_up"}"#
        );
        // A hand without `for_ms` went up just now, before any other (turn 0).
        assert_eq!(
            PeerMessage::decode(r#"{"type":"hand","up":true}"#),
            Ok(PeerMessage::Hand {
                up: true,
                for_ms: 0,
                turn: 0
            })
        );
    }

    #[test]
    fn bad_messages_are_told_apart() {
        use PeerMessageError::*;
        for (text, why) in [
            ("plain text", Malformed),
            ("", Malformed),
            ("[1,2]", Malformed),
            (r#"{"text":"no type"}"#, Malformed),
            (r#"{"type":7}"#, Malformed),
            (r#"{"type":"chat"}"#, Malformed),
            (r#"{"type":"chat","text":12}"#, Malformed),
            (
                r#"{"type":"media","audio":"yes","video":true,"screen":false}"#,
                Malformed,
            ),
            (r#"{"type":"teleport","to":"mars"}"#, UnknownType),
            (r#"{"type":"react","reaction":"<script>"}"#, Malformed),
            (r#"{"type":"react","reaction":"😀"}"#, Malformed),
            (r#"{"type":"react"}"#, Malformed),
            (r#"{"type":"recording"}"#, Malformed),
            (r#"{"type":"recording","on":1}"#, Malformed),
            (r#"{"type":"hand","up":"yes"}"#, Malformed),
            (r#"{"type":"hand","up":true,"for_ms":-1}"#, Malformed),
            (r#"{"type":"hand","up":true,"for_ms":1e9}"#, Malformed),
            (r#"{"type":"hand","up":true,"for_ms":86400001}"#, HandTooOld),
            (r#"{"type":"hand","up":true,"turn":-1}"#, Malformed),
            (
                r#"{"type":"hand","up":true,"turn":1000001}"#,
                HandTurnTooHigh,
            ),
            (r#"{"type":"CHAT","text":"x"}"#, UnknownType),
        ] {
            assert_eq!(PeerMessage::decode(text), Err(why), "{text}");
        }
    }

    #[test]
    fn chat_lines_and_frames_have_limits() {
        let line = |chars: usize| PeerMessage::Chat {
            text: "é".repeat(chars),
        };
        assert!(PeerMessage::decode(&line(MAX_CHAT_CHARS).encode()).is_ok());
        assert_eq!(
            PeerMessage::decode(&line(MAX_CHAT_CHARS + 1).encode()),
            Err(PeerMessageError::ChatTooLong)
        );
        // The longest line of four-byte characters, escaped, still fits a frame…
        let emoji = PeerMessage::Chat {
            text: "\u{1F600}".repeat(MAX_CHAT_CHARS),
        };
        assert!(PeerMessage::decode(&emoji.encode()).is_ok());
        let escaped = PeerMessage::Chat {
            text: "\"".repeat(MAX_CHAT_CHARS),
        };
        assert!(PeerMessage::decode(&escaped.encode()).is_ok());
        // …and 64 KiB is dropped before it is parsed.
        let huge = format!(r#"{{"type":"chat","text":"{}"}}"#, "x".repeat(64 * 1024));
        assert_eq!(PeerMessage::decode(&huge), Err(PeerMessageError::TooLarge));
    }
}
