//! The call statistics: read from every connection once a second, off the event loop,
//! for the stats panel, the active speaker and the upload estimate.

use super::*;
use crate::client::{error_name, stats_report};
use crate::mesh::budget::LinkSample;
use crate::stats::{compare, Sending};
use wasm_bindgen::JsValue;

impl Session {
    /// Asks every connected peer connection for its statistics, off the event loop:
    /// `getStats()` can take hundreds of milliseconds on a loaded machine, and a click
    /// on Mute must not wait for it.
    pub(super) fn read_stats(&mut self) {
        if self.stats_reading {
            return;
        }
        let mut connections = Vec::new();
        for (id, remote) in self.peers.iter_mut() {
            if remote.peer.is_connected() {
                connections.push((*id, remote.peer.connection().clone()));
            } else {
                remote.last_stats = None;
            }
        }
        self.stats_reading = true;
        let events = self.events.clone();
        spawn_local(async move {
            let reads = futures::future::join_all(connections.into_iter().map(
                |(peer, connection)| async move {
                    let sample = stats_report::sample(&connection).await;
                    StatsRead {
                        peer,
                        connection,
                        sample,
                    }
                },
            ))
            .await;
            let _ = events.unbounded_send(Event::StatsRead(reads));
        });
    }

    /// Turns a stats read into figures: the panel shows the picked person's (the first
    /// person's until one is picked), with what we send to everyone; the loudest incoming
    /// audio says who speaks. Each connection has a congestion controller of its own,
    /// which estimates the share of the uplink its path gets; the upload we have is the
    /// sum of those estimates, and that is what the state machine shares out.
    pub(super) async fn show_stats(&mut self, reads: Vec<StatsRead>) {
        self.stats_reading = false;
        let picked = self.view.stats_of.try_get_untracked().flatten();
        let shown = picked.filter(|id| self.peers.contains_key(id)).or_else(|| {
            self.machine
                .people()
                .map(|p| p.id)
                .find(|id| self.peers.contains_key(id))
        });
        if shown != self.stats_shown {
            self.stats_shown = shown;
            self.view.stats.set(None);
            self.view.stats_history.set(Default::default());
        }
        let mut estimate: Option<f64> = None;
        let mut links = Vec::new();
        let (mut upload_kbps, mut receivers, mut sent_frame) = (0.0, 0, None);
        let mut levels = Vec::new();
        for read in reads {
            let id = read.peer;
            let Some(remote) = self.peers.get_mut(&id) else {
                continue;
            };
            if JsValue::from(remote.peer.connection()) != JsValue::from(&read.connection) {
                continue;
            }
            let now = match read.sample {
                Ok(now) => now,
                Err(e) => {
                    leptos::logging::warn!("getStats failed: {}", error_name(&e));
                    continue;
                }
            };
            if let Some(bps) = now.available_outgoing_bps {
                estimate = Some(estimate.unwrap_or(0.0) + bps);
            }
            links.push(LinkSample {
                peer: id,
                bandwidth_limited: now.bandwidth_limited,
                loss: now.fraction_lost,
                rtt_ms: now.rtt_ms,
            });
            if let Some(level) = now.audio_level {
                levels.push((id, level));
            }
            sent_frame = sent_frame.or(now.sent_frame);
            if let Some(before) = remote.last_stats.replace(now.clone()) {
                let stats = compare(&before, &now);
                upload_kbps += stats.send_kbps;
                receivers += 1;
                if Some(id) == shown {
                    self.view.stats_history.update(|h| h.push(&stats));
                    self.view.stats.set(Some(stats));
                }
            }
        }
        let speaking = self.speaker.update(&levels, now());
        if self.view.speaking.try_get_untracked() != Some(speaking) {
            self.view.speaking.set(speaking);
        }
        let sending = (receivers > 0).then(|| Sending::new(sent_frame, upload_kbps, receivers));
        self.view.sending.set(sending);
        self.view
            .upload_kbps
            .set((receivers > 0).then_some(upload_kbps));
        self.input(Input::LinkSamples(links)).await;
        self.input(Input::UploadEstimate(estimate.map(|bps| bps as u64)))
            .await;
    }
}

/// One connection's statistics, read off the event loop.
pub(super) struct StatsRead {
    pub(super) peer: PeerId,
    /// The connection read: a sample of a connection since replaced is not compared with
    /// its successor's.
    pub(super) connection: web_sys::RtcPeerConnection,
    pub(super) sample: Result<StatsSample, JsValue>,
}

/// How often the stats panel's figures and the upload estimate are refreshed.
const STATS_MS: u32 = 1_000;

/// Asks for a stats read every [`STATS_MS`] until the session is gone.
pub(super) async fn tick(events: UnboundedSender<Event>) {
    loop {
        TimeoutFuture::new(STATS_MS).await;
        if events.unbounded_send(Event::StatsTick).is_err() {
            return;
        }
    }
}
