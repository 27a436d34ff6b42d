//! What keeps one client (or one web page) from harming the others: the origin check on
//! the socket upgrade, a cap on connections per address, and a per-connection message
//! rate limit.

use axum::http::{header, HeaderMap};
use governor::clock::{Clock, QuantaClock, QuantaInstant};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

/// Which web pages may open the signaling socket.
///
/// A browser always sends `Origin` on a WebSocket upgrade, and a page on another site
/// could otherwise use a visitor's browser to join rooms. The default is the server's own
/// origin: `Origin`'s host must be the `Host` the request was sent to (compared without
/// the scheme, so a TLS-terminating proxy in front changes nothing). Clients that are not
/// browsers send no `Origin` and are let through; they could forge one anyway.
pub struct OriginPolicy {
    allowed: Vec<String>,
}

impl OriginPolicy {
    pub fn new(allowed: &[String]) -> OriginPolicy {
        OriginPolicy {
            allowed: allowed.iter().map(|o| o.to_ascii_lowercase()).collect(),
        }
    }

    /// `Err` says why the upgrade is refused.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), String> {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return Ok(());
        };
        let origin = origin
            .to_str()
            .map_err(|_| "unreadable Origin header".to_owned())?
            .to_ascii_lowercase();
        if self.allowed.contains(&origin) {
            return Ok(());
        }
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let origin_host = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        match (origin_host, host) {
            (Some(origin_host), Some(host)) if origin_host.eq_ignore_ascii_case(host) => Ok(()),
            _ => Err(format!("origin {origin} may not open this socket")),
        }
    }
}

/// The address a connection comes from: its peer's, or, when the peer is one of the
/// `trusted` proxies, the address that proxy heard from: the last entry of
/// X-Forwarded-For that is not itself a trusted proxy. Each proxy appends the address it
/// heard from, so earlier entries are the client's to forge and are never read; an entry
/// that is not an address means the header cannot be trusted, and the peer's address
/// counts.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .collect();
    for entry in entries.into_iter().rev() {
        match entry.trim().parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => continue,
            Ok(ip) => return ip,
            Err(_) => return peer,
        }
    }
    peer
}

/// Counts open connections, and seats held for a resume, per IP address. IPv6 addresses
/// count by their first `ipv6_prefix` bits (a /64 by default: one household or phone gets
/// a whole /64, so counting exact addresses would not limit it at all).
pub struct PerIpLimit {
    max: u32,
    ipv6_prefix: u8,
    open: Arc<Mutex<HashMap<IpAddr, u32>>>,
}

/// One counted connection; dropping it frees the slot.
pub struct IpSlot {
    ip: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, u32>>>,
}

impl PerIpLimit {
    pub fn new(max: u32, ipv6_prefix: u8) -> PerIpLimit {
        PerIpLimit {
            max,
            ipv6_prefix: ipv6_prefix.min(128),
            open: Arc::default(),
        }
    }

    /// A slot for one more connection from `ip`, unless its group already has the maximum.
    pub fn claim(&self, ip: IpAddr) -> Option<IpSlot> {
        let ip = group(ip, self.ipv6_prefix);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(ip).or_default();
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(IpSlot {
            ip,
            open: self.open.clone(),
        })
    }
}

/// The address `ip` counts as: itself for IPv4 (an IPv4-mapped IPv6 address too), its
/// first `prefix` bits for IPv6.
fn group(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V6((u128::from(v6) & mask).into())
            }
        },
    }
}

impl IpSlot {
    /// The address counted (an IPv6 address as its group).
    pub fn address(&self) -> IpAddr {
        self.ip
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// The one clock of every connection's limiters: making a clock reads the CPU's features
/// (CPUID), which in a virtual machine traps to the hypervisor (one per limiter was over a
/// quarter of the CPU a join costs), and a clock is ~40 bytes, which every limiter would
/// otherwise keep a copy of for its connection's life.
static CLOCK: LazyLock<QuantaClock> = LazyLock::new(QuantaClock::default);

/// [`CLOCK`], as a limiter's clock of no size.
#[derive(Clone, Copy, Debug, Default)]
struct SharedClock;

impl Clock for SharedClock {
    type Instant = QuantaInstant;

    fn now(&self) -> QuantaInstant {
        CLOCK.now()
    }
}

type Bucket = RateLimiter<NotKeyed, InMemoryState, SharedClock, NoOpMiddleware<QuantaInstant>>;

/// The message rate every connection gets.
#[derive(Clone)]
pub struct RateRule {
    rate: u32,
    burst: u32,
}

impl RateRule {
    pub fn new(rate: u32, burst: u32) -> RateRule {
        RateRule { rate, burst }
    }

    /// A fresh limiter for one connection.
    pub fn limiter(&self) -> MessageRate {
        MessageRate::new(self.rate, self.burst)
    }
}

/// A token bucket per connection: `rate` messages a second, `burst` at once. A second
/// bucket counts refusals: a client that keeps sending after `burst` refusals (refilled
/// one a second) is abusing the server, not just bursty, and gets disconnected.
pub struct MessageRate {
    messages: Bucket,
    refusals: Bucket,
}

/// What to do with a message, as far as the rate goes.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Refuse,
    Disconnect,
}

impl MessageRate {
    fn new(rate: u32, burst: u32) -> MessageRate {
        let nonzero = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        let refill = Duration::from_secs(1);
        MessageRate {
            messages: RateLimiter::direct_with_clock(
                Quota::per_second(nonzero(rate)).allow_burst(nonzero(burst)),
                SharedClock,
            ),
            refusals: RateLimiter::direct_with_clock(
                Quota::with_period(refill)
                    .unwrap_or(Quota::per_second(NonZeroU32::MIN))
                    .allow_burst(nonzero(burst)),
                SharedClock,
            ),
        }
    }

