//! What a browser (or anyone on the internet) sends the built-in TURN relay: the gate's
//! reading of it, the TCP framing of its first bytes, the check of what the relay answers,
//! and every decoding the TURN crate does after the gate (the message, each attribute its
//! request handlers read, channel data), since a panic there would end that listener's
//! task. Nothing may panic, and the gate never lets an allocation past a credential's
//! quota or a permission to a private peer through.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem::server::relay::gate::{self, Gate, Inbound, Refusal, Verdict};
use tandem::server::relay::tcp::framed_length;

/// Every attribute the TURN crate's request handlers read, read from `message`.
fn read_every_attribute(message: &stun::message::Message) {
    use stun::message::Getter;
    let mut lifetime = turn::proto::lifetime::Lifetime::default();
    let _ = lifetime.get_from(message);
    let mut transport = turn::proto::reqtrans::RequestedTransport::default();
    let _ = transport.get_from(message);
    let mut even = turn::proto::evenport::EvenPort::default();
    let _ = even.get_from(message);
    let mut token = turn::proto::rsrvtoken::ReservationToken(Vec::new());
    let _ = token.get_from(message);
    let mut channel = turn::proto::channum::ChannelNumber::default();
    let _ = channel.get_from(message);
    let mut data = turn::proto::data::Data::default();
    let _ = data.get_from(message);
    let mut family = turn::proto::reqfamily::RequestedAddressFamily(0);
    let _ = family.get_from(message);
    let mut fragment = turn::proto::dontfrag::DontFragmentAttr;
    let _ = fragment.get_from(message);
    let mut peer = turn::proto::peeraddr::PeerAddress::default();
    let _ = peer.get_from(message);
    let mut code = stun::error_code::ErrorCodeAttribute::default();
    let _ = code.get_from(message);
    for kind in [stun::attributes::ATTR_USERNAME, stun::attributes::ATTR_REALM, stun::attributes::ATTR_NONCE] {
        let mut text = stun::textattrs::TextAttribute::new(kind, String::new());
        let _ = text.get_from(message);
    }
    // Integrity against some key, and the fingerprint, as the crate checks them.
    let _ = stun::integrity::MessageIntegrity(vec![7; 16]).check(&mut message.clone());
    let _ = stun::fingerprint::FINGERPRINT.check(message);
}

fuzz_target!(|data: &[u8]| {
    let mut decoded = stun::message::Message::new();
    if decoded.unmarshal_binary(data).is_ok() {
        read_every_attribute(&decoded);
    }
    let mut channel = turn::proto::chandata::ChannelData { raw: data.to_vec(), ..Default::default() };
    let _ = channel.decode();
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
    let verdict = gate.admit(&message, std::net::Ipv4Addr::LOCALHOST.into(), 0);
    match (&message, verdict) {
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
