//! The call's timers, as a typed table: which timer, and its deadline. Each timer exists
//! because of something (a connection that went `disconnected`, a hand held back…) and is
//! cancelled when that reason goes away, so a stale one never fires. The session exposes
//! the earliest deadline ([`super::Session::poll_timeout`]); the browser side wakes it
//! then with [`super::Input::Timeout`], and every timer due by that moment fires, earliest
//! first.

use super::clock::Millis;
use crate::protocol::signaling::PeerId;
use std::collections::BTreeMap;

/// What a timer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timer {
    /// Open a new socket to the server, after the backoff.
    Reconnect,
    /// Ping the server, or give up on a silent one.
    Heartbeat,
    /// The grace after this pair's ICE went `disconnected` is over.
    IceGrace(PeerId),
    /// The pause after `peer_busy` for this person is over: renegotiate.
    PeerBusy(PeerId),
    /// The reactions whose time is up leave the screen.
    Reactions,
    /// A hand that changed faster than it is shown: where it ended up is shown now.
    HandSettled(PeerId),
}

impl Timer {
    /// The person this timer is about, if any.
    pub fn person(self) -> Option<PeerId> {
        match self {
            Timer::IceGrace(id) | Timer::PeerBusy(id) | Timer::HandSettled(id) => Some(id),
            Timer::Reconnect | Timer::Heartbeat | Timer::Reactions => None,
        }
    }
}

/// The timers running, each at most once.
#[derive(Clone, Debug, Default)]
pub struct Timers {
    deadlines: BTreeMap<Timer, Millis>,
}

impl Timers {
    /// Starts `timer` to fire at `at`; one already running is moved there.
    pub fn set(&mut self, timer: Timer, at: Millis) {
        self.deadlines.insert(timer, at);
    }

    /// Stops `timer`: its reason went away.
    pub fn cancel(&mut self, timer: Timer) {
        self.deadlines.remove(&timer);
    }

    /// Stops every timer about `person` (they left, or their connection closed).
    pub fn cancel_for(&mut self, person: PeerId) {
        self.deadlines
            .retain(|timer, _| timer.person() != Some(person));
    }

    /// Stops everything (the call is over).
    pub fn clear(&mut self) {
        self.deadlines.clear();
    }

    pub fn is_set(&self, timer: Timer) -> bool {
        self.deadlines.contains_key(&timer)
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Millis> {
        self.deadlines.values().min().copied()
    }

    /// The earliest timer due by `now`, taken out of the table.
    pub fn pop_due(&mut self, now: Millis) -> Option<Timer> {
        let (timer, _) = self
            .deadlines
            .iter()
            .filter(|(_, at)| **at <= now)
            .min_by_key(|(timer, at)| (**at, **timer))?;
        let timer = *timer;
        self.deadlines.remove(&timer);
        Some(timer)
    }

    /// Every timer running, with its deadline.
    pub fn iter(&self) -> impl Iterator<Item = (Timer, Millis)> + '_ {
        self.deadlines.iter().map(|(timer, at)| (*timer, *at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_fire_earliest_first_and_only_once_due() {
        let mut timers = Timers::default();
        timers.set(Timer::Heartbeat, Millis(5_000));
        timers.set(Timer::IceGrace(PeerId(1)), Millis(3_000));
        timers.set(Timer::Reactions, Millis(3_000));
        assert_eq!(timers.next(), Some(Millis(3_000)));
        assert_eq!(timers.pop_due(Millis(2_999)), None);
        assert_eq!(
            timers.pop_due(Millis(4_000)),
            Some(Timer::IceGrace(PeerId(1)))
        );
        assert_eq!(timers.pop_due(Millis(4_000)), Some(Timer::Reactions));
        assert_eq!(timers.pop_due(Millis(4_000)), None);
        assert_eq!(timers.next(), Some(Millis(5_000)));
    }

    #[test]
    fn a_timer_set_again_moves_and_a_cancelled_one_never_fires() {
        let mut timers = Timers::default();
        timers.set(Timer::IceGrace(PeerId(1)), Millis(3_000));
        timers.set(Timer::IceGrace(PeerId(1)), Millis(5_900));
        assert_eq!(timers.pop_due(Millis(3_000)), None);
        timers.set(Timer::PeerBusy(PeerId(2)), Millis(1_000));
        timers.set(Timer::HandSettled(PeerId(1)), Millis(1_000));
        timers.cancel_for(PeerId(1));
        timers.cancel(Timer::PeerBusy(PeerId(2)));
        assert_eq!(timers.next(), None);
    }
}
