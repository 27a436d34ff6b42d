//! What the built-in relay lets through, decided without sockets: each message a browser
//! sends the relay is looked at once ([`inspect`]) before the TURN crate sees it, and the
//! [`Gate`] says whether it goes on or is answered with a refusal. Unit-tested here, and
//! fuzzed (`fuzz/fuzz_targets/turn_message.rs`): nothing a browser sends can make it panic.
//!
//! The TURN crate checks message integrity, nonces and lifetimes; what it has no hook for
//! is decided here: which peers may be relayed to, how many allocations a credential may
//! hold, and whether a credential has expired.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use stun::attributes::ATTR_MESSAGE_INTEGRITY;
use stun::message::{
    Getter, Message, Method, CLASS_REQUEST, METHOD_ALLOCATE, METHOD_CHANNEL_BIND,
    METHOD_CREATE_PERMISSION, METHOD_REFRESH,
};
use stun::textattrs::Username;
use turn::proto::chandata::ChannelData;
use turn::proto::peeraddr::PeerAddress;

/// The largest message the relay takes from a browser: what the TURN crate reads at once.
pub const MAX_MESSAGE_BYTES: usize = 1500;

/// What one message from a browser is, as far as the gate cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inbound {
    /// An Allocate request signed with a credential.
    Allocate {
        username: String,
        transaction: [u8; 12],
    },
    /// A CreatePermission or ChannelBind request: the peer it would open the relay to
    /// (the TURN crate acts on the first XOR-PEER-ADDRESS only), `None` if unreadable.
    Permission {
        method: Method,
        peer: Option<IpAddr>,
        username: Option<String>,
        transaction: [u8; 12],
    },
    /// A request that needs a credential but carries none (Allocate, Refresh,
    /// CreatePermission, ChannelBind): the TURN crate answers it with a challenge, and keeps
    /// the challenge's nonce for good (it never sweeps them), so these are rate-limited.
    Unsigned,
    /// Any other STUN message (Binding, Send, an answer), or channel data: the TURN crate
    /// deals with it.
    Other,
    /// Neither STUN nor channel data: dropped unread.
    Garbage,
}

/// Reads what the gate needs from a message; never panics, whatever `bytes` holds.
pub fn inspect(bytes: &[u8]) -> Inbound {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Inbound::Garbage;
    }
    if ChannelData::is_channel_data(bytes) {
        return Inbound::Other;
    }
    if !stun::message::is_message(bytes) {
        return Inbound::Garbage;
    }
    let mut message = Message::new();
    if message.unmarshal_binary(bytes).is_err() {
        return Inbound::Garbage;
    }
    if message.typ.class != CLASS_REQUEST {
        return Inbound::Other;
    }
    let transaction = message.transaction_id.0;
    let username = || {
        let mut username = Username::new(stun::attributes::ATTR_USERNAME, String::new());
        username
            .get_from(&message)
            .ok()
            .map(|()| username.to_string())
    };
    let needs_credential = matches!(
        message.typ.method,
        METHOD_ALLOCATE | METHOD_REFRESH | METHOD_CREATE_PERMISSION | METHOD_CHANNEL_BIND
    );
    if needs_credential && !message.contains(ATTR_MESSAGE_INTEGRITY) {
        return Inbound::Unsigned;
    }
    match message.typ.method {
        METHOD_ALLOCATE => match username() {
            Some(username) => Inbound::Allocate {
                username,
                transaction,
            },
            None => Inbound::Other,
        },
        method @ (METHOD_CREATE_PERMISSION | METHOD_CHANNEL_BIND) => {
            let mut peer = PeerAddress::default();
            Inbound::Permission {
                method,
                peer: peer.get_from(&message).ok().map(|()| peer.ip),
                username: username(),
                transaction,
            }
        }
        _ => Inbound::Other,
    }
}

/// Whether an answer the relay sends is a 400 error: how the TURN crate refuses a request
/// whose credential is unknown, expired or wrong (bad message integrity). Channel data and
/// other answers are told apart by their first bytes, without decoding.
pub fn refused_as_unauthenticated(answer: &[u8]) -> bool {
    let error_class = matches!(answer, [first, second, ..]
        if first >> 6 == 0 && u16::from_be_bytes([*first, *second]) & 0x0110 == 0x0110);
    if !error_class || !stun::message::is_message(answer) {
        return false;
    }
    let mut message = Message::new();
    let mut code = stun::error_code::ErrorCodeAttribute::default();
    message.unmarshal_binary(answer).is_ok()
        && code.get_from(&message).is_ok()
        && code.code == stun::error_code::CODE_BAD_REQUEST
}

