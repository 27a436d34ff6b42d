//! How much of what a peer sends is taken: a rate gate per kind of message (chat lines,
//! hand changes, reactions), and the chat channel's frame window, which drops a flood
//! before its frames are even read. The limits themselves are beside their messages in
//! `protocol::peer`.

use super::clock::Millis;
use crate::protocol::peer::{
    CHAT_BURST, CHAT_LINES_PER_SECOND, HAND_CHANGES_PER_SECOND, HAND_CHANGE_BURST,
    MAX_PEER_MESSAGES_PER_SECOND, REACTIONS_PER_SECOND, REACTION_BURST,
};

/// What [`RateGate::admit`] says of one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    Show,
    /// Dropped; `notify` for the first line dropped in a burst, so one notice says so.
    Drop {
        notify: bool,
    },
}

/// A per-person rate limit: a token bucket of `burst` messages refilled at `per_second`.
#[derive(Clone, Debug)]
pub struct RateGate {
    per_second: f64,
    burst: f64,
    tokens: f64,
    /// When it was last refilled (`None`: never used, full).
    at: Option<Millis>,
    /// Messages are being dropped (a notice went out for this burst).
    dropping: bool,
}

impl RateGate {
    fn new(per_second: f64, burst: f64) -> RateGate {
        RateGate {
            per_second,
            burst,
            tokens: burst,
            at: None,
            dropping: false,
        }
    }

    /// Chat lines: [`CHAT_LINES_PER_SECOND`], bursts of [`CHAT_BURST`].
    pub fn chat() -> RateGate {
        RateGate::new(CHAT_LINES_PER_SECOND, CHAT_BURST)
    }

    /// Hand changes: [`HAND_CHANGES_PER_SECOND`], bursts of [`HAND_CHANGE_BURST`].
    pub fn hand_changes() -> RateGate {
        RateGate::new(HAND_CHANGES_PER_SECOND, HAND_CHANGE_BURST)
    }

    /// Reactions: [`REACTIONS_PER_SECOND`], bursts of [`REACTION_BURST`].
    pub fn reactions() -> RateGate {
        RateGate::new(REACTIONS_PER_SECOND, REACTION_BURST)
    }

    pub fn admit(&mut self, now: Millis) -> Admit {
        let elapsed = self.at.map_or(0, |at| now.since(at)) as f64 / 1000.0;
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        // The clock never goes back; a moment handled late does not take refills back.
        self.at = Some(self.at.map_or(now, |at| at.max(now)));
        if self.tokens >= 1.0 {
            // A burst ends once the sender has slowed down enough for the bucket to fill
            // half way, not at the one message a sustained flood gets through each refill.
            if self.tokens >= self.burst / 2.0 {
                self.dropping = false;
            }
            self.tokens -= 1.0;
            Admit::Show
        } else {
            let notify = !self.dropping;
            self.dropping = true;
            Admit::Drop { notify }
        }
    }
}

/// The window [`MAX_PEER_MESSAGES_PER_SECOND`] counts frames in.
pub const FRAME_WINDOW_MS: u64 = 1_000;

/// What [`FrameWindow::frame`] says of one frame on the chat channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// Read it now; `kept_first`: read the frame kept before it first (its window is over,
    /// and the wake has not come yet: a late timer).
    Read { kept_first: bool },
    /// Past the window's budget: keep it unread, in place of any frame kept before it (a
    /// newer frame says where the peer ended up). `wake`: when to call
    /// [`FrameWindow::wake`], for the first frame kept. `report`: the first frame past the
    /// budget in this window (the session counts a flood once per window).
    Keep { wake: Option<Millis>, report: bool },
}

/// The chat channel's frame budget, applied before a frame is copied out of JavaScript:
/// at most [`MAX_PEER_MESSAGES_PER_SECOND`] frames are read in a window of a second.
/// Past it frames are dropped unread, except the newest, which is kept and read when the
/// window ends: a peer that floods and then settles (a hand up and down five thousand
/// times, then down) is shown where it settled, however late the flood is handed to the
/// page. Every frame after a kept one is kept too, until the wake, so nothing is read out
/// of order.
#[derive(Clone, Debug, Default)]
pub struct FrameWindow {
    /// When the current window started, and the frames read in it.
    start: Option<Millis>,
    read: u32,
    /// A frame is kept, waiting for the wake.
    keeping: bool,
}

