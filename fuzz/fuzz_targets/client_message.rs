//! The server's first contact with untrusted input: one text frame decoded as a
//! `ClientMessage`, then the name and room checks. Nothing may panic, and whatever
//! decodes must encode and decode back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem::protocol::signaling::{validate_name, validate_room, ClientMessage};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = validate_name(text);
    let _ = validate_room(text);
    if let Ok(message) = serde_json::from_str::<ClientMessage>(text) {
        if let ClientMessage::Join { room, name } = &message {
            let _ = validate_name(name);
            let _ = validate_room(room);
        }
        let again = serde_json::to_string(&message).expect("decoded messages encode");
        let back: ClientMessage = serde_json::from_str(&again).expect("and decode back");
        assert_eq!(back, message);
    }
});
