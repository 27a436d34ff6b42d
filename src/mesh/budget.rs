//! How one person's upload is shared among the people they send video to.
//!
//! In a full mesh every sender encodes once per receiver, so upload, not download, is
//! what runs out first. Each video sender gets an equal share of the budget, and a
//! resolution that share can carry; audio is never reduced.
//!
//! The budget is the server's `upload_budget` until there is evidence that the link is the
//! limit: a sender the browser says is held back by bandwidth (`qualityLimitationReason`),
//! loss the far end reports, or a round trip grown well past its lowest. Only then does
//! the browser's own estimate (`availableOutgoingBitrate`) lower it; without evidence the
//! estimate may raise it, never lower it. A quiet picture needs few bits, and browsers
//! estimate low while they send few: shrinking it for that would keep it small for no
//! reason. Once the evidence has been gone for [`EVIDENCE_HOLD_MS`], the floor is back.

use super::clock::Millis;
use crate::protocol::signaling::PeerId;

/// The most often the limits follow a moving estimate, in milliseconds.
pub const REAPPLY_EVERY_MS: u64 = 5_000;
/// How far the estimate must move from the one last applied before the limits follow.
pub const REAPPLY_CHANGE: f64 = 0.25;
/// At or above this share a sender sends full size (the browser's encoder still lowers
/// its resolution itself when a picture needs more than its share)…
pub const FULL_SIZE_BPS: u64 = 500_000;
/// …at or above this, half size; below it, a quarter.
pub const HALF_SIZE_BPS: u64 = 150_000;
/// Loss the far end reports (`fractionLost`) that counts as evidence.
pub const LOSS_EVIDENCE: f64 = 0.05;
/// A round trip past this many times its lowest, and by at least [`RTT_GROWTH_MIN_MS`],
/// is a queue filling up: evidence too.
pub const RTT_GROWTH: f64 = 2.0;
pub const RTT_GROWTH_MIN_MS: f64 = 50.0;
/// How long evidence holds after it was last seen.
pub const EVIDENCE_HOLD_MS: u64 = 10_000;

/// What the browser says of one connection's link, each stats tick.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkSample {
    pub peer: PeerId,
    /// The video sender is held back by bandwidth (`qualityLimitationReason`).
    pub bandwidth_limited: bool,
    /// Of our packets, the share the far end lost lately (`fractionLost`).
    pub loss: Option<f64>,
    pub rtt_ms: Option<f64>,
}

/// What each video sender may use: `RTCRtpEncodingParameters.maxBitrate` and
/// `scaleResolutionDownBy`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SenderLimits {
    pub max_bitrate: u64,
    pub scale_down_by: f64,
    /// How many people the budget is shared among.
    pub receivers: usize,
}

/// An equal share of `budget` bits per second for each of `receivers` people (at least 1).
pub fn share(budget: u64, receivers: usize) -> SenderLimits {
    let receivers = receivers.max(1);
    let max_bitrate = budget / receivers as u64;
    let scale_down_by = if max_bitrate >= FULL_SIZE_BPS {
        1.0
    } else if max_bitrate >= HALF_SIZE_BPS {
        2.0
    } else {
        4.0
    };
    SenderLimits {
        max_bitrate,
        scale_down_by,
        receivers,
    }
}

/// Decides when the sender limits change: at once when people come and go, and when the
/// browser's estimate of its upload moves by more than a quarter, at most every 5 s (an
/// estimate wobbles; re-encoding at every wobble would make the picture pump).
#[derive(Clone, Debug)]
pub struct UploadPlan {
    /// The server's default: the floor, while nothing says the link is the limit.
    default_budget: u64,
    estimate: Option<u64>,
    applied: Option<Applied>,
    /// When the link was last seen to be the limit.
    limited_at: Option<Millis>,
    /// Whether that was within [`EVIDENCE_HOLD_MS`] at the last sample.
    limited: bool,
    /// Each connection's lowest round trip so far.
    lowest_rtt: Vec<(PeerId, f64)>,
}

#[derive(Clone, Copy, Debug)]
struct Applied {
    budget: u64,
    receivers: usize,
    at: Millis,
}

impl UploadPlan {
    pub fn new(default_budget: u64) -> UploadPlan {
        UploadPlan {
            default_budget,
            estimate: None,
            applied: None,
            limited_at: None,
            limited: false,
            lowest_rtt: Vec::new(),
        }
    }

