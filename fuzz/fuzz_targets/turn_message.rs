//! What a browser (or anyone on the internet) sends the built-in TURN relay, before the
//! TURN crate sees it: the gate's reading of it, the TCP framing of its first bytes, and
//! the check of what the relay answers. Nothing may panic, and the gate never lets an
//! allocation past a credential's quota or a permission to a private peer through.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem::server::relay::gate::{self, Gate, Inbound, Refusal, Verdict};
use tandem::server::relay::tcp::framed_length;

fuzz_target!(|data: &[u8]| {
    let message = gate::inspect(data);
    let _ = gate::refused_as_unauthenticated(data);
    if let [a, b, c, d, ..] = *data {
        let _ = framed_length([a, b, c, d]);
    }
    // A strict gate whose every credential is at its quota.
    let mut gate = Gate::new(false, 1);
    if let Inbound::Allocate { username, .. } = &message {
        gate.allocated(username);
    }
    match (&message, gate.admit(&message, 0)) {
        (Inbound::Allocate { username, .. }, verdict) => assert_eq!(
            matches!(verdict, Verdict::Refuse { refusal: Refusal::AllocationQuota, .. }),
            gate::expiry(username).is_some(),
            "a valid credential at its quota is refused; anything else is the crate's"
        ),
        (Inbound::Permission { peer: Some(ip), .. }, verdict) if !gate::public_peer(*ip) => {
            assert!(matches!(verdict, Verdict::Refuse { refusal: Refusal::PrivatePeer, .. }))
        }
        (Inbound::Garbage, verdict) => assert_eq!(verdict, Verdict::Drop(Refusal::Garbage)),
        _ => {}
    }
});