/// Whether the relay may send to `ip` when private peers are not allowed: only addresses
/// reachable on the internet. Loopback, private (RFC 1918, unique local), shared
/// (100.64/10), link-local, multicast, broadcast, unspecified and documentation addresses
/// are refused, so that a credential cannot reach into the network the server sits in.
pub fn public_peer(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => public_v4(v4),
            None => public_v6(v6),
        },
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_unspecified()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || a >= 240)
}

fn public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || first == 0x2001 && ip.segments()[1] == 0x0db8) // documentation
}

/// Why a message was refused, for `/metrics` and the refusal sent back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A credential whose expiry has passed.
    Expired,
    /// A user name that is no REST credential, or a wrong password (message integrity).
    BadCredential,
    /// A peer on a private, loopback or otherwise non-public address.
    PrivatePeer,
    /// More allocations than one credential may hold.
    AllocationQuota,
    /// Past the bandwidth one credential may use: the packet is dropped.
    Bandwidth,
    /// Not STUN nor channel data, or too big.
    Garbage,
    /// Past the rate of unsigned requests, from one address or from all.
    Unsigned,
}

impl Refusal {
    pub const ALL: [Refusal; 7] = [
        Refusal::Expired,
        Refusal::BadCredential,
        Refusal::PrivatePeer,
        Refusal::AllocationQuota,
        Refusal::Bandwidth,
        Refusal::Garbage,
        Refusal::Unsigned,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Refusal::Expired => "expired",
            Refusal::BadCredential => "bad_credential",
            Refusal::PrivatePeer => "private_peer",
            Refusal::AllocationQuota => "allocation_quota",
            Refusal::Bandwidth => "bandwidth",
            Refusal::Garbage => "garbage",
            Refusal::Unsigned => "unsigned_rate",
        }
    }
}

/// The expiry (unix seconds) a REST user name carries: `<expiry>:<anything>`, or a bare
/// `<expiry>` as coturn also accepts.
pub fn expiry(username: &str) -> Option<u64> {
    username.split(':').next()?.parse().ok()
}

/// What a message from a browser leads to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Handed to the TURN crate.
    Pass,
    /// Dropped without an answer.
    Drop(Refusal),
    /// Answered with a STUN error (403 or 486) for this request, signed for `username`.
    Refuse {
        refusal: Refusal,
        method: Method,
        transaction: [u8; 12],
        username: Option<String>,
    },
}

/// The relay's rules and the allocations each credential holds.
/// Unsigned requests taken from one address in one second; a browser sends one per
/// allocation it makes (two per person it calls: UDP and TCP), then signs everything, so
/// this lets ~25 people behind one address join in the same second.
pub const UNSIGNED_PER_ADDRESS: u32 = 50;
/// Unsigned requests taken from all addresses in one second (UDP source addresses can be
/// forged): what bounds how fast the TURN crate's nonces can pile up, at ~100 bytes each.
pub const UNSIGNED_PER_SECOND: u32 = 500;

#[derive(Debug)]
pub struct Gate {
    allow_private_peers: bool,
    max_allocations: usize,
    held: HashMap<String, usize>,
    /// The second being counted, unsigned requests taken in it, and from whom.
    unsigned_second: u64,
    unsigned_taken: u32,
    unsigned_from: HashMap<IpAddr, u32>,
}

impl Gate {
    pub fn new(allow_private_peers: bool, max_allocations: usize) -> Gate {
        Gate {
            allow_private_peers,
            max_allocations,
            held: HashMap::new(),
            unsigned_second: 0,
            unsigned_taken: 0,
            unsigned_from: HashMap::new(),
        }
    }

