//! Files between the browsers: to whom a file goes, and which files from a person are
//! taken. A transfer is in flight from its start until this side is done with it (sent,
//! received, failed or cancelled: the browser says `TransferEnded`), or its connection
//! closes. One person may have at most [`MAX_INCOMING_TRANSFERS`] in flight towards us:
//! a page a peer floods with files it never finishes keeps its memory and its list.

use crate::protocol::file::MAX_INCOMING_TRANSFERS;
use crate::protocol::signaling::PeerId;

#[derive(Debug, Default)]
pub(super) struct Transfers {
    /// The last id given (ids count up from 1, in the order transfers start).
    last: u32,
    in_flight: Vec<InFlight>,
}

#[derive(Debug)]
struct InFlight {
    id: u32,
    peer: PeerId,
    incoming: bool,
}

impl Transfers {
    /// A transfer to or from `peer` starts: its id.
    pub(super) fn start(&mut self, peer: PeerId, incoming: bool) -> u32 {
        self.last = self.last.wrapping_add(1).max(1);
        self.in_flight.push(InFlight {
            id: self.last,
            peer,
            incoming,
        });
        self.last
    }

    /// Whether another file from `peer` may be taken now.
    pub(super) fn may_receive(&self, peer: PeerId) -> bool {
        self.incoming_from(peer) < MAX_INCOMING_TRANSFERS
    }

    /// Files from `peer` in flight.
    pub(super) fn incoming_from(&self, peer: PeerId) -> usize {
        self.in_flight
            .iter()
            .filter(|t| t.incoming && t.peer == peer)
            .count()
    }

    pub(super) fn ended(&mut self, id: u32) {
        self.in_flight.retain(|t| t.id != id);
    }

    /// The connection to `peer` closed, and its transfers with it.
    pub(super) fn forget(&mut self, peer: PeerId) {
        self.in_flight.retain(|t| t.peer != peer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_may_have_four_files_in_flight_towards_us_and_a_fifth_once_one_ends() {
        let mut transfers = Transfers::default();
        let (mallory, ben) = (PeerId(1), PeerId(2));
        let ids: Vec<u32> = (0..MAX_INCOMING_TRANSFERS)
            .map(|_| transfers.start(mallory, true))
            .collect();
        assert_eq!(ids, [1, 2, 3, 4]);
        assert!(!transfers.may_receive(mallory));
        // Others are not held back by her, nor are files we send her.
        assert!(transfers.may_receive(ben));
        transfers.start(mallory, false);
        assert_eq!(transfers.incoming_from(mallory), 4);
        transfers.ended(ids[0]);
        assert!(transfers.may_receive(mallory));
        transfers.forget(mallory);
        assert_eq!(transfers.incoming_from(mallory), 0);
    }
}
