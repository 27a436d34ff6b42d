//! What servers tell each other, and how: every server subscribes to its own channel
//! only, and one publisher task per server sends what it queues, in order, so that one
//! server's messages to another arrive in the order they were made.

use super::SharedRooms;
use crate::protocol::signaling::{validate_name, KnockId, PeerId, PeerInfo, ServerMessage};
use crate::server::metrics::RedisMetrics;
use redis::aio::ConnectionManager;
use redis::{PushInfo, PushKind, Value};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::mpsc;

/// Messages sent to Redis in one pipeline at most.
const PUBLISH_BATCH: usize = 256;
/// Bytes of envelopes waiting to be published; past it (Redis is slow or away), relays to
/// people on other servers are refused with `unavailable` rather than queued without bound.
pub const PUBLISH_QUEUE_BYTES: usize = 16 << 20;
/// How often the subscription's connection is checked.
const SUBSCRIPTION_CHECK: Duration = Duration::from_secs(2);
/// How often the rooms are checked for news gone missing.
const GAP_CHECK: Duration = Duration::from_millis(500);
/// Gap checks per subscription check.
const CHECKS_PER_PING: u32 = (SUBSCRIPTION_CHECK.as_millis() / GAP_CHECK.as_millis()) as u32;
/// An envelope's fields around the text it carries.
pub(super) const ENVELOPE_OVERHEAD: usize = 1024;

/// What one server tells another, on the addressee's channel. The news of who is where
/// (`joined`, `left`, `moved`) is published by the script that made the change, with the
/// change's number in the room; `deliver` by the sending server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(super) enum Envelope {
    /// `peer` took seat number `seq` in `room`, on `server`.
    Joined {
        room: String,
        peer: PeerInfo,
        seq: u64,
        server: String,
    },
    /// `peer` left `room`, or the host (`removed_by`) removed them; the change took
    /// number `seq`.
    Left {
        room: String,
        peer: PeerId,
        seq: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        removed_by: Option<PeerId>,
    },
    /// The host of `room` handed the role to `peer`, as change `seq`.
    Host {
        room: String,
        peer: PeerId,
        seq: u64,
    },
    /// `peer`'s seat in `room` moved to `server` (they resumed there), as change `seq`:
    /// messages for them go there now, and whatever waited for them here follows. `gen`
    /// is the seat's token generation there: a connection still here is handed a token of
    /// it (`seat_taken`), to take the seat back with.
    Moved {
        room: String,
        peer: PeerId,
        server: String,
        seq: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gen: Option<u64>,
    },
    /// The host locked (or unlocked) `room`, as change `seq`.
    Locked {
        room: String,
        locked: bool,
        seq: u64,
    },
    /// Someone waits at `room`'s door as `knock` (to the host's server, from the join
    /// script that listed them).
    Knock {
        room: String,
        knock: KnockId,
        name: String,
    },
    /// `knock` waits at `room`'s door no more (to the host's server): given up, closed,
    /// or expired.
    KnockEnded { room: String, knock: KnockId },
    /// What became of `knock` at `room`'s door (to the knock's server).
    Answered {
        room: String,
        knock: KnockId,
        verdict: Verdict,
        /// The host who answered, by name (not when everyone left).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
    },
    /// An encoded server message for the person `to` in `room`: a signal relayed from
    /// `from`, or (without `from`) the server's own news.
    Deliver {
        room: String,
        to: PeerId,
        #[serde(default)]
        from: Option<PeerId>,
        text: String,
        /// Passed on by a server the person had left: never passed on again.
        #[serde(default)]
        forwarded: bool,
        /// When the sending server sent it (µs since the Unix epoch; 0 for what waited).
        #[serde(default)]
        sent_us: u64,
    },
}

/// What became of a knock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Verdict {
    /// The host let them in: their server seats them, past the lock.
    Admit,
    /// The host turned them away.
    Deny,
    /// Everyone left before anyone let them in.
    Empty,
}

/// The queue to the publisher, bounded in bytes for relays.
pub(super) struct Outgoing {
    sender: mpsc::UnboundedSender<(String, String)>,
    queued_bytes: Arc<AtomicUsize>,
    metrics: RedisMetrics,
}

