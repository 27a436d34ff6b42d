//! Call statistics: what `getStats()` counters mean to a person. Pure arithmetic, shared
//! by the browser (which samples) and native unit tests.

use std::collections::VecDeque;

/// Seconds of history the sparklines show (one sample a second).
pub const HISTORY_LEN: usize = 60;

/// Cumulative counters and current gauges at one moment, read from `getStats()`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatsSample {
    pub at_ms: f64,
    pub bytes_sent: f64,
    pub bytes_received: f64,
    pub packets_received: f64,
    pub packets_lost: f64,
    pub rtt_ms: Option<f64>,
    /// Of the incoming video.
    pub frame: Option<(u32, u32)>,
    pub fps: Option<f64>,
    pub path: Option<CandidatePath>,
    /// The browser's estimate of the upload this path can carry, in bits per second
    /// (`availableOutgoingBitrate` of the selected candidate pair).
    pub available_outgoing_bps: Option<f64>,
    /// How loud the incoming audio is now, 0 to 1 (`audioLevel`).
    pub audio_level: Option<f64>,
    /// Of the outgoing video, after any scaling down.
    pub sent_frame: Option<(u32, u32)>,
    /// The outgoing video is held back by bandwidth (`qualityLimitationReason`).
    pub bandwidth_limited: bool,
    /// Of our video packets, the share the far end lost lately (`fractionLost` it reports).
    pub fraction_lost: Option<f64>,
}

/// The network path in use: the local side of the selected ICE candidate pair.
#[derive(Clone, Debug, PartialEq)]
pub struct CandidatePath {
    /// `host`, `srflx`, `prflx` or `relay`.
    pub candidate_type: String,
    /// `udp` or `tcp`.
    pub protocol: String,
    /// How we reach the TURN server, for relay candidates.
    pub relay_protocol: Option<String>,
}

/// What kind of path a [`CandidatePath`] is (the words are the catalogues').
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathKind {
    /// Straight to the other side's address (`host`).
    Direct,
    /// Through a NAT, found with STUN (`srflx`, `prflx`).
    ThroughNat,
    /// Relayed by TURN, reached over this protocol (upper case), when the browser says.
    Relayed(Option<String>),
    /// A type this code does not know, as the browser named it.
    Other(String),
}

impl CandidatePath {
    pub fn kind(&self) -> PathKind {
        match self.candidate_type.as_str() {
            "host" => PathKind::Direct,
            "srflx" | "prflx" => PathKind::ThroughNat,
            "relay" => PathKind::Relayed(self.relay_protocol.as_ref().map(|p| p.to_uppercase())),
            other => PathKind::Other(other.to_owned()),
        }
    }

    /// `UDP` or `TCP`.
    pub fn transport(&self) -> String {
        self.protocol.to_uppercase()
    }
}

/// What the stats panel shows for one second.
#[derive(Clone, Debug, PartialEq)]
pub struct CallStats {
    pub send_kbps: f64,
    pub receive_kbps: f64,
    pub rtt_ms: Option<f64>,
    /// Of packets that should have arrived in the last interval.
    pub loss_percent: f64,
    pub frame: Option<(u32, u32)>,
    pub fps: Option<f64>,
    pub path: Option<CandidatePath>,
}

/// The change from `before` to `now`. Counters that went backwards (a new connection)
/// count as zero rather than as a negative rate.
pub fn compare(before: &StatsSample, now: &StatsSample) -> CallStats {
    let elapsed_ms = now.at_ms - before.at_ms;
    let kbps = |then: f64, now: f64| {
        if elapsed_ms > 0.0 && now >= then {
            (now - then) * 8.0 / elapsed_ms
        } else {
            0.0
        }
    };
    let received = (now.packets_received - before.packets_received).max(0.0);
    let lost = (now.packets_lost - before.packets_lost).max(0.0);
    let expected = received + lost;
    CallStats {
        send_kbps: kbps(before.bytes_sent, now.bytes_sent),
        receive_kbps: kbps(before.bytes_received, now.bytes_received),
        rtt_ms: now.rtt_ms,
        loss_percent: if expected > 0.0 {
            lost / expected * 100.0
        } else {
            0.0
        },
        frame: now.frame,
        fps: now.fps,
        path: now.path.clone(),
    }
}

/// The last [`HISTORY_LEN`] seconds of receive bitrate and round-trip time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    pub receive_kbps: VecDeque<f64>,
    pub rtt_ms: VecDeque<f64>,
}

impl History {
    pub fn push(&mut self, stats: &CallStats) {
        push_capped(&mut self.receive_kbps, stats.receive_kbps);
        if let Some(rtt) = stats.rtt_ms {
            push_capped(&mut self.rtt_ms, rtt);
        }
    }
}

fn push_capped(values: &mut VecDeque<f64>, value: f64) {
    if values.len() == HISTORY_LEN {
        values.pop_front();
    }
    values.push_back(value);
}

