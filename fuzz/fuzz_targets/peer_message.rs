//! What another browser sends us on the data channels: a chat-channel frame decoded as a
//! `PeerMessage` (with every limit), and a file-channel frame decoded as a `FileFrame`,
//! whose name is then cleaned. Nothing may panic; whatever decodes keeps its limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem::protocol::peer::{PeerMessage, MAX_CHAT_CHARS, MAX_PEER_MESSAGE_BYTES};
use tandem::protocol::file::{safe_file_name, FileFrame, MAX_FILE_NAME_BYTES};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(message) = PeerMessage::decode(text) {
        assert!(text.len() <= MAX_PEER_MESSAGE_BYTES);
        if let PeerMessage::Chat { text } = &message {
            assert!(text.chars().count() <= MAX_CHAT_CHARS);
        }
        assert_eq!(PeerMessage::decode(&message.encode()), Ok(message));
    }
    if let Ok(FileFrame::Header(header)) = serde_json::from_str::<FileFrame>(text) {
        let name = safe_file_name(&header.name);
        assert!(!name.is_empty() && name.len() <= MAX_FILE_NAME_BYTES);
        assert!(!name.contains(['/', '\\']));
        assert!(!name.chars().any(|c| c.is_control() || ('\u{202A}'..='\u{202E}').contains(&c)));
    }
    let name = safe_file_name(text);
    assert!(!name.is_empty() && name.len() <= MAX_FILE_NAME_BYTES);
});