    /// What becomes of `message` (as [`inspect`] read it), from `from`, at `now` (unix
    /// seconds).
    pub fn admit(&mut self, message: &Inbound, from: IpAddr, now: u64) -> Verdict {
        match message {
            Inbound::Garbage => Verdict::Drop(Refusal::Garbage),
            Inbound::Other => Verdict::Pass,
            Inbound::Unsigned => {
                if now != self.unsigned_second {
                    // A new second: the counts start again (the map holds at most
                    // UNSIGNED_PER_SECOND addresses, each with something taken).
                    self.unsigned_second = now;
                    self.unsigned_taken = 0;
                    self.unsigned_from.clear();
                }
                let from_there = self.unsigned_from.get(&from).copied().unwrap_or(0);
                if self.unsigned_taken >= UNSIGNED_PER_SECOND || from_there >= UNSIGNED_PER_ADDRESS
                {
                    return Verdict::Drop(Refusal::Unsigned);
                }
                self.unsigned_taken += 1;
                self.unsigned_from.insert(from, from_there + 1);
                Verdict::Pass
            }
            Inbound::Allocate {
                username,
                transaction,
            } => {
                // An unknown or expired credential is refused by the TURN crate, which asks
                // the relay's authentication (and answers 400).
                let valid = expiry(username).is_some_and(|expiry| expiry >= now);
                if valid && self.allocations(username) >= self.max_allocations {
                    Verdict::Refuse {
                        refusal: Refusal::AllocationQuota,
                        method: METHOD_ALLOCATE,
                        transaction: *transaction,
                        username: Some(username.clone()),
                    }
                } else {
                    Verdict::Pass
                }
            }
            Inbound::Permission {
                method,
                peer,
                username,
                transaction,
            } => match peer {
                Some(ip) if !self.allow_private_peers && !public_peer(*ip) => Verdict::Refuse {
                    refusal: Refusal::PrivatePeer,
                    method: *method,
                    transaction: *transaction,
                    username: username.clone(),
                },
                _ => Verdict::Pass,
            },
        }
    }

    /// Whether a packet to or from a relayed peer at `ip` may pass.
    pub fn peer_allowed(&self, ip: IpAddr) -> bool {
        self.allow_private_peers || public_peer(ip)
    }

    pub fn allocations(&self, username: &str) -> usize {
        self.held.get(username).copied().unwrap_or(0)
    }

    /// An allocation was made for `username`.
    pub fn allocated(&mut self, username: &str) {
        *self.held.entry(username.to_owned()).or_default() += 1;
    }