    /// The budget in force: the browser's estimate when the link is the limit; else the
    /// server's default, or the estimate if it is higher.
    pub fn budget(&self) -> u64 {
        match self.estimate {
            Some(estimate) if self.limited => estimate,
            Some(estimate) => estimate.max(self.default_budget),
            None => self.default_budget,
        }
    }

    pub fn default_budget(&self) -> u64 {
        self.default_budget
    }

    /// Whether the link is taken to be the limit now.
    pub fn link_limited(&self) -> bool {
        self.limited
    }

    /// This tick's samples, one per connection: evidence, if any, is noted.
    pub fn observe(&mut self, samples: &[LinkSample], now: Millis) {
        self.lowest_rtt
            .retain(|(peer, _)| samples.iter().any(|s| s.peer == *peer));
        for sample in samples {
            let grown = sample.rtt_ms.is_some_and(|rtt| {
                let lowest = match self.lowest_rtt.iter_mut().find(|(p, _)| *p == sample.peer) {
                    Some((_, lowest)) => {
                        *lowest = lowest.min(rtt);
                        *lowest
                    }
                    None => {
                        self.lowest_rtt.push((sample.peer, rtt));
                        rtt
                    }
                };
                rtt > lowest * RTT_GROWTH && rtt - lowest >= RTT_GROWTH_MIN_MS
            });
            let lossy = sample.loss.is_some_and(|loss| loss >= LOSS_EVIDENCE);
            if sample.bandwidth_limited || lossy || grown {
                self.limited_at = Some(now);
            }
        }
        self.limited = self
            .limited_at
            .is_some_and(|at| now.since(at) < EVIDENCE_HOLD_MS);
    }

    pub fn set_default(&mut self, budget: u64) {
        self.default_budget = budget;
    }

    /// The browser's latest estimate (`availableOutgoingBitrate`), if it has one.
    pub fn set_estimate(&mut self, estimate: Option<u64>) {
        self.estimate = estimate.filter(|&bps| bps > 0);
    }

