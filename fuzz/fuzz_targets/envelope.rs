//! What one server receives from another through Redis, which may be shared or written to
//! by anyone who reaches it: decoded with a size bound, and what it carries for a person
//! checked to be a server message. Nothing may panic; whatever is accepted round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A small bound, so that both sides of it are reached.
    tandem::server::cluster::check_envelope(data, 4096);
});
