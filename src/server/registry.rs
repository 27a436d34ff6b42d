//! The room registry a signaling connection talks to: the rooms of this process alone
//! (`rooms`, the default), or rooms shared with other Tandem servers through Redis
//! (`cluster`). A connection never knows which it has.
//!
//! An enum rather than a trait object: the in-process registry's calls stay direct and
//! complete at once, so a relay costs what it cost before there was a choice. The shared
//! registry's calls that wait on Redis are boxed: every connection's task holds the
//! largest future it may await, and those are several hundred bytes (an idle connection
//! costs about 3 KiB in all).

use super::cluster::SharedRooms;
use super::limits::IpSlot;
use super::mailbox::Mailbox;
use super::room::seat::{Admitted, KnockOutcome, Knocking, NoSeat, Seat};
use super::rooms::Rooms;
use crate::protocol::signaling::{ErrorCode, HostCommand, PeerId, Signal};
use std::net::IpAddr;
use std::sync::Arc;

// One per server, behind an `Arc`: its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Registry {
    Local(Rooms),
    Shared(Arc<SharedRooms>),
}

impl Registry {
    /// Seats a new participant, sends it `joined` and tells the others `peer_joined`; at
    /// a locked room, has them wait for the host (`NoSeat::Waiting`). `address`: where the
    /// connection comes from (see [`Rooms::join`]).
    pub async fn join(
        &self,
        room: &str,
        name: &str,
        mailbox: &Mailbox,
        address: Option<IpAddr>,
    ) -> Result<Admitted, NoSeat> {
        match self {
            Registry::Local(rooms) => rooms.join(room, name, mailbox, address),
            Registry::Shared(rooms) => Box::pin(rooms.join(room, name, mailbox, address)).await,
        }
    }

    /// Gives the seat named by `token` to this connection (see [`Rooms::resume`]).
    pub async fn resume(
        &self,
        token: &str,
        fresh: bool,
        mailbox: &Mailbox,
    ) -> Result<Seat, NoSeat> {
        match self {
            Registry::Local(rooms) => rooms.resume(token, fresh, mailbox),
            Registry::Shared(rooms) => Box::pin(rooms.resume(token, fresh, mailbox)).await,
        }
    }

    /// A fresh resume token for `seat`, if this connection still holds it.
    pub fn fresh_token(&self, seat: &Seat) -> Option<String> {
        match self {
            Registry::Local(rooms) => rooms.fresh_token(seat),
            Registry::Shared(rooms) => rooms.fresh_token(seat),
        }
    }

    /// Delivers `signal` from `seat` to peer `to` in the same room.
    pub fn relay(&self, seat: &Seat, to: PeerId, signal: Signal) -> Result<(), ErrorCode> {
        match self {
            Registry::Local(rooms) => rooms.relay(seat, to, signal),
            Registry::Shared(rooms) => rooms.relay(seat, to, signal),
        }
    }

    /// Carries out a host command from `seat` (refused with `not_host` unless it is the
    /// room's host).
    pub async fn host_command(&self, seat: &Seat, command: HostCommand) -> Result<(), ErrorCode> {
        match self {
            Registry::Local(rooms) => rooms.host_command(seat, command),
            Registry::Shared(rooms) => Box::pin(rooms.host_command(seat, command)).await,
        }
    }

    /// How a connection's knock stands (see [`Rooms::knock_outcome`]).
    pub fn knock_outcome(&self, knocking: &Knocking) -> KnockOutcome {
        match self {
            Registry::Local(rooms) => rooms.knock_outcome(knocking),
            Registry::Shared(rooms) => rooms.knock_outcome(knocking),
        }
    }

    /// A knocking connection gave up or closed (see [`Rooms::withdraw_knock`]).
    pub fn withdraw_knock(&self, knocking: &Knocking) -> Option<Seat> {
        match self {
            Registry::Local(rooms) => rooms.withdraw_knock(knocking),
            Registry::Shared(rooms) => rooms.withdraw_knock(knocking),
        }
    }

    /// Nobody let a knock in in time.
    pub fn expire_knock(&self, knocking: &Knocking) {
        match self {
            Registry::Local(rooms) => rooms.expire_knock(knocking),
            Registry::Shared(rooms) => rooms.expire_knock(knocking),
        }
    }

    /// The connection holding `seat` dropped: keep the seat for a resume. Returns whether
    /// it was detached (false if a newer connection holds it, or it is gone).
    pub fn detach(&self, seat: &Seat, slot: Option<IpSlot>) -> bool {
        match self {
            Registry::Local(rooms) => rooms.detach(seat, slot),
            Registry::Shared(rooms) => rooms.detach(seat, slot),
        }
    }

    /// The grace period of a detached seat ran out: free it and tell the others.
    pub async fn expire(&self, seat: &Seat) {
        match self {
            Registry::Local(rooms) => rooms.expire(seat),
            Registry::Shared(rooms) => Box::pin(rooms.expire(seat)).await,
        }
    }

    /// Frees the seat and tells the others. Leaving twice is harmless.
    pub async fn leave(&self, seat: &Seat) {
        match self {
            Registry::Local(rooms) => rooms.leave(seat),
            Registry::Shared(rooms) => Box::pin(rooms.leave(seat)).await,
        }
    }

    /// Whether new people can be seated here now (Redis answers, when shared).
    pub fn ready(&self) -> bool {
        match self {
            Registry::Local(_) => true,
            Registry::Shared(rooms) => rooms.ready(),
        }
    }

    /// The server is stopping: hand its seats to the other servers, if any.
    pub async fn hand_off(&self) {
        if let Registry::Shared(rooms) = self {
            rooms.hand_off().await;
        }
    }

    /// Rooms with someone in them, and seats taken in them, as this server holds them.
    pub fn counts(&self) -> (usize, usize) {
        match self {
            Registry::Local(rooms) => rooms.counts(),
            Registry::Shared(rooms) => rooms.counts(),
        }
    }
}
