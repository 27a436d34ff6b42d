//! `/metrics`: what the signaling server is doing, in the Prometheus text format.
//!
//! Every labelled counter is looked up once, at start, so the relay path only bumps an
//! atomic; nothing in here takes a lock while messages flow.

use super::relay::gate::Refusal;
use crate::protocol::signaling::{ErrorCode, SignalKind, MAX_ROOM_CAPACITY};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::time::Duration;

type Label = [(&'static str, &'static str); 1];

/// Why the server closed a signaling connection (or refused to open one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// A message over the size limit (code 1009).
    TooBig,
    /// Kept sending after being rate limited (code 1008).
    RateLimited,
    /// Stopped reading: its queue filled, or a write stalled.
    SlowReader,
    /// Sent nothing, not even a pong, for the heartbeat timeout.
    Silent,
    /// Upgrade refused: the page's origin is not allowed.
    Origin,
    /// Upgrade refused: too many connections from one address.
    PerIpLimit,
    /// Another socket resumed its seat (code 4001).
    SeatTaken,
    /// A TCP connection refused at once: `max_connections` were open.
    MaxConnections,
    /// A TCP connection closed without an answer: its request's head did not come
    /// within the header timeout.
    HeaderTimeout,
    /// The room's host removed its person from the call (code 4002).
    Removed,
}

impl CloseReason {
    const ALL: [CloseReason; 10] = [
        CloseReason::TooBig,
        CloseReason::RateLimited,
        CloseReason::SlowReader,
        CloseReason::Silent,
        CloseReason::Origin,
        CloseReason::PerIpLimit,
        CloseReason::SeatTaken,
        CloseReason::MaxConnections,
        CloseReason::HeaderTimeout,
        CloseReason::Removed,
    ];

    fn name(self) -> &'static str {
        match self {
            CloseReason::TooBig => "too_big",
            CloseReason::RateLimited => "rate_limited",
            CloseReason::SlowReader => "slow_reader",
            CloseReason::Silent => "silent",
            CloseReason::Origin => "origin",
            CloseReason::PerIpLimit => "per_ip_limit",
            CloseReason::SeatTaken => "seat_taken",
            CloseReason::MaxConnections => "max_connections",
            CloseReason::HeaderTimeout => "header_timeout",
            CloseReason::Removed => "removed",
        }
    }
}

pub struct Metrics {
    registry: Registry,
    pub connections: Gauge,
    rooms: Gauge,
    seats: Gauge,
    joins: Counter,
    room_people: Histogram,
    pub resumes: Counter,
    relayed: [Counter; 3],
    errors: [Counter; ErrorCode::ALL.len()],
    closes: [Counter; CloseReason::ALL.len()],
    pub rate_limited: Counter,
    relay_seconds: Histogram,
    pub redis: RedisMetrics,
    pub turn: TurnMetrics,
}

/// What the built-in TURN relay does (all zero when it does not run).
#[derive(Clone)]
pub struct TurnMetrics {
    pub allocations: Gauge,
    pub relayed_bytes: Counter,
    refusals: [Counter; Refusal::ALL.len()],
}

impl TurnMetrics {
    fn register(registry: &mut Registry) -> TurnMetrics {
        let allocations = Gauge::default();
        registry.register(
            "turn_allocations",
            "Allocations open on the built-in TURN relay",
            allocations.clone(),
        );
        let relayed_bytes = Counter::default();
        registry.register(
            "turn_relayed_bytes",
            "Bytes the built-in TURN relay passed between browsers and their peers, both ways",
            relayed_bytes.clone(),
        );
        let family = Family::<Label, Counter>::default();
        registry.register(
            "turn_refusals",
            "What the built-in TURN relay refused, by reason (bad_credential counts every \
             request refused as unauthenticated, expired ones among them)",
            family.clone(),
        );
        let refusals =
            Refusal::ALL.map(|refusal| family.get_or_create(&[("reason", refusal.name())]).clone());
        TurnMetrics {
            allocations,
            relayed_bytes,
            refusals,
        }
    }

    pub fn refused(&self, refusal: Refusal) {
        let index = Refusal::ALL.iter().position(|r| *r == refusal).unwrap_or(0);
        self.refusals[index].inc();
    }
}

/// What rooms shared through Redis do (all zero when rooms stay in this process).
#[derive(Clone)]
pub struct RedisMetrics {
    pub publishes: Counter,
    pub deliveries: Counter,
    pub errors: Counter,
    pub reconnects: Counter,
    /// Envelopes dropped: oversized or malformed from another server, or relays refused
    /// while the publish queue was full.
    pub dropped: Counter,
    /// Rooms read again from Redis because news of a change went missing.
    pub resyncs: Counter,
    /// News of a move older than what the view knew, ignored.
    pub stale: Counter,
    /// From a signal leaving the sending server to its arrival here.
    pub relay_seconds: Histogram,
}

