//! How one person's upload is shared among the people they send video to.
//!
//! In a full mesh every sender encodes once per receiver, so upload, not download, is
//! what runs out first. Each video sender gets an equal share of the budget, and a
//! resolution that share can carry; audio is never reduced.

/// The most often the limits follow a moving estimate, in milliseconds.
pub const REAPPLY_EVERY_MS: f64 = 5_000.0;
/// How far the estimate must move from the one last applied before the limits follow.
pub const REAPPLY_CHANGE: f64 = 0.25;
/// At or above this share a sender sends full size…
pub const FULL_SIZE_BPS: u64 = 1_000_000;
/// …at or above this, half size; below it, a quarter.
pub const HALF_SIZE_BPS: u64 = 300_000;

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
    /// The server's default, until the browser has an estimate.
    default_budget: u64,
    estimate: Option<u64>,
    applied: Option<Applied>,
}

#[derive(Clone, Copy, Debug)]
struct Applied {
    budget: u64,
    receivers: usize,
    at_ms: f64,
}

impl UploadPlan {
    pub fn new(default_budget: u64) -> UploadPlan {
        UploadPlan {
            default_budget,
            estimate: None,
            applied: None,
        }
    }

    /// The budget in force: the browser's estimate when it has one.
    pub fn budget(&self) -> u64 {
        self.estimate.unwrap_or(self.default_budget)
    }

    pub fn set_default(&mut self, budget: u64) {
        self.default_budget = budget;
    }

    /// The browser's latest estimate (`availableOutgoingBitrate`), if it has one.
    pub fn set_estimate(&mut self, estimate: Option<u64>) {
        self.estimate = estimate.filter(|&bps| bps > 0);
    }

    /// The limits to apply now for `receivers` people, or `None` to leave them as they are.
    pub fn decide(&mut self, receivers: usize, now_ms: f64) -> Option<SenderLimits> {
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
                moved > REAPPLY_CHANGE && now_ms - applied.at_ms >= REAPPLY_EVERY_MS
            }
        };
        if !due {
            return None;
        }
        self.applied = Some(Applied {
            budget,
            receivers,
            at_ms: now_ms,
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
        assert_eq!(three.scale_down_by, 2.0, "833 kbps is half size");
        assert!(three.max_bitrate * 3 <= 2_500_000);
        assert_eq!(
            share(2_000_000, 2).scale_down_by,
            1.0,
            "exactly 1 Mbps is full size"
        );
        assert_eq!(
            share(1_500_000, 5).scale_down_by,
            2.0,
            "exactly 300 kbps is half size"
        );
        assert_eq!(
            share(1_000_000, 5).scale_down_by,
            4.0,
            "200 kbps is a quarter"
        );
        assert_eq!(share(1_000_000, 0).receivers, 1, "never divides by zero");
    }

    #[test]
    fn limits_follow_people_at_once() {
        let mut plan = UploadPlan::new(2_500_000);
        assert_eq!(plan.decide(0, 0.0), None);
        assert_eq!(plan.decide(1, 0.0).map(|l| l.max_bitrate), Some(2_500_000));
        assert_eq!(plan.decide(1, 100.0), None, "nothing changed");
        assert_eq!(
            plan.decide(2, 200.0).map(|l| l.max_bitrate),
            Some(1_250_000)
        );
        assert_eq!(
            plan.decide(1, 300.0).map(|l| l.max_bitrate),
            Some(2_500_000)
        );
    }

    #[test]
    fn limits_follow_the_estimate_with_hysteresis() {
        let mut plan = UploadPlan::new(2_500_000);
        plan.decide(2, 0.0);
        // The browser's own estimate replaces the default, but only after 5 s…
        plan.set_estimate(Some(1_000_000));
        assert_eq!(plan.decide(2, 1_000.0), None);
        assert_eq!(
            plan.decide(2, 5_000.0).map(|l| l.max_bitrate),
            Some(500_000)
        );
        // …and only when it moves by more than 25%.
        plan.set_estimate(Some(1_200_000));
        assert_eq!(plan.decide(2, 20_000.0), None, "20% is a wobble");
        plan.set_estimate(Some(1_300_000));
        assert_eq!(
            plan.decide(2, 20_000.0).map(|l| l.max_bitrate),
            Some(650_000)
        );
        // An estimate of 0 (none yet) means the default.
        plan.set_estimate(Some(0));
        assert_eq!(plan.budget(), 2_500_000);
        // Everyone gone: the next person gets limits at once.
        assert_eq!(plan.decide(0, 21_000.0), None);
        assert!(plan.decide(1, 21_001.0).is_some());
    }
}
