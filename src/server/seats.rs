//! What both shells keep of a seat held in this process (its connection's mailbox, or what
//! waits for it), and how a seat's welcome is written (`joined`, `resumed`, `seat_taken`):
//! the parts of a room that are not the room model (`room`) but deliveries and tokens.

use super::ice::IceConfig;
use super::limits::IpSlot;
use super::mailbox::{Busy, FairQueue, Kick, Mailbox, Posted, HELD};
use super::room::seat::{RoomState, Seat};
use super::tokens::ResumeTokens;
use crate::protocol::signaling::{PeerId, PeerInfo, ServerMessage};
use axum::extract::ws::Utf8Bytes;
use std::time::SystemTime;

/// The JSON text of a server message.
pub fn encode(message: &ServerMessage) -> Utf8Bytes {
    // Strings, numbers and lists only: serializing cannot fail.
    serde_json::to_string(message)
        .expect("server messages always serialize")
        .into()
}

/// A seat held in this process: its connection's mailbox, or, while the connection is
/// gone, what waits for it. Shared by both registries (`rooms`, `cluster`).
pub(in crate::server) struct Attachment {
    /// `None` while the seat is detached (its connection dropped).
    mailbox: Option<Mailbox>,
    /// What a detached (or ending) seat keeps; boxed, made only then: most seats are
    /// attached, and every idle seat's bytes count.
    away: Option<Box<Away>>,
    epoch: u64,
}

#[derive(Default)]
struct Away {
    /// What waits for the seat, within [`HELD`]'s bounds.
    backlog: FairQueue,
    /// While detached: the per-address slot the dropped connection held, so that a held
    /// seat counts against its address's limit until it is resumed or freed.
    held: Option<IpSlot>,
}

impl Attachment {
    pub(in crate::server) fn new(mailbox: &Mailbox) -> Attachment {
        Self::at_epoch(mailbox, 0)
    }

    /// A new attachment whose epochs start at `epoch`: a seat that comes back to a server
    /// it left must not match a connection from its earlier stay.
    pub(in crate::server) fn at_epoch(mailbox: &Mailbox, epoch: u64) -> Attachment {
        Attachment {
            mailbox: Some(mailbox.clone()),
            away: None,
            epoch,
        }
    }

    pub(in crate::server) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// What the seat keeps while detached, made on first need.
    fn away(&mut self) -> &mut Away {
        self.away.get_or_insert_with(Box::default)
    }

    /// What waited for the detached seat, and its connection if any: the seat moved on.
    pub(in crate::server) fn hand_over(
        mut self,
    ) -> (Option<Mailbox>, Vec<(Option<PeerId>, Utf8Bytes)>) {
        let waiting = match self.away.as_mut() {
            Some(away) => std::iter::from_fn(|| away.backlog.pop_with_sender()).collect(),
            None => Vec::new(),
        };
        (self.mailbox, waiting)
    }

    /// A seat nobody holds yet (taken back after a restart, before `take_over`), last
    /// held as attachment `epoch`.
    pub(in crate::server) fn vacant(epoch: u64) -> Attachment {
        Attachment {
            mailbox: None,
            away: None,
            epoch,
        }
    }

    /// The seat went to another page: a connection still holding it is told `notice`
    /// (`seat_taken`), then closed.
    pub(in crate::server) fn give_way(self, notice: Option<Utf8Bytes>) {
        if let Some(mailbox) = self.mailbox {
            if let Some(notice) = notice {
                mailbox.post(notice);
            }
            mailbox.kick(Kick::Replaced);
        }
    }

    /// The host removed the seat's person: a connection still holding it is told `notice`
    /// (`removed`), then closed.
    pub(in crate::server) fn removed(&mut self, notice: Utf8Bytes) {
        if let Some(mailbox) = self.mailbox.take() {
            mailbox.post(notice);
            mailbox.kick(Kick::Removed);
        }
    }

    /// Queues a signal from peer `from`; `Busy` when their share of this seat's queue is
    /// full (the sender is refused with `peer_busy`; the reader keeps its seat).
    ///
    /// A connection that is ending (kicked: not reading, or replaced) no longer holds the
    /// seat: what comes for it waits as for a held seat, until its socket's task detaches
    /// it or a resume takes it.
    pub(in crate::server) fn deliver_signal(
        &mut self,
        from: PeerId,
        text: Utf8Bytes,
    ) -> Result<(), Busy> {
        if let Some(mailbox) = &self.mailbox {
            match mailbox.post_from(from, text.clone()) {
                Posted::Queued => return Ok(()),
                Posted::Busy => return Err(Busy),
                Posted::Ended => self.mailbox = None,
            }
        }
        self.away().backlog.push_peer(from, text, HELD)
    }