/// SVG polyline points for `values` in a `width`×`height` box: the newest sample at the
/// right edge, one step per sample, scaled so the largest value touches the top.
pub fn sparkline(values: &VecDeque<f64>, width: f64, height: f64) -> String {
    let max = values.iter().copied().fold(0.0_f64, f64::max);
    let scale = if max > 0.0 { height / max } else { 0.0 };
    let step = width / (HISTORY_LEN - 1) as f64;
    let offset = width - step * values.len().saturating_sub(1) as f64;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{:.1},{:.1}", offset + step * i as f64, height - v * scale))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What we send ("640×360 at 600 kbit/s to each of 3 people"): the upload in use, shared
/// equally among the people we send to.
#[derive(Clone, Debug, PartialEq)]
pub struct Sending {
    pub frame: Option<(u32, u32)>,
    pub each_kbps: f64,
    pub receivers: usize,
}

impl Sending {
    pub fn new(frame: Option<(u32, u32)>, upload_kbps: f64, receivers: usize) -> Sending {
        Sending {
            frame,
            each_kbps: upload_kbps / receivers.max(1) as f64,
            receivers,
        }
    }
}

/// "1.23 Mbit/s" or "850 kbit/s".
pub fn format_bitrate(kbps: f64) -> String {
    if kbps >= 1000.0 {
        format!("{:.2} Mbit/s", kbps / 1000.0)
    } else {
        format!("{kbps:.0} kbit/s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_ms: f64, sent: f64, received: f64, got: f64, lost: f64) -> StatsSample {
        StatsSample {
            at_ms,
            bytes_sent: sent,
            bytes_received: received,
            packets_received: got,
            packets_lost: lost,
            ..StatsSample::default()
        }
    }

    #[test]
    fn the_upload_is_shared_equally_among_receivers() {
        assert_eq!(Sending::new(Some((640, 360)), 1_800.0, 3).each_kbps, 600.0);
        assert_eq!(Sending::new(None, 900.0, 0).each_kbps, 900.0);
    }

    #[test]
    fn rates_come_from_counter_deltas() {
        let stats = compare(
            &sample(1_000.0, 10_000.0, 50_000.0, 100.0, 0.0),
            &sample(2_000.0, 135_000.0, 300_000.0, 190.0, 10.0),
        );
        assert_eq!(stats.send_kbps, 1_000.0);
        assert_eq!(stats.receive_kbps, 2_000.0);
        assert_eq!(stats.loss_percent, 10.0);
    }

    #[test]
    fn resets_and_empty_intervals_give_zero_not_nonsense() {
        let stats = compare(
            &sample(1_000.0, 9_000.0, 9_000.0, 50.0, 5.0),
            &sample(1_000.0, 1.0, 1.0, 1.0, 0.0),
        );
        assert_eq!(
            (stats.send_kbps, stats.receive_kbps, stats.loss_percent),
            (0.0, 0.0, 0.0)
        );
    }

    #[test]
    fn paths_are_described_for_people() {
        let path = |t: &str, p: &str, r: Option<&str>| CandidatePath {
            candidate_type: t.into(),
            protocol: p.into(),
            relay_protocol: r.map(Into::into),
        };
        assert_eq!(path("host", "udp", None).kind(), PathKind::Direct);
        assert_eq!(path("prflx", "udp", None).kind(), PathKind::ThroughNat);
        assert_eq!(
            path("relay", "udp", Some("tcp")).kind(),
            PathKind::Relayed(Some("TCP".into()))
        );
        assert_eq!(path("relay", "tcp", None).transport(), "TCP");
    }

    #[test]
    fn history_keeps_the_last_minute() {
        let mut history = History::default();
        for i in 0..100 {
            history.push(&CallStats {
                send_kbps: 0.0,
                receive_kbps: i as f64,
                rtt_ms: (i % 2 == 0).then_some(i as f64),
                loss_percent: 0.0,
                frame: None,
                fps: None,
                path: None,
            });
        }
        assert_eq!(history.receive_kbps.len(), HISTORY_LEN);
        assert_eq!(history.receive_kbps.front(), Some(&40.0));
        assert_eq!(history.rtt_ms.len(), 50);
    }

    #[test]
    fn sparklines_scale_to_the_box_and_end_at_the_right() {
        let values: VecDeque<f64> = [0.0, 50.0, 100.0].into();
        let points = sparkline(&values, 118.0, 20.0);
        assert_eq!(points, "114.0,20.0 116.0,10.0 118.0,0.0");
        assert_eq!(sparkline(&VecDeque::new(), 118.0, 20.0), "");
        assert_eq!(
            sparkline(&[0.0, 0.0].into(), 118.0, 20.0),
            "116.0,20.0 118.0,20.0"
        );
    }

    #[test]
    fn bitrates_read_naturally() {
        assert_eq!(format_bitrate(850.4), "850 kbit/s");
        assert_eq!(format_bitrate(1_234.0), "1.23 Mbit/s");
    }
}
