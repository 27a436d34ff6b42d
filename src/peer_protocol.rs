//! What one browser tells the other directly, over the call's data channel. The server
//! never sees any of it.

use serde::{Deserialize, Serialize};

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
}

impl PeerMessage {
    pub fn encode(&self) -> String {
        // Only strings and booleans: serializing cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn decode(text: &str) -> Result<PeerMessage, serde_json::Error> {
        serde_json::from_str(text)
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
        assert!(PeerMessage::decode("plain text").is_err());
        assert!(PeerMessage::decode(r#"{"type":"chat"}"#).is_err());
    }
}