    pub fn check(&self) -> Verdict {
        if self.messages.check().is_ok() {
            Verdict::Accept
        } else if self.refusals.check().is_ok() {
            Verdict::Refuse
        } else {
            Verdict::Disconnect
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn a_trusted_proxy_s_forwarded_address_counts_and_nothing_before_it() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let person: IpAddr = "203.0.113.7".parse().unwrap();
        let forwarded = |values: &[&str]| {
            let mut headers = HeaderMap::new();
            for value in values {
                headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
            }
            headers
        };
        // A forged first entry is never read: the proxy's own is the last one.
        let headers = forwarded(&["198.51.100.1, 203.0.113.7"]);
        assert_eq!(client_ip(proxy, &headers, &[proxy]), person);
        // Two proxies in a row, the header split over two lines.
        let inner: IpAddr = "10.0.0.3".parse().unwrap();
        let headers = forwarded(&["203.0.113.7", "10.0.0.3"]);
        assert_eq!(client_ip(proxy, &headers, &[proxy, inner]), person);
        // From anyone else, the header is ignored.
        assert_eq!(client_ip(person, &headers, &[proxy]), person);
        // Garbage or nothing: the proxy's own address counts.
        assert_eq!(
            client_ip(proxy, &forwarded(&["1.2.3.4, nonsense"]), &[proxy]),
            proxy
        );
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &[proxy]), proxy);
    }

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        }
        headers
    }

    #[test]
    fn same_origin_and_listed_origins_pass_others_do_not() {
        let policy = OriginPolicy::new(&["https://call.example.org".into()]);
        let host = "127.0.0.1:3000";
        assert!(policy.check(&headers(None, host)).is_ok());
        assert!(policy
            .check(&headers(Some("http://127.0.0.1:3000"), host))
            .is_ok());
        assert!(policy
            .check(&headers(Some("https://127.0.0.1:3000"), host))
            .is_ok());
        assert!(policy
            .check(&headers(Some("https://CALL.example.org"), host))
            .is_ok());
        for bad in [
            "https://evil.example",
            "http://127.0.0.1:3001",
            "null",
            "http://127.0.0.1:3000.evil.example",
        ] {
            assert!(policy.check(&headers(Some(bad), host)).is_err(), "{bad}");
        }
    }

    #[test]
    fn per_ip_slots_are_counted_and_given_back() {
        let limit = PerIpLimit::new(2, 64);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        let a = limit.claim(ip).unwrap();
        let _b = limit.claim(ip).unwrap();
        assert!(limit.claim(ip).is_none());
        assert!(limit.claim(other).is_some());
        drop(a);
        assert!(limit.claim(ip).is_some());
    }

    #[test]
    fn ipv6_addresses_count_by_their_prefix_and_mapped_ipv4_as_ipv4() {
        let limit = PerIpLimit::new(2, 64);
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        let _a = limit.claim(ip("2001:db8:1:2::1")).unwrap();
        let _b = limit.claim(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")).unwrap();
        assert!(
            limit.claim(ip("2001:db8:1:2::3")).is_none(),
            "one /64, one allowance"
        );
        assert!(
            limit.claim(ip("2001:db8:1:3::1")).is_some(),
            "the next /64 is another"
        );
        let _c = limit.claim(ip("192.0.2.7")).unwrap();
        let _d = limit.claim(ip("::ffff:192.0.2.7")).unwrap();
        assert!(
            limit.claim(ip("192.0.2.7")).is_none(),
            "mapped IPv4 is that IPv4"
        );
        let exact = PerIpLimit::new(1, 128);
        let _e = exact.claim(ip("2001:db8::1")).unwrap();
        assert!(exact.claim(ip("2001:db8::2")).is_some());
    }

    #[test]
    fn a_flood_is_refused_then_disconnected() {
        let rate = RateRule::new(1, 5).limiter();
        let verdicts: Vec<_> = (0..20).map(|_| rate.check()).collect();
        assert!(verdicts[..5].iter().all(|v| *v == Verdict::Accept));
        assert!(verdicts[5..10].iter().all(|v| *v == Verdict::Refuse));
        assert_eq!(verdicts[10], Verdict::Disconnect);
    }
}