impl FrameWindow {
    pub fn frame(&mut self, now: Millis) -> Frame {
        let over = self
            .start
            .is_none_or(|start| now.since(start) >= FRAME_WINDOW_MS);
        if self.keeping && !over {
            return Frame::Keep {
                wake: None,
                report: false,
            };
        }
        // The window is over (the wake may come late: a busy or hidden page's timer): what
        // was kept is read first, as the first of the new window, then this frame.
        let kept_first = std::mem::take(&mut self.keeping);
        if over {
            self.start = Some(now);
            self.read = u32::from(kept_first);
        }
        if self.read < MAX_PEER_MESSAGES_PER_SECOND {
            self.read += 1;
            return Frame::Read { kept_first };
        }
        self.keeping = true;
        let start = self.start.expect("a window was started above");
        Frame::Keep {
            wake: Some(start + FRAME_WINDOW_MS),
            report: true,
        }
    }

    /// The window a frame was kept in is over: the kept frame is read now, as the first
    /// of a new window. Returns whether there was one to read.
    pub fn wake(&mut self, now: Millis) -> bool {
        if !std::mem::take(&mut self.keeping) {
            return false;
        }
        self.start = Some(now);
        self.read = 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reactions_are_limited_per_person_to_a_few_a_second() {
        let mut gate = RateGate::reactions();
        // A flood of 1,000 a second for 10 s shows 5 at once, then 2 a second.
        let shown = (0..10_000)
            .filter(|i| gate.admit(Millis(*i)) == Admit::Show)
            .count();
        assert!((24..=26).contains(&shown), "{shown}");
        // Someone clapping once a second is never held back.
        let mut gate = RateGate::reactions();
        assert!((0..60).all(|i| gate.admit(Millis(i * 1000)) == Admit::Show));
    }

    #[test]
    fn chat_is_limited_per_person_with_one_notice_per_burst() {
        let mut gate = RateGate::chat();
        // A burst of 30 passes, at once.
        for _ in 0..30 {
            assert_eq!(gate.admit(Millis(0)), Admit::Show);
        }
        assert_eq!(gate.admit(Millis(0)), Admit::Drop { notify: true });
        for _ in 0..1_000 {
            assert_eq!(gate.admit(Millis(10)), Admit::Drop { notify: false });
        }
        // A tenth of a second later one more line may pass: still the same burst.
        assert_eq!(gate.admit(Millis(110)), Admit::Show);
        assert_eq!(gate.admit(Millis(110)), Admit::Drop { notify: false });
        // After a pause, the next flood is a new burst with a notice of its own.
        assert_eq!(gate.admit(Millis(5_000)), Admit::Show);
        for _ in 0..29 {
            gate.admit(Millis(5_000));
        }
        assert_eq!(gate.admit(Millis(5_000)), Admit::Drop { notify: true });
        // Ten lines a second go through for ever.
        let shown = (0..100)
            .filter(|i| gate.admit(Millis(10_000 + i * 100)) == Admit::Show)
            .count();
        assert_eq!(shown, 100);
        // A flood of 1,000 lines a second for 10 s shows about 30 + 10 × 10.
        let mut gate = RateGate::chat();
        let shown = (0..10_000)
            .filter(|i| gate.admit(Millis(*i)) == Admit::Show)
            .count();
        assert!((125..=135).contains(&shown), "{shown}");
    }

    #[test]
    fn a_moment_handled_late_does_not_refill_the_gate_twice() {
        let mut gate = RateGate::chat();
        for _ in 0..30 {
            gate.admit(Millis(10_000));
        }
        // A line that arrived earlier but is handled now, then one at the same late moment.
        assert!(matches!(gate.admit(Millis(9_000)), Admit::Drop { .. }));
        assert!(matches!(gate.admit(Millis(10_000)), Admit::Drop { .. }));
    }

    /// The order of events behind `untrusted-peer.spec`'s "hand flood" failing on a slow
    /// machine (issue 35): Mallory's 5,000 ups and downs reach Ann's page late and spread
    /// out, so her final "down", sent 1.1 s after the flood, arrives within the same second
    /// as the flood's tail. The fixed window used to drop it unread, and Ann's page showed
    /// the last hand it had read: up.
    #[test]
    fn the_frame_a_flood_ends_on_is_read_when_its_window_ends() {
        // What the chat channel does with each verdict: read, or keep the newest unread
        // and read it at the wake.
        #[derive(Default)]
        struct Page {
            window: FrameWindow,
            read: Vec<(i64, bool)>,
            kept: Option<(i64, bool)>,
            wake: Option<Millis>,
            reports: usize,
        }
        impl Page {
            fn arrive(&mut self, at: i64, up: bool) {
                // The page's timer fires between two frames, once its time has come.
                if let Some(wake) = self.wake.filter(|wake| wake.0 <= at) {
                    self.wake = None;
                    assert!(self.window.wake(wake));
                    self.read.push(self.kept.take().expect("a frame is kept"));
                }
                match self.window.frame(Millis(at)) {
                    Frame::Read { kept_first } => {
                        if kept_first {
                            self.read.push(self.kept.take().expect("a frame is kept"));
                        }
                        self.read.push((at, up));
                    }
                    Frame::Keep { wake, report } => {
                        self.kept = Some((at, up));
                        self.wake = self.wake.or(wake);
                        self.reports += usize::from(report);
                    }
                }
            }
        }
        let mut page = Page::default();
        // The flood, handed to the page from 0 to 1.4 s: a frame every 0.28 ms, up and down.
        for i in 0..5_000i64 {
            page.arrive(i * 28 / 100, i % 2 == 0);
        }
        // The final "down", 1.1 s after Mallory sent the flood's last frame, arrives at
        // 1.5 s: inside the second window, which the tail has filled.
        page.arrive(1_500, false);
        assert!(
            page.read.last().is_some_and(|(at, _)| *at < 1_500),
            "not read yet"
        );
        assert_eq!(page.wake, Some(Millis(2_000)), "kept until its window ends");
        assert!(page.window.wake(Millis(2_000)));
        let kept = page.kept.take().expect("the final frame is kept");
        page.read.push(kept);
        assert_eq!(
            page.read.last(),
            Some(&(1_500, false)),
            "the page reads where Mallory settled"
        );
        assert_eq!(page.reports, 2, "one report per window that dropped frames");
        assert!(page.read.len() < 2 * MAX_PEER_MESSAGES_PER_SECOND as usize + 3);
        assert!(!page.window.wake(Millis(2_500)), "nothing is kept");
    }

    /// A late wake (a hidden tab runs its timers once a second at most): the first frame
    /// after the window reads the kept one first, then itself; nothing in between is lost.
    #[test]
    fn a_frame_after_the_window_reads_what_was_kept_first_however_late_the_wake() {
        let mut window = FrameWindow::default();
        for i in 0..MAX_PEER_MESSAGES_PER_SECOND {
            window.frame(Millis(i64::from(i)));
        }
        assert!(matches!(
            window.frame(Millis(500)),
            Frame::Keep { wake: Some(_), .. }
        ));
        assert_eq!(
            window.frame(Millis(1_200)),
            Frame::Read { kept_first: true },
            "the wake has not come; the window is over"
        );
        assert_eq!(
            window.frame(Millis(1_201)),
            Frame::Read { kept_first: false }
        );
        assert!(
            !window.wake(Millis(1_500)),
            "the late wake finds nothing kept"
        );
    }

    #[test]
    fn a_peer_within_the_budget_is_read_frame_by_frame() {
        let mut window = FrameWindow::default();
        for second in 0..10 {
            for i in 0..MAX_PEER_MESSAGES_PER_SECOND {
                let at = Millis(second * 1_000 + i64::from(i));
                assert_eq!(window.frame(at), Frame::Read { kept_first: false });
            }
        }
    }
}
