//! Who is speaking: the loudest person above a threshold, held for at least a second so
//! the outline on their tile does not flicker between people who talk over each other.

use super::clock::Millis;
use crate::protocol::signaling::PeerId;

/// `audioLevel` (0 to 1, from `getStats`) above which a person counts as speaking.
pub const SPEAKING_LEVEL: f64 = 0.02;
/// The least time one person stays outlined.
pub const HOLD_MS: u64 = 1_000;

#[derive(Clone, Debug, Default)]
pub struct ActiveSpeaker {
    /// Who is outlined, and since when.
    current: Option<(PeerId, Millis)>,
}

impl ActiveSpeaker {
    /// Takes each person's latest audio level and says who is outlined now.
    pub fn update(&mut self, levels: &[(PeerId, f64)], now: Millis) -> Option<PeerId> {
        let loudest = levels
            .iter()
            .filter(|(_, level)| *level >= SPEAKING_LEVEL)
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(id, _)| *id);
        let held = self
            .current
            .is_some_and(|(_, since)| now.since(since) < HOLD_MS);
        let current = self.current.map(|(id, _)| id);
        if loudest != current && !held {
            self.current = loudest.map(|id| (id, now));
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
pub const MUTED_SPEECH_MS: u64 = 1_000;
/// …in what share of that time (speech has pauses; a beep or a door does not fill it)…
pub const MUTED_SPEECH_SHARE: f64 = 0.7;
/// …and how long the hint stays after the sound stops.
pub const MUTED_HINT_HOLD_MS: u64 = 3_000;

/// Speaking while muted: fed the microphone's level a few times a second while it is
/// switched off, says whether to show the hint.
#[derive(Clone, Debug, Default)]
pub struct MutedSpeech {
    /// The last second's samples: when, and whether loud.
    samples: std::collections::VecDeque<(Millis, bool)>,
    /// When the hint was last earned, while it shows.
    shown_at: Option<Millis>,
}

impl MutedSpeech {
    pub fn sample(&mut self, level: f64, now: Millis) -> bool {
        self.samples.push_back((now, level >= SPEAKING_LEVEL));
        while self
            .samples
            .front()
            .is_some_and(|(at, _)| now.since(*at) > MUTED_SPEECH_MS)
        {
            self.samples.pop_front();
        }
        let first = self.samples.front().map_or(now, |(at, _)| *at);
        // A whole second heard (samples come about every 100 ms).
        let long_enough = now.since(first) >= MUTED_SPEECH_MS * 4 / 5;
        let loud = self.samples.iter().filter(|(_, loud)| *loud).count();
        if long_enough && loud as f64 >= MUTED_SPEECH_SHARE * self.samples.len() as f64 {
            self.shown_at = Some(now);
        }
        if self
            .shown_at
            .is_some_and(|at| now.since(at) > MUTED_HINT_HOLD_MS)
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
        from: i64,
        to: i64,
        level: impl Fn(i64) -> f64,
    ) -> (bool, bool) {
        let (mut now, mut ever) = (false, false);
        let mut t = from;
        while t <= to {
            now = muted.sample(level(t), Millis(t));
            ever |= now;
            t += 100;
        }
        (now, ever)
    }

    #[test]
    fn speaking_for_a_second_while_muted_shows_the_hint_and_a_beep_does_not() {
        let mut muted = MutedSpeech::default();
        // Silence, then a short beep twice a second (Chromium's fake microphone).
        let beeps = |t: i64| if t % 500 < 100 { 0.08 } else { 0.0 };
        assert_eq!(feed(&mut muted, 0, 5_000, beeps), (false, false));
        assert_eq!(feed(&mut muted, 5_100, 7_000, |_| 0.0), (false, false));
        // Speech with a pause now and then, from 7.1 s: not at once, within about a second.
        let speech = |t: i64| if t % 1_000 < 800 { 0.1 } else { 0.005 };
        assert_eq!(feed(&mut muted, 7_100, 7_500, speech), (false, false));
        assert!(feed(&mut muted, 7_600, 8_200, speech).0);
        // It stays for three seconds after the speech stops, then goes.
        assert!(feed(&mut muted, 8_300, 11_000, |_| 0.0).0);
        assert!(!feed(&mut muted, 11_100, 12_000, |_| 0.0).0);
    }

    const BOB: PeerId = PeerId(1);
    const CAT: PeerId = PeerId(2);

    #[test]
    fn the_loudest_speaker_is_outlined_and_held_for_a_second() {
        let mut speaker = ActiveSpeaker::default();
        assert_eq!(
            speaker.update(&[(BOB, 0.001), (CAT, 0.0)], Millis(0)),
            None,
            "silence"
        );
        assert_eq!(
            speaker.update(&[(BOB, 0.3), (CAT, 0.1)], Millis(100)),
            Some(BOB)
        );
        // Carol is louder a moment later: Bob keeps the outline for his second.
        assert_eq!(
            speaker.update(&[(BOB, 0.05), (CAT, 0.4)], Millis(600)),
            Some(BOB)
        );
        assert_eq!(
            speaker.update(&[(BOB, 0.0), (CAT, 0.0)], Millis(900)),
            Some(BOB)
        );
        assert_eq!(
            speaker.update(&[(BOB, 0.05), (CAT, 0.4)], Millis(1_100)),
            Some(CAT)
        );
        // Silence clears the outline, once held long enough.
        assert_eq!(speaker.update(&[], Millis(1_500)), Some(CAT));
        assert_eq!(speaker.update(&[], Millis(2_200)), None);
    }

    #[test]
    fn someone_who_leaves_is_no_longer_outlined() {
        let mut speaker = ActiveSpeaker::default();
        speaker.update(&[(BOB, 0.5)], Millis(0));
        speaker.forget(CAT);
        assert_eq!(speaker.update(&[], Millis(10)), Some(BOB));
        speaker.forget(BOB);
        assert_eq!(speaker.update(&[], Millis(20)), None);
    }
}
