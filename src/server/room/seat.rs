//! Where a connection stands in a room, as both shells report it: its seat, its knock at a
//! locked room's door, and why it got no seat.

use crate::protocol::signaling::{ErrorCode, KnockId, PeerId};

/// Where a connection sits, once joined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seat {
    pub room: String,
    pub id: PeerId,
    /// Which attachment of the seat this connection holds.
    pub(in crate::server) epoch: u64,
}

/// A connection waiting at a room's door.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Knocking {
    pub room: String,
    pub knock: KnockId,
}

/// How a knock stands, for its connection.
#[derive(Debug, PartialEq, Eq)]
pub enum KnockOutcome {
    /// Still waiting for the host.
    Waiting,
    /// Let in: this is the connection's seat now (`joined` is on its way).
    Seated(Seat),
    /// Turned away, timed out, or the room emptied: the connection was told.
    Ended,
}

/// What the room says of itself to someone taking a seat: who hosts it, and whether it
/// is locked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RoomState {
    pub host: Option<PeerId>,
    pub locked: bool,
}

/// Why `join` or `resume` gave no seat.
#[derive(Debug, PartialEq, Eq)]
pub enum NoSeat {
    /// Refused, with the code the client is told.
    Refused(ErrorCode),
    /// The client's own mailbox is full of messages it has not read: it is not reading,
    /// and the full mailbox has already kicked its connection. Nothing more can be said.
    NotReading,
    /// The room is locked: the client waits at its door (told `waiting`; the host is
    /// told `knock`).
    Waiting(Knocking),
}

impl From<ErrorCode> for NoSeat {
    fn from(code: ErrorCode) -> NoSeat {
        NoSeat::Refused(code)
    }
}

/// A seat just taken by `join`, and how many people the room holds with it.
#[derive(Debug, PartialEq, Eq)]
pub struct Admitted {
    pub seat: Seat,
    pub people: usize,
}
