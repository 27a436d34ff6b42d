//! A locked room's door, as both shells keep it: how many may wait, how often one address
//! may knock, how long a knock waits, and what a person turned away is told. Pure: the time
//! is passed in.

use crate::protocol::signaling::{ErrorCode, KnockId, PeerId, ServerMessage};
use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// How many people may wait at a locked room's door at once; past it, `room_locked`.
pub const MAX_KNOCKS: usize = 10;
/// How many of them may come from one address (IPv6 grouped as for the per-address
/// limit): one address cannot fill the waiting list for everyone else.
pub const MAX_KNOCKS_PER_ADDRESS: usize = 2;
/// How many times one address may knock at one room a minute (given up or not): a page
/// that knocks and gives up in a loop must not ring at the host without end.
pub const KNOCKS_PER_MINUTE_PER_ADDRESS: usize = 3;
/// How long a knock waits for the host before it ends (`knock_expired`).
pub const KNOCK_TIMEOUT: Duration = Duration::from_secs(120);
/// The window [`KNOCKS_PER_MINUTE_PER_ADDRESS`] counts in.
pub const KNOCK_RATE_WINDOW: Duration = Duration::from_secs(60);
/// Knocks remembered per room for that rate: more than can come in a minute from the
/// addresses that may wait at once.
pub const RECENT_KNOCKS: usize = 64;

/// A room's lock, and the people at its door (`K` reaches a knocking connection).
pub(super) struct Door<K> {
    /// Newcomers wait for the host ([`Knock`]) instead of taking a seat…
    pub(super) locked: bool,
    /// …as of this change (older news of the lock is stale).
    pub(super) locked_at: u64,
    /// Who waits at the door, in the order they came (at most [`MAX_KNOCKS`]).
    pub(super) knocks: Vec<Knock<K>>,
    /// Seats given to knocks the host let in, until their connection takes them.
    pub(super) admitted: Vec<(KnockId, PeerId)>,
    /// Who knocked lately, for the per-address rate.
    pub(super) limits: KnockLimits,
}

impl<K> Default for Door<K> {
    fn default() -> Self {
        Door {
            locked: false,
            locked_at: 0,
            knocks: Vec::new(),
            admitted: Vec::new(),
            limits: KnockLimits::default(),
        }
    }
}

/// Someone at a locked room's door: no seat, and nobody in the room knows of them but
/// the host.
pub struct Knock<K> {
    pub id: KnockId,
    pub name: String,
    /// Their connection's, to tell them how it went.
    pub contact: K,
    /// Where they come from (grouped as for the per-address limit), for
    /// [`MAX_KNOCKS_PER_ADDRESS`].
    pub(super) address: Option<IpAddr>,
}

/// The knocks one room's door heard lately, by address, for the per-address rate.
#[derive(Clone, Debug, Default)]
pub struct KnockLimits {
    recent: VecDeque<(IpAddr, Instant)>,
}

impl KnockLimits {
    /// Whether someone at `address` may knock now, with `waiting` people at the door of
    /// whom `waiting_from_there` came from that address (an address no proxy names has
    /// no rate). A knock that may come is counted with [`KnockLimits::count`].
    pub fn check(
        &mut self,
        address: Option<IpAddr>,
        waiting: usize,
        waiting_from_there: usize,
        now: Instant,
    ) -> Result<(), ErrorCode> {
        if waiting >= MAX_KNOCKS || waiting_from_there >= MAX_KNOCKS_PER_ADDRESS {
            return Err(ErrorCode::RoomLocked);
        }
        let Some(address) = address else {
            return Ok(());
        };
        self.forget_before(now);
        let knocked = self.recent.iter().filter(|(from, _)| *from == address);
        if knocked.count() >= KNOCKS_PER_MINUTE_PER_ADDRESS {
            return Err(ErrorCode::RateLimited);
        }
        Ok(())
    }

