//! A name is what the person typed, and what everyone else in the room sees: checked for
//! invisible and direction-changing characters, and numbered when it looks like someone
//! else's. Nothing may panic; a name accepted stays acceptable once numbered, and the
//! numbered names never look alike.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem::protocol::signaling::{
    distinct_name, fold_name, name_candidates, validate_name, MAX_NAME_CHARS,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(name) = validate_name(text) else {
        return;
    };
    let candidates: Vec<String> = name_candidates(name).take(8).collect();
    for candidate in &candidates[1..] {
        assert!(candidate.chars().count() <= MAX_NAME_CHARS, "{candidate:?}");
        assert_eq!(validate_name(candidate), Ok(candidate.as_str()), "{name:?}");
    }
    for (i, a) in candidates.iter().enumerate() {
        for b in &candidates[i + 1..] {
            assert_ne!(fold_name(a), fold_name(b), "{name:?}");
        }
    }
    // Whoever is there already, the newcomer's name looks like none of theirs.
    let taken: Vec<&str> = candidates[..3].iter().map(String::as_str).collect();
    let given = distinct_name(name, taken.iter().copied());
    assert!(taken.iter().all(|t| fold_name(t) != fold_name(&given)));
});
