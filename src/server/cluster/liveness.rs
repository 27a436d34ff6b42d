//! Whether this server counts as alive in Redis, and the sweep of those that do not.

use super::contract::{Heartbeat, Sweep};
use super::SharedRooms;
use std::sync::atomic::Ordering;
use std::sync::Weak;
use std::time::{Duration, Instant};

/// How long a server may be silent in Redis, and how long its seats then wait.
pub struct Timing {
    pub liveness: Duration,
    pub grace: Duration,
}

/// Beats every `liveness / 5` (at most every half second): says this server is alive,
/// tells the rooms whether Redis answers, and sweeps out servers that are gone. After an
/// outage (of Redis, or of this server's link to it) it waits a whole liveness period
/// before sweeping again, so that every other server has had the time to beat again.
pub(super) async fn keep_alive(rooms: Weak<SharedRooms>) {
    let (every, liveness) = match rooms.upgrade() {
        Some(rooms) => (
            (rooms.timing.liveness / 5).min(Duration::from_millis(500)),
            rooms.timing.liveness,
        ),
        None => return,
    };
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first beat was in `start`.
    tick.tick().await;
    // A fresh start is no outage: other servers have been beating all along.
    let mut beating_since = Instant::now().checked_sub(liveness);
    loop {
        tick.tick().await;
        let Some(rooms) = rooms.upgrade() else { return };
        match rooms.store.run(&Heartbeat { liveness }).await {
            Ok(fresh) => {
                if !rooms.reachable.swap(true, Ordering::Relaxed) {
                    rooms.metrics.reconnects.inc();
                    tracing::info!("Redis answers again");
                }
                if fresh {
                    rooms.forgotten();
                }
                let since = *beating_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= liveness {
                    let sweep = Sweep {
                        grace: rooms.timing.grace,
                    };
                    match rooms.store.run(&sweep).await {
                        Ok(0) => {}
                        Ok(freed) => {
                            tracing::info!(freed, "freed the seats of a server that is gone")
                        }
                        Err(e) => tracing::warn!("cannot sweep out servers that are gone: {e}"),
                    }
                }
            }
            Err(e) => {
                beating_since = None;
                if rooms.reachable.swap(false, Ordering::Relaxed) {
                    tracing::warn!("Redis does not answer; refusing joins meanwhile: {e}");
                }
            }
        }
    }
}