    /// Someone at `address` knocked, now.
    pub fn count(&mut self, address: Option<IpAddr>, now: Instant) {
        let Some(address) = address else {
            return;
        };
        if self.recent.len() >= RECENT_KNOCKS {
            self.recent.pop_front();
        }
        self.recent.push_back((address, now));
    }

    /// Whether nothing is remembered as of `now` (the door's memory may go).
    pub fn is_idle(&mut self, now: Instant) -> bool {
        self.forget_before(now);
        self.recent.is_empty()
    }

    fn forget_before(&mut self, now: Instant) {
        while self
            .recent
            .front()
            .is_some_and(|(_, at)| now.duration_since(*at) >= KNOCK_RATE_WINDOW)
        {
            self.recent.pop_front();
        }
    }
}

/// What a person the host (named) turned away is told.
pub fn denied(host: Option<&str>) -> ServerMessage {
    refusal(
        ErrorCode::KnockDenied,
        host.map(|host| format!("{host} did not let you in")),
    )
}

/// What a person still waiting is told when everyone in the room has left.
pub fn everyone_left() -> ServerMessage {
    refusal(
        ErrorCode::KnockExpired,
        Some("everyone left before letting you in".into()),
    )
}

/// What a person nobody let in within [`KNOCK_TIMEOUT`] is told.
pub fn expired() -> ServerMessage {
    refused(ErrorCode::KnockExpired)
}

/// What a person let in but refused a seat after all (the room filled up meanwhile, say)
/// is told: the code, in its own words.
pub fn refused(code: ErrorCode) -> ServerMessage {
    refusal(code, None)
}

fn refusal(code: ErrorCode, message: Option<String>) -> ServerMessage {
    ServerMessage::Error {
        code,
        message: message.unwrap_or_else(|| code.describe().to_owned()),
        peer: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1)));
    const AWAY: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2)));

    #[test]
    fn one_address_knocks_three_times_a_minute_and_fills_at_most_two_places() {
        let mut door = KnockLimits::default();
        let start = Instant::now();
        let knock = |door: &mut KnockLimits, address, waiting, from_there, at| {
            door.check(address, waiting, from_there, at)
                .map(|()| door.count(address, at))
        };
        for i in 0..KNOCKS_PER_MINUTE_PER_ADDRESS {
            assert_eq!(knock(&mut door, HOME, i, 0, start), Ok(()));
        }
        assert_eq!(
            knock(&mut door, HOME, 0, 0, start),
            Err(ErrorCode::RateLimited)
        );
        assert_eq!(
            knock(&mut door, AWAY, 3, 0, start),
            Ok(()),
            "another address"
        );
        let later = start + KNOCK_RATE_WINDOW;
        assert_eq!(
            knock(&mut door, HOME, 0, 0, later),
            Ok(()),
            "a minute later"
        );
        assert_eq!(
            knock(&mut door, AWAY, 1, MAX_KNOCKS_PER_ADDRESS, later),
            Err(ErrorCode::RoomLocked)
        );
        assert_eq!(
            knock(&mut door, None, MAX_KNOCKS, 0, later),
            Err(ErrorCode::RoomLocked),
            "the list is full"
        );
        assert_eq!(
            knock(&mut door, None, 0, 0, later),
            Ok(()),
            "no address: no rate"
        );
        // Checked, not counted: a join that never knocks leaves no trace.
        for _ in 0..10 {
            assert_eq!(door.check(AWAY, 0, 0, later), Ok(()));
        }
        assert!(!door.is_idle(later));
        assert!(door.is_idle(later + KNOCK_RATE_WINDOW));
    }

    #[test]
    fn a_person_turned_away_is_told_by_whom_or_why() {
        let said = |message| match message {
            ServerMessage::Error { code, message, .. } => (code, message),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            said(denied(Some("Alice"))),
            (ErrorCode::KnockDenied, "Alice did not let you in".into())
        );
        assert_eq!(said(denied(None)).1, ErrorCode::KnockDenied.describe());
        assert_eq!(said(everyone_left()).0, ErrorCode::KnockExpired);
        assert_eq!(said(expired()).1, ErrorCode::KnockExpired.describe());
    }
}