impl Outgoing {
    /// Starts the publisher on `redis`.
    pub(super) fn start(redis: ConnectionManager, prefix: &str, metrics: RedisMetrics) -> Self {
        let (sender, queued) = mpsc::unbounded_channel();
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        tokio::spawn(publish(
            redis,
            prefix.to_owned(),
            queued,
            queued_bytes.clone(),
            metrics.clone(),
        ));
        Outgoing {
            sender,
            queued_bytes,
            metrics,
        }
    }

    /// Queues `envelope` for `server`; false when it is a relay and the queue already
    /// holds [`PUBLISH_QUEUE_BYTES`] (Redis is slow): the sender is told `unavailable`.
    /// News of who is where is always queued.
    pub(super) fn send(&self, server: String, envelope: &Envelope) -> bool {
        let payload = serde_json::to_string(envelope).expect("envelopes always serialize");
        let queued = self.queued_bytes.load(Ordering::Relaxed);
        if matches!(envelope, Envelope::Deliver { .. })
            && queued + payload.len() > PUBLISH_QUEUE_BYTES
        {
            self.metrics.dropped.inc();
            return false;
        }
        self.queued_bytes
            .fetch_add(payload.len(), Ordering::Relaxed);
        // The publisher lives as long as the rooms.
        let _ = self.sender.send((server, payload));
        true
    }
}

/// Sends what the rooms queued, in order, as pipelines of PUBLISH.
async fn publish(
    mut redis: ConnectionManager,
    prefix: String,
    mut queued: mpsc::UnboundedReceiver<(String, String)>,
    queued_bytes: Arc<AtomicUsize>,
    metrics: RedisMetrics,
) {
    let mut batch = Vec::with_capacity(PUBLISH_BATCH);
    while queued.recv_many(&mut batch, PUBLISH_BATCH).await > 0 {
        let count = batch.len() as u64;
        let bytes: usize = batch.iter().map(|(_, payload)| payload.len()).sum();
        let mut pipe = redis::pipe();
        for (server, payload) in batch.drain(..) {
            pipe.cmd("PUBLISH")
                .arg(super::store::channel(&prefix, &server))
                .arg(payload)
                .ignore();
        }
        let published = pipe.exec_async(&mut redis).await;
        queued_bytes.fetch_sub(bytes, Ordering::Relaxed);
        match published {
            Ok(()) => {
                metrics.publishes.inc_by(count);
            }
            Err(e) => {
                metrics.errors.inc();
                tracing::warn!("cannot publish to other servers: {e}");
            }
        }
    }
}

#[doc(hidden)]
/// For the fuzzer: `payload` as it would come from Redis, with a bound of `max_bytes`.
/// Whatever is accepted must be a genuine envelope: re-encoded, it decodes to itself and
/// is accepted again. Panics otherwise.
pub fn check_envelope(payload: &[u8], max_bytes: usize) {
    if let Ok(envelope) = decode_envelope(payload, max_bytes) {
        let again = serde_json::to_vec(&envelope).expect("envelopes always serialize");
        let back = decode_envelope(&again, usize::MAX).expect("an accepted envelope decodes again");
        assert_eq!(back, envelope);
    }
}

/// What comes from another server, decoded with a size bound, and what it carries for a
/// person here checked to be a server message (Redis may be shared, or written to).
pub(super) fn decode_envelope(payload: &[u8], max_bytes: usize) -> Result<Envelope, String> {
    if payload.len() > max_bytes {
        return Err(format!("{} bytes, over {max_bytes}", payload.len()));
    }
    let envelope: Envelope = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
    match &envelope {
        Envelope::Deliver { text, .. } => {
            serde_json::from_str::<ServerMessage>(text)
                .map_err(|e| format!("what it carries is not a server message: {e}"))?;
        }
        // Shown to the host as it is: a name as a person could have given it.
        Envelope::Knock { name, .. } | Envelope::Answered { by: Some(name), .. } => {
            validate_name(name).map_err(|e| format!("a name: {e}"))?;
        }
        _ => {}
    }
    Ok(envelope)
}