impl RedisMetrics {
    fn register(registry: &mut Registry) -> RedisMetrics {
        let metrics = RedisMetrics {
            publishes: Counter::default(),
            deliveries: Counter::default(),
            errors: Counter::default(),
            reconnects: Counter::default(),
            dropped: Counter::default(),
            resyncs: Counter::default(),
            stale: Counter::default(),
            // 10 µs to ~5 s.
            relay_seconds: Histogram::new(exponential_buckets(1e-5, 2.0, 20)),
        };
        for (name, help, counter) in [
            (
                "redis_publishes",
                "Messages published to other servers",
                &metrics.publishes,
            ),
            (
                "redis_deliveries",
                "Messages received from other servers",
                &metrics.deliveries,
            ),
            (
                "redis_errors",
                "Redis calls that failed or timed out",
                &metrics.errors,
            ),
            (
                "redis_dropped",
                "Envelopes dropped: oversized or malformed ones from other servers, and relays refused while the publish queue was full",
                &metrics.dropped,
            ),
            (
                "redis_reconnects",
                "Connections to Redis found broken and made again",
                &metrics.reconnects,
            ),
            (
                "redis_resyncs",
                "Rooms read again from Redis because news of a change went missing",
                &metrics.resyncs,
            ),
            (
                "redis_stale_moves",
                "News of a seat's move older than what this server knew, ignored",
                &metrics.stale,
            ),
        ] {
            registry.register(name, help, counter.clone());
        }
        registry.register(
            "redis_relay_seconds",
            "Time from a server sending a signal through Redis to another receiving it \
             (across machines, their clocks' difference included)",
            metrics.relay_seconds.clone(),
        );
        metrics
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("tandem");
        let connections = Gauge::default();
        registry.register(
            "connections",
            "Open signaling connections",
            connections.clone(),
        );
        let rooms = Gauge::default();
        registry.register("rooms", "Rooms with anyone in them", rooms.clone());
        let seats = Gauge::default();
        registry.register(
            "seats",
            "Seats taken, including those held for a resume",
            seats.clone(),
        );
        let joins = Counter::default();
        registry.register("joins", "Seats taken by join", joins.clone());
        // One bucket per head count, up to the largest room allowed.
        let room_people = Histogram::new((1..=MAX_ROOM_CAPACITY).map(|n| n as f64));
        registry.register(
            "room_people",
            "People in the room, counted at each join (the newcomer included)",
            room_people.clone(),
        );
        let resumes = Counter::default();
        registry.register("resumes", "Seats taken back by resume", resumes.clone());

        let relayed_family = Family::<Label, Counter>::default();
        registry.register(
            "relayed_messages",
            "Signals relayed between peers, by kind",
            relayed_family.clone(),
        );
        let relayed = SignalKind::ALL.map(|kind| {
            relayed_family
                .get_or_create(&[("kind", kind.name())])
                .clone()
        });

        let error_family = Family::<Label, Counter>::default();
        registry.register(
            "errors",
            "Messages refused with an error, by code",
            error_family.clone(),
        );
        let errors =
            ErrorCode::ALL.map(|code| error_family.get_or_create(&[("code", code.name())]).clone());

        let close_family = Family::<Label, Counter>::default();
        registry.register(
            "closed_connections",
            "Connections the server closed or refused, by reason",
            close_family.clone(),
        );
        let closes = CloseReason::ALL.map(|reason| {
            close_family
                .get_or_create(&[("reason", reason.name())])
                .clone()
        });

        let rate_limited = Counter::default();
        registry.register(
            "rate_limit_hits",
            "Messages dropped by the per-connection rate limit",
            rate_limited.clone(),
        );
        // 1 µs to ~0.5 s.
        let relay_seconds = Histogram::new(exponential_buckets(1e-6, 2.0, 20));
        registry.register(
            "relay_seconds",
            "Time from reading a signal to queueing it for its addressee",
            relay_seconds.clone(),
        );
        let redis = RedisMetrics::register(&mut registry);
        let turn = TurnMetrics::register(&mut registry);
        Metrics {
            redis,
            turn,
            registry,
            connections,
            rooms,
            seats,
            joins,
            room_people,
            resumes,
            relayed,
            errors,
            closes,
            rate_limited,
            relay_seconds,
        }
    }

    /// Someone took a seat; the room now holds `people`.
    pub fn joined(&self, people: usize) {
        self.joins.inc();
        self.room_people.observe(people as f64);
    }

    pub fn relayed(&self, kind: SignalKind, took: Duration) {
        self.relayed[kind as usize].inc();
        self.relay_seconds.observe(took.as_secs_f64());
    }

    pub fn refused(&self, code: ErrorCode) {
        let index = ErrorCode::ALL.iter().position(|c| *c == code).unwrap_or(0);
        self.errors[index].inc();
    }

    pub fn closed(&self, reason: CloseReason) {
        let index = CloseReason::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(0);
        self.closes[index].inc();
    }

    /// The text exposition, with the room gauges read now.
    pub fn render(&self, rooms: usize, seats: usize) -> String {
        self.rooms.set(i64::try_from(rooms).unwrap_or(i64::MAX));
        self.seats.set(i64::try_from(seats).unwrap_or(i64::MAX));
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing into a String cannot fail");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_show_up_in_the_text_format() {
        let metrics = Metrics::new();
        metrics.connections.inc();
        metrics.relayed(SignalKind::Offer, Duration::from_micros(3));
        metrics.refused(ErrorCode::RateLimited);
        metrics.closed(CloseReason::TooBig);
        metrics.joined(1);
        metrics.joined(3);
        let text = metrics.render(4, 7);
        for line in [
            "tandem_connections 1",
            "tandem_rooms 4",
            "tandem_seats 7",
            "tandem_relayed_messages_total{kind=\"offer\"} 1",
            "tandem_relayed_messages_total{kind=\"answer\"} 0",
            "tandem_errors_total{code=\"rate_limited\"} 1",
            "tandem_closed_connections_total{reason=\"too_big\"} 1",
            "tandem_relay_seconds_count 1",
            "tandem_joins_total 2",
            "tandem_room_people_count 2",
            "tandem_room_people_bucket{le=\"2.0\"} 1",
            "tandem_room_people_bucket{le=\"3.0\"} 2",
            "tandem_redis_publishes_total 0",
            "tandem_redis_relay_seconds_count 0",
            "tandem_turn_allocations 0",
            "tandem_turn_refusals_total{reason=\"private_peer\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
    }
}
