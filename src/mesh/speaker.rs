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

/// While muted, how long the microphone must pick up sound before the page says "You
/// are muted"…
pub const MUTED_SPEECH_MS: f64 = 1_000.0;
/// …in what share of that time (speech has pauses; a beep or a door does not fill it)…
pub const MUTED_SPEECH_SHARE: f64 = 0.7;
/// …and how long the hint stays after the sound stops.
pub const MUTED_HINT_HOLD_MS: f64 = 3_000.0;

/// Speaking while muted: fed the microphone's level a few times a second while it is
/// switched off, says whether to show the hint.
#[derive(Clone, Debug, Default)]
pub struct MutedSpeech {
    /// The last second's samples: when, and whether loud.
    samples: std::collections::VecDeque<(f64, bool)>,
    /// When the hint was last earned, while it shows.
    shown_at: Option<f64>,
}

impl MutedSpeech {
    pub fn sample(&mut self, level: f64, now_ms: f64) -> bool {
        self.samples.push_back((now_ms, level >= SPEAKING_LEVEL));
        while self
            .samples
            .front()
            .is_some_and(|(at, _)| now_ms - at > MUTED_SPEECH_MS)
        {
            self.samples.pop_front();
        }
        let first = self.samples.front().map_or(now_ms, |(at, _)| *at);
        // A whole second heard (samples come about every 100 ms).
        let long_enough = now_ms - first >= MUTED_SPEECH_MS * 0.8;
        let loud = self.samples.iter().filter(|(_, loud)| *loud).count();
        if long_enough && loud as f64 >= MUTED_SPEECH_SHARE * self.samples.len() as f64 {
            self.shown_at = Some(now_ms);
        }
        if self
            .shown_at
            .is_some_and(|at| now_ms - at > MUTED_HINT_HOLD_MS)
        {
            self.shown_at = None;
        }
        self.shown_at.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `level(t)` every 100 ms from `from` to `to`; says whether the hint showed at
    /// the end, and whether it ever did.
    fn feed(
        muted: &mut MutedSpeech,
        from: f64,
        to: f64,
        level: impl Fn(f64) -> f64,
    ) -> (bool, bool) {
        let (mut now, mut ever) = (false, false);
        let mut t = from;
        while t <= to {
            now = muted.sample(level(t), t);
            ever |= now;
            t += 100.0;
        }
        (now, ever)
    }

    #[test]
    fn speaking_for_a_second_while_muted_shows_the_hint_and_a_beep_does_not() {
        let mut muted = MutedSpeech::default();
        // Silence, then a short beep twice a second (Chromium's fake microphone).
        let beeps = |t: f64| if t % 500.0 < 100.0 { 0.08 } else { 0.0 };
        assert_eq!(feed(&mut muted, 0.0, 5_000.0, beeps), (false, false));
        assert_eq!(feed(&mut muted, 5_100.0, 7_000.0, |_| 0.0), (false, false));
        // Speech with a pause now and then, from 7.1 s: not at once, within about a second.
        let speech = |t: f64| if t % 1_000.0 < 800.0 { 0.1 } else { 0.005 };
        assert_eq!(feed(&mut muted, 7_100.0, 7_500.0, speech), (false, false));
        assert!(feed(&mut muted, 7_600.0, 8_200.0, speech).0);
        // It stays for three seconds after the speech stops, then goes.
        assert!(feed(&mut muted, 8_300.0, 11_000.0, |_| 0.0).0);
        assert!(!feed(&mut muted, 11_100.0, 12_000.0, |_| 0.0).0);
    }

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
