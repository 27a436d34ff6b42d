//! Who is speaking: the loudest person above a threshold, held for at least a second so
//! the outline on their tile does not flicker between people who talk over each other.

use crate::protocol::signaling::PeerId;

/// `audioLevel` (0 to 1, from `getStats`) above which a person counts as speaking.
pub const SPEAKING_LEVEL: f64 = 0.02;
/// The least time one person stays outlined.
pub const HOLD_MS: f64 = 1_000.0;

#[derive(Clone, Debug, Default)]
pub struct ActiveSpeaker {
    /// Who is outlined, and since when.
    current: Option<(PeerId, f64)>,
}

impl ActiveSpeaker {
    /// Takes each person's latest audio level and says who is outlined now.
    pub fn update(&mut self, levels: &[(PeerId, f64)], now_ms: f64) -> Option<PeerId> {
        let loudest = levels
            .iter()
            .filter(|(_, level)| *level >= SPEAKING_LEVEL)
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(id, _)| *id);
        let held = self
            .current
            .is_some_and(|(_, since)| now_ms - since < HOLD_MS);
        let current = self.current.map(|(id, _)| id);
        if loudest != current && !held {
            self.current = loudest.map(|id| (id, now_ms));
        }
        self.current.map(|(id, _)| id)
    }

    /// Someone left: they can no longer be outlined.
    pub fn forget(&mut self, id: PeerId) {
        if self.current.is_some_and(|(current, _)| current == id) {
            self.current = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOB: PeerId = PeerId(1);
    const CAT: PeerId = PeerId(2);

    #[test]
    fn the_loudest_speaker_is_outlined_and_held_for_a_second() {
        let mut speaker = ActiveSpeaker::default();
        assert_eq!(
            speaker.update(&[(BOB, 0.001), (CAT, 0.0)], 0.0),
            None,
            "silence"
        );
        assert_eq!(speaker.update(&[(BOB, 0.3), (CAT, 0.1)], 100.0), Some(BOB));
        // Carol is louder a moment later: Bob keeps the outline for his second.
        assert_eq!(speaker.update(&[(BOB, 0.05), (CAT, 0.4)], 600.0), Some(BOB));
        assert_eq!(speaker.update(&[(BOB, 0.0), (CAT, 0.0)], 900.0), Some(BOB));
        assert_eq!(
            speaker.update(&[(BOB, 0.05), (CAT, 0.4)], 1_100.0),
            Some(CAT)
        );
        // Silence clears the outline, once held long enough.
        assert_eq!(speaker.update(&[], 1_500.0), Some(CAT));
        assert_eq!(speaker.update(&[], 2_200.0), None);
    }

    #[test]
    fn someone_who_leaves_is_no_longer_outlined() {
        let mut speaker = ActiveSpeaker::default();
        speaker.update(&[(BOB, 0.5)], 0.0);
        speaker.forget(CAT);
        assert_eq!(speaker.update(&[], 10.0), Some(BOB));
        speaker.forget(BOB);
        assert_eq!(speaker.update(&[], 20.0), None);
    }
}