    /// One of `username`'s allocations ended.
    pub fn released(&mut self, username: &str) {
        if let Some(held) = self.held.get_mut(username) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                self.held.remove(username);
            }
        }
    }

    /// Allocations held, by every credential.
    pub fn total(&self) -> usize {
        self.held.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stun::agent::TransactionId;
    use stun::message::{MessageType, Setter};
    use stun::textattrs::Username;
    use turn::proto::peeraddr::PeerAddress;

    const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    fn request(method: Method, attributes: Vec<Box<dyn Setter>>) -> Vec<u8> {
        let mut message = Message::new();
        let mut setters: Vec<Box<dyn Setter>> = vec![
            Box::new(TransactionId([7; 12])),
            Box::new(MessageType::new(method, CLASS_REQUEST)),
        ];
        setters.extend(attributes);
        message.build(&setters).expect("a well-formed request");
        message.raw
    }

    fn signed_allocate(username: &str) -> Vec<u8> {
        request(
            METHOD_ALLOCATE,
            vec![
                Box::new(Username::new(
                    stun::attributes::ATTR_USERNAME,
                    username.into(),
                )),
                Box::new(stun::integrity::MessageIntegrity::new_short_term_integrity(
                    "password".into(),
                )),
            ],
        )
    }

    fn permission(peer: &str) -> Vec<u8> {
        let ip: IpAddr = peer.parse().expect("an address");
        // Signed, as a browser sends it (an unsigned one is only challenged).
        request(
            METHOD_CREATE_PERMISSION,
            vec![
                Box::new(PeerAddress { ip, port: 4000 }),
                Box::new(Username::new(
                    stun::attributes::ATTR_USERNAME,
                    "2000000000:7".into(),
                )),
                Box::new(stun::integrity::MessageIntegrity::new_short_term_integrity(
                    "password".into(),
                )),
            ],
        )
    }

    #[test]
    fn peers_on_the_internet_are_public_and_the_rest_are_not() {
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "2001:4860:4860::8888",
            "::ffff:8.8.4.4",
        ] {
            assert!(public_peer(ip.parse().expect("ip")), "{ip}");
        }
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.20",
            "169.254.169.254",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "0.0.0.0",
            "192.0.2.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "2001:db8::1",
        ] {
            assert!(!public_peer(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[test]
    fn a_permission_to_a_private_peer_is_refused_unless_private_peers_are_allowed() {
        let mut strict = Gate::new(false, 4);
        let message = inspect(&permission("127.0.0.1"));
        assert!(matches!(
            strict.admit(&message, LOCAL, 0),
            Verdict::Refuse {
                refusal: Refusal::PrivatePeer,
                method: METHOD_CREATE_PERMISSION,
                ..
            }
        ));
        assert_eq!(
            strict.admit(&inspect(&permission("8.8.8.8")), LOCAL, 0),
            Verdict::Pass
        );
        assert_eq!(Gate::new(true, 4).admit(&message, LOCAL, 0), Verdict::Pass);
        assert!(!strict.peer_allowed("192.168.0.1".parse().expect("ip")));
    }

    #[test]
    fn a_credential_holds_at_most_its_allocations_and_gets_them_back_as_they_end() {
        let mut gate = Gate::new(true, 2);
        let allocate = inspect(&signed_allocate("2000000000:7"));
        assert!(
            matches!(allocate, Inbound::Allocate { ref username, .. } if username == "2000000000:7")
        );
        assert_eq!(gate.admit(&allocate, LOCAL, 1_000), Verdict::Pass);
        gate.allocated("2000000000:7");
        gate.allocated("2000000000:7");
        assert!(matches!(
            gate.admit(&allocate, LOCAL, 1_000),
            Verdict::Refuse {
                refusal: Refusal::AllocationQuota,
                ..
            }
        ));
        // Another credential is not held back by this one.
        assert_eq!(
            gate.admit(&inspect(&signed_allocate("2000000000:8")), LOCAL, 1_000),
            Verdict::Pass
        );
        gate.released("2000000000:7");
        assert_eq!(gate.admit(&allocate, LOCAL, 1_000), Verdict::Pass);
        gate.released("2000000000:7");
        gate.released("2000000000:7");
        assert_eq!(gate.total(), 0);
    }

    #[test]
    fn unsigned_requests_are_taken_at_a_bounded_rate_per_address_and_in_all() {
        let mut gate = Gate::new(true, 4);
        let unsigned = inspect(&request(METHOD_ALLOCATE, vec![]));
        assert_eq!(unsigned, Inbound::Unsigned);
        let taken = |gate: &mut Gate, from: IpAddr, now: u64| {
            (0..100)
                .filter(|_| gate.admit(&unsigned, from, now) == Verdict::Pass)
                .count()
        };
        assert_eq!(taken(&mut gate, LOCAL, 10), UNSIGNED_PER_ADDRESS as usize);
        assert_eq!(
            gate.admit(&unsigned, LOCAL, 10),
            Verdict::Drop(Refusal::Unsigned)
        );
        // Another address has its own allowance; the next second, everyone again.
        let allowance = UNSIGNED_PER_ADDRESS as usize;
        assert_eq!(
            taken(&mut gate, "10.0.0.2".parse().expect("ip"), 10),
            allowance
        );
        assert_eq!(taken(&mut gate, LOCAL, 11), allowance);
        // From many addresses, no more than the total a second.
        let all: usize = (0..50u8)
            .map(|n| taken(&mut gate, IpAddr::V4(Ipv4Addr::new(10, 1, 0, n)), 12))
            .sum();
        assert_eq!(all, UNSIGNED_PER_SECOND as usize);
        // Signed requests and bindings are not counted.
        assert_eq!(
            gate.admit(&inspect(&signed_allocate("2000000000:9")), LOCAL, 12),
            Verdict::Pass
        );
        assert_eq!(
            gate.admit(
                &inspect(&request(stun::message::METHOD_BINDING, vec![])),
                LOCAL,
                12
            ),
            Verdict::Pass
        );
    }

    #[test]
    fn user_names_carry_their_expiry() {
        assert_eq!(expiry("1700000000:42"), Some(1_700_000_000));
        assert_eq!(expiry("1700000000"), Some(1_700_000_000));
        assert_eq!(expiry("alice"), None);
        assert_eq!(expiry(""), None);
    }

    #[test]
    fn what_is_not_stun_is_garbage_and_unsigned_or_other_requests_pass() {
        assert_eq!(inspect(b"GET / HTTP/1.1\r\n\r\n"), Inbound::Garbage);
        assert_eq!(inspect(&[]), Inbound::Garbage);
        assert_eq!(inspect(&vec![0; MAX_MESSAGE_BYTES + 1]), Inbound::Garbage);
        assert_eq!(
            inspect(&request(METHOD_ALLOCATE, vec![])),
            Inbound::Unsigned
        );
        assert_eq!(
            inspect(&request(stun::message::METHOD_BINDING, vec![])),
            Inbound::Other
        );
        // Channel data (channel 0x4000, four bytes).
        assert_eq!(inspect(&[0x40, 0, 0, 4, 1, 2, 3, 4]), Inbound::Other);
    }

    #[test]
    fn truncated_and_corrupted_messages_never_panic() {
        let whole = signed_allocate("2000000000:7");
        for cut in 0..whole.len() {
            let _ = inspect(&whole[..cut]);
        }
        for i in 0..whole.len() {
            let mut bad = whole.clone();
            bad[i] ^= 0xff;
            let _ = inspect(&bad);
        }
    }
}