    /// The limits to apply now for `receivers` people, or `None` to leave them as they are.
    pub fn decide(&mut self, receivers: usize, now: Millis) -> Option<SenderLimits> {
        if receivers == 0 {
            self.applied = None;
            return None;
        }
        let budget = self.budget();
        let due = match self.applied {
            None => true,
            Some(applied) if applied.receivers != receivers => true,
            Some(applied) => {
                let moved = (budget as f64 - applied.budget as f64).abs() / applied.budget as f64;
                moved > REAPPLY_CHANGE && now.since(applied.at) >= REAPPLY_EVERY_MS
            }
        };
        if !due {
            return None;
        }
        self.applied = Some(Applied {
            budget,
            receivers,
            at: now,
        });
        Some(share(budget, receivers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_shared_equally_and_sets_the_size() {
        assert_eq!(share(2_500_000, 1).max_bitrate, 2_500_000);
        assert_eq!(share(2_500_000, 1).scale_down_by, 1.0);
        let three = share(2_500_000, 3);
        assert_eq!(three.max_bitrate, 833_333);
        assert_eq!(
            three.scale_down_by, 1.0,
            "833 kbps is full size: a four-person call on the default budget"
        );
        assert!(three.max_bitrate * 3 <= 2_500_000);
        assert_eq!(
            share(2_500_000, 5).scale_down_by,
            1.0,
            "exactly 500 kbps is full size: a six-person call on the default budget"
        );
        assert_eq!(
            share(750_000, 5).scale_down_by,
            2.0,
            "exactly 150 kbps is half size"
        );
        assert_eq!(
            share(500_000, 5).scale_down_by,
            4.0,
            "100 kbps is a quarter"
        );
        assert_eq!(share(1_000_000, 0).receivers, 1, "never divides by zero");
    }

    #[test]
    fn limits_follow_people_at_once() {
        let mut plan = UploadPlan::new(2_500_000);
        assert_eq!(plan.decide(0, Millis(0)), None);
        assert_eq!(
            plan.decide(1, Millis(0)).map(|l| l.max_bitrate),
            Some(2_500_000)
        );
        assert_eq!(plan.decide(1, Millis(100)), None, "nothing changed");
        assert_eq!(
            plan.decide(2, Millis(200)).map(|l| l.max_bitrate),
            Some(1_250_000)
        );
        assert_eq!(
            plan.decide(1, Millis(300)).map(|l| l.max_bitrate),
            Some(2_500_000)
        );
    }

    fn limited_link(peer: u64) -> LinkSample {
        LinkSample {
            peer: PeerId(peer),
            bandwidth_limited: true,
            loss: None,
            rtt_ms: None,
        }
    }

    fn quiet_link(peer: u64, rtt_ms: f64) -> LinkSample {
        LinkSample {
            peer: PeerId(peer),
            bandwidth_limited: false,
            loss: Some(0.0),
            rtt_ms: Some(rtt_ms),
        }
    }

    #[test]
    fn a_low_estimate_without_evidence_never_shrinks_the_picture() {
        let mut plan = UploadPlan::new(2_500_000);
        assert_eq!(
            plan.decide(3, Millis(0)).map(|l| l.scale_down_by),
            Some(1.0)
        );
        // A quiet picture: the browser estimates 300 kbps, but nothing says the link is full.
        plan.set_estimate(Some(300_000));
        plan.observe(&[quiet_link(1, 20.0), quiet_link(2, 21.0)], Millis(6_000));
        assert_eq!(plan.budget(), 2_500_000);
        assert_eq!(plan.decide(3, Millis(6_000)), None);
        // A higher estimate is taken.
        plan.set_estimate(Some(4_000_000));
        assert_eq!(plan.budget(), 4_000_000);
    }

    #[test]
    fn evidence_lowers_the_budget_to_the_estimate_and_its_end_restores_it() {
        let mut plan = UploadPlan::new(2_500_000);
        plan.decide(3, Millis(0));
        plan.set_estimate(Some(600_000));
        plan.observe(&[limited_link(1)], Millis(6_000));
        assert!(plan.link_limited());
        let reduced = plan
            .decide(3, Millis(6_000))
            .expect("reduced at once past the pause");
        assert_eq!((reduced.max_bitrate, reduced.scale_down_by), (200_000, 2.0));
        // The evidence holds a while after it was last seen…
        plan.observe(&[quiet_link(1, 20.0)], Millis(15_000));
        assert!(plan.link_limited());
        assert_eq!(plan.decide(3, Millis(15_000)), None);
        // …then the floor is back, and full size with it.
        plan.observe(&[quiet_link(1, 20.0)], Millis(16_001));
        assert!(!plan.link_limited());
        let restored = plan.decide(3, Millis(16_001)).expect("restored");
        assert_eq!(
            (restored.max_bitrate, restored.scale_down_by),
            (833_333, 1.0)
        );
    }

    #[test]
    fn loss_and_a_growing_round_trip_are_evidence_too() {
        let mut plan = UploadPlan::new(2_500_000);
        plan.observe(
            &[LinkSample {
                loss: Some(0.08),
                ..quiet_link(1, 20.0)
            }],
            Millis(0),
        );
        assert!(plan.link_limited());
        let mut plan = UploadPlan::new(2_500_000);
        plan.observe(&[quiet_link(1, 30.0)], Millis(0));
        // Twice the lowest, but only 30 ms more: a wobble on a short link.
        plan.observe(&[quiet_link(1, 60.0)], Millis(1_000));
        assert!(!plan.link_limited());
        plan.observe(&[quiet_link(1, 95.0)], Millis(2_000));
        assert!(plan.link_limited());
        // Each connection's lowest is its own: a far one is not a grown one.
        let mut plan = UploadPlan::new(2_500_000);
        plan.observe(&[quiet_link(1, 20.0), quiet_link(2, 200.0)], Millis(0));
        assert!(!plan.link_limited());
    }

    #[test]
    fn limits_follow_the_estimate_with_hysteresis() {
        let mut plan = UploadPlan::new(2_500_000);
        plan.decide(2, Millis(0));
        // With the link the limit, the browser's own estimate replaces the default, but
        // only after 5 s…
        plan.observe(&[limited_link(1)], Millis(1_000));
        plan.set_estimate(Some(1_000_000));
        assert_eq!(plan.decide(2, Millis(1_000)), None);
        assert_eq!(
            plan.decide(2, Millis(5_000)).map(|l| l.max_bitrate),
            Some(500_000)
        );
        // …and only when it moves by more than 25%.
        plan.set_estimate(Some(1_200_000));
        assert_eq!(plan.decide(2, Millis(20_000)), None, "20% is a wobble");
        plan.set_estimate(Some(1_300_000));
        assert_eq!(
            plan.decide(2, Millis(20_000)).map(|l| l.max_bitrate),
            Some(650_000)
        );
        // An estimate of 0 (none yet) means the default.
        plan.set_estimate(Some(0));
        assert_eq!(plan.budget(), 2_500_000);
        // Everyone gone: the next person gets limits at once.
        assert_eq!(plan.decide(0, Millis(21_000)), None);
        assert!(plan.decide(1, Millis(21_001)).is_some());
    }
}
