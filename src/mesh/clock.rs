//! The call's one clock: a moment on the page's monotonic clock, in whole milliseconds.
//!
//! The browser side reads it from `performance.now()` (it never goes back, unlike the
//! wall clock); the state machine only ever receives it as an input. Durations are plain
//! `u64` milliseconds, so there is one unit everywhere. A moment may come before the
//! page's start (a hand another page says went up ten minutes ago), so it is signed.

use std::ops::{Add, Sub};

/// A moment, in milliseconds since the page's time origin.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Millis(pub i64);

impl Millis {
    /// The time origin (the page's start).
    pub const ZERO: Millis = Millis(0);

    /// How long after `earlier` this is (0 if it is not later).
    pub fn since(self, earlier: Millis) -> u64 {
        u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0)
    }

    /// `performance.now()`'s fractional milliseconds, rounded down (not a number: the
    /// origin).
    pub fn from_ms(ms: f64) -> Millis {
        // `as` saturates, and takes NaN to 0.
        Millis(ms as i64)
    }
}

impl Add<u64> for Millis {
    type Output = Millis;

    fn add(self, ms: u64) -> Millis {
        Millis(self.0.saturating_add_unsigned(ms))
    }
}

impl Sub<u64> for Millis {
    type Output = Millis;

    fn sub(self, ms: u64) -> Millis {
        Millis(self.0.saturating_sub_unsigned(ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moment_counts_whole_milliseconds_and_saturates() {
        assert_eq!(Millis::from_ms(1_234.9), Millis(1_234));
        assert_eq!(Millis::from_ms(f64::NAN), Millis::ZERO);
        assert_eq!(Millis(5).since(Millis(9)), 0);
        assert_eq!(Millis(9).since(Millis(-5)), 14);
        assert_eq!(Millis(100) - 600, Millis(-500));
        assert_eq!(Millis(i64::MAX) + 1, Millis(i64::MAX));
    }
}