    /// Queues the server's news; false when a held seat's queue cannot take it (nobody has
    /// read it for so long that the seat is to be freed). A connected reader that cannot
    /// take it is kicked for not reading, and then holds the news like a held seat.
    pub(in crate::server) fn deliver_news(&mut self, text: Utf8Bytes) -> bool {
        if let Some(mailbox) = &self.mailbox {
            if mailbox.post(text.clone()) {
                return true;
            }
            self.mailbox = None;
        }
        self.away().backlog.push_server(text, HELD).is_ok()
    }

    /// Whether this is the attachment `seat` was given (a stale connection's is not).
    pub(in crate::server) fn is(&self, seat: &Seat) -> bool {
        self.epoch == seat.epoch
    }

    pub(in crate::server) fn is_detached(&self) -> bool {
        self.mailbox.is_none()
    }

    /// The connection dropped; `slot` (its per-address slot) is held with the seat.
    pub(in crate::server) fn detach(&mut self, slot: Option<IpSlot>) {
        self.mailbox = None;
        self.away().held = slot;
    }

    /// Gives the seat to a new connection: posts `first`, then what waited, and returns
    /// the new epoch; `None` if the mailbox could not take them all (not reading). A
    /// connection still holding the seat is told `take_back` (`seat_taken`, made only
    /// then) and ended: one seat, one socket.
    pub(in crate::server) fn take_over(
        &mut self,
        mailbox: &Mailbox,
        first: Utf8Bytes,
        take_back: impl FnOnce() -> Utf8Bytes,
    ) -> Option<u64> {
        self.epoch += 1;
        // What waited goes to the new connection, which holds a slot of its own.
        let mut away = self.away.take();
        if let Some(old) = self.mailbox.replace(mailbox.clone()) {
            old.post(take_back());
            old.kick(Kick::Replaced);
        }
        std::iter::once(first)
            .chain(std::iter::from_fn(|| away.as_mut()?.backlog.pop()))
            .all(|text| mailbox.post(text))
            .then_some(self.epoch)
    }
}

/// What a room needs to know of the server's configuration.
pub struct RoomRules {
    pub capacity: usize,
    pub ice: std::sync::Arc<IceConfig>,
    pub tokens: ResumeTokens,
    pub max_file_bytes: u64,
    pub upload_budget: u64,
}

impl RoomRules {
    /// What a newcomer `you` in `room` is told, seated as attachment `gen`: who is there,
    /// and how to call them.
    pub(in crate::server) fn joined(
        &self,
        room: &str,
        you: &PeerInfo,
        gen: u64,
        peers: Vec<PeerInfo>,
        state: RoomState,
    ) -> ServerMessage {
        ServerMessage::Joined {
            host: state.host,
            locked: state.locked,
            you: you.id,
            name: you.name.clone(),
            polite: !peers.is_empty(),
            peers,
            token: self.tokens.issue(room, you.id, &you.name, gen),
            ice_servers: self.ice.servers_for(you.id, SystemTime::now()),
            ice_transport_policy: self.ice.policy,
            max_file_bytes: self.max_file_bytes,
            upload_budget: self.upload_budget,
        }
    }

    /// What a socket that held `you`'s seat is told when another takes it: `seat_taken`,
    /// with the token of attachment `gen` to take the call back.
    pub(in crate::server) fn seat_taken(&self, room: &str, you: &PeerInfo, gen: u64) -> Utf8Bytes {
        let token = self.tokens.issue(room, you.id, &you.name, gen);
        encode(&ServerMessage::SeatTaken { token })
    }

    /// What `you` is told on taking their seat back, as its attachment `gen`.
    pub(in crate::server) fn resumed(
        &self,
        room: &str,
        you: &PeerInfo,
        gen: u64,
        peers: Vec<PeerInfo>,
        state: RoomState,
    ) -> ServerMessage {
        ServerMessage::Resumed {
            host: state.host,
            locked: state.locked,
            you: you.id,
            peers,
            token: self.tokens.issue(room, you.id, &you.name, gen),
            ice_servers: self.ice.servers_for(you.id, SystemTime::now()),
            ice_transport_policy: self.ice.policy,
            max_file_bytes: self.max_file_bytes,
            upload_budget: self.upload_budget,
        }
    }
}
