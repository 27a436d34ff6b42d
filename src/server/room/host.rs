//! Who hosts a room: the seat the host chose (handed the role to) while it is there, else
//! the seat taken earliest. One rule for one server and several; Redis's scripts have its
//! twin (`host_of` in `cluster/tell.lua`), held to it by a test that runs both.

use crate::protocol::signaling::PeerId;

/// The host among `seats` (each with its place in the order seats were taken: a
/// position, or Redis's change number), given the seat the host chose, if any.
pub fn host<O: Ord>(
    chosen: Option<PeerId>,
    seats: impl IntoIterator<Item = (PeerId, O)>,
) -> Option<PeerId> {
    let mut earliest: Option<(PeerId, O)> = None;
    for (id, taken) in seats {
        if Some(id) == chosen {
            return Some(id);
        }
        if earliest.as_ref().is_none_or(|(_, first)| taken < *first) {
            earliest = Some((id, taken));
        }
    }
    earliest.map(|(id, _)| id)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A room's seats as (id, order taken), the seat chosen, and its host.
    pub(crate) type Case = (&'static [(u64, u64)], Option<u64>, Option<u64>);

    /// Rooms and their hosts.
    pub(crate) const CASES: &[Case] = &[
        (&[], None, None),
        (&[], Some(7), None),
        (&[(7, 3)], None, Some(7)),
        (&[(7, 3), (8, 1), (9, 2)], None, Some(8)),
        (&[(7, 3), (8, 1), (9, 2)], Some(9), Some(9)),
        (&[(7, 3), (8, 1)], Some(9), Some(8)),
        (&[(7, 30), (8, 4)], Some(4), Some(8)),
    ];

    #[test]
    fn the_chosen_seat_hosts_while_it_is_there_else_the_earliest() {
        for (seats, chosen, expected) in CASES {
            let seats = seats.iter().map(|(id, seq)| (PeerId(*id), *seq));
            assert_eq!(
                host(chosen.map(PeerId), seats),
                expected.map(PeerId),
                "{chosen:?}"
            );
        }
    }
}