/// Hands what comes on this server's channel to the rooms, for as long as they live.
/// Every [`GAP_CHECK`] it has the rooms whose news has a gap read again; every
/// [`SUBSCRIPTION_CHECK`] it checks the subscription's connection, so that it reconnects
/// (and subscribes again) after an outage even when no message comes. Once a lost
/// subscription answers again, every room is read again: what was published meanwhile
/// never comes.
pub(super) async fn listen(
    rooms: Weak<SharedRooms>,
    mut pushed: mpsc::UnboundedReceiver<PushInfo>,
    mut subscription: ConnectionManager,
) {
    let mut check = tokio::time::interval(GAP_CHECK);
    let mut ticks: u32 = 0;
    let mut lost = false;
    loop {
        tokio::select! {
            push = pushed.recv() => {
                let Some(push) = push else { return };
                let Some(rooms) = rooms.upgrade() else { return };
                match push.kind {
                    PushKind::Message => {
                        if let Some(Value::BulkString(payload)) = push.data.get(1) {
                            rooms.on_envelope(payload);
                        }
                    }
                    // The manager reconnects and subscribes again by itself.
                    PushKind::Disconnection => {
                        lost = true;
                        rooms.metrics.reconnects.inc();
                        tracing::info!("subscription to Redis lost; reconnecting");
                    }
                    _ => {}
                }
            }
            _ = check.tick() => {
                let Some(rooms) = rooms.upgrade() else { return };
                ticks = ticks.wrapping_add(1);
                if lost || ticks.is_multiple_of(CHECKS_PER_PING) {
                    // A failed ping starts the reconnect, which subscribes again.
                    let answered = redis::cmd("PING").exec_async(&mut subscription).await.is_ok();
                    if answered && lost {
                        lost = false;
                        tracing::info!("subscribed again; reading every room again");
                        rooms.doubt_every_room();
                    }
                }
                rooms.resync_rooms();
            }
        }
    }
}

/// The publish queue on a real Redis that holds every write.
#[cfg(test)]
mod queue {
    use super::super::store::test_redis::RedisServer;
    use super::*;
    use crate::server::metrics::Metrics;

    fn relay(bytes: usize) -> Envelope {
        Envelope::Deliver {
            room: "r".into(),
            to: PeerId(1),
            from: Some(PeerId(2)),
            text: "x".repeat(bytes),
            forwarded: false,
            sent_us: 0,
        }
    }

    #[tokio::test]
    async fn while_redis_holds_writes_relays_past_the_bound_are_refused_and_news_still_queued() {
        let redis = RedisServer::start();
        let client = redis::Client::open(redis.url()).expect("a valid URL");
        let manager = ConnectionManager::new(client).await.expect("Redis answers");
        let metrics = Metrics::default().redis;
        let outgoing = Outgoing::start(manager, "t", metrics.clone());
        let _: () = redis::cmd("CLIENT")
            .arg("PAUSE")
            .arg(2_000)
            .arg("WRITE")
            .query_async(&mut redis.connect().await)
            .await
            .expect("Redis pauses");
        let mut accepted = 0;
        while outgoing.send("other".into(), &relay(1 << 20)) {
            accepted += 1;
            assert!(accepted <= 16, "never refused");
        }
        // Sixteen MiB of envelopes, each a little over one MiB: fifteen fit.
        assert_eq!(accepted, 15);
        assert_eq!(metrics.dropped.get(), 1);
        assert!(outgoing.queued_bytes.load(Ordering::Relaxed) <= PUBLISH_QUEUE_BYTES);
        // News of who is where is never refused.
        let left = Envelope::Left {
            room: "r".into(),
            peer: PeerId(1),
            seq: 1,
            removed_by: None,
        };
        assert!(outgoing.send("other".into(), &left));
        // The queue drains: published once Redis writes again, or given back when a
        // pipeline times out during the pause (counted as an error).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while outgoing.queued_bytes.load(Ordering::Relaxed) > 0 {
            assert!(std::time::Instant::now() < deadline, "never drained");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Relays are taken again, and once the pause is over they are published.
        while metrics.publishes.get() == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "never published again"
            );
            assert!(outgoing.send("other".into(), &relay(1 << 10)));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
