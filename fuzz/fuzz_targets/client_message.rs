//! The server's first contact with untrusted input: one text frame decoded as a
//! `ClientMessage`, then the name and room checks, and the numbering of a name already
//! in the room. Nothing may panic, and whatever
//! decodes must encode and decode back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem::protocol::signaling::{distinct_name, validate_name, validate_room, ClientMessage};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(name) = validate_name(text) {
        // A name already taken is numbered, and the numbered one is itself a valid name
        // that nobody in the room has.
        let taken = [name, "x (2)"];
        let numbered = distinct_name(name, taken.iter().copied());
        assert_eq!(validate_name(&numbered), Ok(numbered.as_str()), "{numbered:?}");
        assert!(!taken.iter().any(|t| t.to_lowercase() == numbered.to_lowercase()));
    }
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
