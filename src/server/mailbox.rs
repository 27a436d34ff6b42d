//! What waits to be written to one person: a queue bounded in bytes, in which every
//! sender has a fair share.
//!
//! A person's queue fills when their link is slow or stalled. What fills it must not
//! decide their fate: when the people signalling to them send more than their link takes,
//! it is *their* messages that are refused ([`Busy`], the sender is told
//! `peer_busy` and tries again later), never the reader that is removed. Only the server's
//! own news and replies (a few bytes each, bounded by the room's size and the reader's own
//! rate limit) can overflow the part kept for them, and then the reader is truly not
//! reading: its connection is kicked, and its seat held for a resume like any dropped
//! socket's.
//!
//! The same queue, with smaller bounds, holds what waits for a seat whose socket dropped.

use crate::protocol::signaling::{PeerId, MAX_ROOM_CAPACITY};
use axum::extract::ws::Utf8Bytes;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::Notify;

/// What one queued message costs beyond its text: its slot, and the text's allocation.
/// Counted so that a flood of tiny messages is bounded as surely as a few big ones.
pub const MESSAGE_OVERHEAD: usize = 64;

/// How much a queue holds, in bytes (texts plus [`MESSAGE_OVERHEAD`] each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// Everything queued.
    pub total: usize,
    /// Kept for the server's own messages (room news, replies): no peer may use it.
    pub reserved: usize,
}

impl Bounds {
    /// The most one peer may have queued: an equal part of what is not reserved, for the
    /// largest room (so a share does not shrink when someone arrives).
    pub const fn share(self) -> usize {
        (self.total - self.reserved) / (MAX_ROOM_CAPACITY - 1)
    }
}

/// What one sender may have waiting for one reader at the server, in bytes (each message
/// counts 64 bytes more than its text): past it, the sender gets `peer_busy`.
pub const PEER_SHARE_BYTES: usize = 128 * 1024;
/// The same, for a reader whose socket dropped and whose seat waits for a resume.
pub const HELD_SHARE_BYTES: usize = 32 * 1024;

/// A connected person's queue: 1 MiB, 128 KiB of it kept for the server, so each of the
/// seven others a room can hold may have 128 KiB waiting (two of the largest signals).
pub const MAILBOX: Bounds = Bounds {
    total: PEER_SHARE_BYTES * (MAX_ROOM_CAPACITY - 1) + (128 << 10),
    reserved: 128 << 10,
};

/// What waits for a held seat (its socket dropped, a resume may come): 256 KiB, 32 KiB
/// each (a renegotiation and its candidates fit).
pub const HELD: Bounds = Bounds {
    total: HELD_SHARE_BYTES * (MAX_ROOM_CAPACITY - 1) + (32 << 10),
    reserved: 32 << 10,
};

/// Who a queued message is from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sender {
    /// The server: replies, room news.
    Server,
    /// A signal relayed from this peer.
    Peer(PeerId),
}

/// A peer's message was not queued: the peer's share is full, and the peer may try again
/// once the reader catches up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Busy;

/// The server's message was not queued: the part kept for the server is full, so the
/// reader is not reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full;

/// Messages in order, with what each sender has queued.
#[derive(Default)]
pub struct FairQueue {
    messages: VecDeque<(Utf8Bytes, Sender)>,
    /// Bytes queued from the server, and from peers (at most a queue's bound, 1 MiB: 32
    /// bits are plenty, and every idle connection's bytes count).
    server_bytes: u32,
    peer_bytes: u32,
    /// Bytes queued per peer with anything queued (at most a room's worth).
    shares: Vec<(PeerId, usize)>,
}

fn cost(text: &Utf8Bytes) -> usize {
    text.len() + MESSAGE_OVERHEAD
}

/// A byte count within a queue's bound (see [`FairQueue::server_bytes`]).
fn small(bytes: usize) -> u32 {
    u32::try_from(bytes).expect("a message is at most max_message_bytes, far below 4 GiB")
}

impl FairQueue {
    /// Queues the server's `text`, if it fits within `bounds`.
    pub fn push_server(&mut self, text: Utf8Bytes, bounds: Bounds) -> Result<(), Full> {
        let cost = cost(&text);
        if self.bytes() + cost > bounds.total {
            return Err(Full);
        }
        self.server_bytes += small(cost);
        self.messages.push_back((text, Sender::Server));
        Ok(())
    }

    /// Queues `text` from peer `id`, if it fits in their share of `bounds`.
    pub fn push_peer(&mut self, id: PeerId, text: Utf8Bytes, bounds: Bounds) -> Result<(), Busy> {
        let cost = cost(&text);
        let queued = self
            .shares
            .iter()
            .find(|(p, _)| *p == id)
            .map_or(0, |s| s.1);
        if queued + cost > bounds.share()
            || self.peer_bytes as usize + cost > bounds.total - bounds.reserved
        {
            return Err(Busy);
        }
        match self.shares.iter_mut().find(|(p, _)| *p == id) {
            Some(share) => share.1 += cost,
            None => self.shares.push((id, cost)),
        }
        self.peer_bytes += small(cost);
        self.messages.push_back((text, Sender::Peer(id)));
        Ok(())
    }

    /// The oldest message, no longer counted.
    pub fn pop(&mut self) -> Option<Utf8Bytes> {
        self.pop_with_sender().map(|(_, text)| text)
    }

    /// The oldest message, and the peer who sent it (`None`: the server).
    pub fn pop_with_sender(&mut self) -> Option<(Option<PeerId>, Utf8Bytes)> {
        let (text, from) = self.messages.pop_front()?;
        let cost = cost(&text);
        match from {
            Sender::Server => self.server_bytes -= small(cost),
            Sender::Peer(id) => {
                self.peer_bytes -= small(cost);
                if let Some(at) = self.shares.iter().position(|(p, _)| *p == id) {
                    self.shares[at].1 -= cost;
                    if self.shares[at].1 == 0 {
                        self.shares.swap_remove(at);
                    }
                }
            }
        }
        if self.messages.is_empty() {
            // An idle connection keeps no buffer from its last burst.
            *self = FairQueue::default();
        }
        let from = match from {
            Sender::Server => None,
            Sender::Peer(id) => Some(id),
        };
        Some((from, text))
    }

    /// Bytes queued, overheads included.
    pub fn bytes(&self) -> usize {
        self.server_bytes as usize + self.peer_bytes as usize
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }
}

/// A connection as the rooms see it: its queue of encoded messages.
///
/// A locked queue and one `Notify` rather than a channel and a cancellation token: an
/// idle connection holds an empty deque instead of a preallocated block of slots, and
/// queuing or taking a message is one uncontended lock.
#[derive(Clone)]
pub struct Mailbox(Arc<Outbox>);

struct Outbox {
    queued: Mutex<Queued>,
    changed: Notify,
    /// One of the constant bounds ([`MAILBOX`], [`HELD`]): a reference, 8 bytes of every
    /// idle connection fewer.
    bounds: &'static Bounds,
}

#[derive(Default)]
struct Queued {
    messages: FairQueue,
    /// Why the connection must end, once it must.
    ended: Option<Kick>,
    /// A heartbeat is due (see [`Mailbox::beat`]).
    beat: bool,
    /// The room's door answered this connection's knock (see [`Mailbox::door_answered`]).
    door: bool,
}

/// What the connection's task has to do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Due {
    /// Write this message.
    Message(Utf8Bytes),
    /// The heartbeat: check the client was heard from lately, and ping it.
    Beat,
    /// The knock this connection waits with was answered (let in, turned away, timed out,
    /// or the room emptied): it takes its seat, or stops waiting, now, before it writes
    /// what it was told.
    DoorAnswered,
}

/// Why a connection is ended from outside its own task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kick {
    /// The part of its queue kept for the server filled up: it is not reading.
    NotReading,
    /// Kicked to resume elsewhere: the seat it holds is no longer this server's to keep
    /// (Redis forgot this server, or lost its data).
    SentAway,
    /// Another socket resumed its seat: one seat, one socket.
    Replaced,
    /// The room's host removed its person from the call.
    Removed,
    /// The server is shutting down: the goodbye goes before anything queued.
    ServerGoing,
}

/// How a peer's message fared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Posted {
    Queued,
    /// The sender's share is full (see [`Busy`]).
    Busy,
    /// The connection is ending: nothing more reaches it.
    Ended,
}

impl Mailbox {
    /// A mailbox that holds at most `bounds` of unwritten messages.
    pub fn new(bounds: &'static Bounds) -> Mailbox {
        Mailbox(Arc::new(Outbox {
            queued: Mutex::default(),
            changed: Notify::new(),
            bounds,
        }))
    }

    /// Queues the server's own `text`. If it does not fit, the client is not reading, and
    /// the connection is kicked. False when the message was not queued.
    pub fn post(&self, text: Utf8Bytes) -> bool {
        let mut queued = self.lock();
        if queued.ended.is_some() {
            return false;
        }
        let posted = queued.messages.push_server(text, *self.0.bounds).is_ok();
        if !posted {
            queued.ended = Some(Kick::NotReading);
        }
        drop(queued);
        self.0.changed.notify_one();
        posted
    }

    /// Queues a signal relayed from peer `from`.
    pub fn post_from(&self, from: PeerId, text: Utf8Bytes) -> Posted {
        let mut queued = self.lock();
        if queued.ended.is_some() {
            return Posted::Ended;
        }
        if queued
            .messages
            .push_peer(from, text, *self.0.bounds)
            .is_err()
        {
            return Posted::Busy;
        }
        drop(queued);
        self.0.changed.notify_one();
        Posted::Queued
    }

    /// What to do next: write a message, or the heartbeat (which goes first, so a busy
    /// connection is pinged on time too); or why the connection must end.
    pub async fn next(&self) -> Result<Due, Kick> {
        loop {
            // Made before looking, so a post in between is not missed.
            let changed = self.0.changed.notified();
            {
                let mut queued = self.lock();
                match queued.ended {
                    // Not reading: nothing more is written. Going: the goodbye first.
                    Some(kick @ (Kick::NotReading | Kick::ServerGoing)) => return Err(kick),
                    // Sent away or replaced: what was said before (`seat_taken`) goes first.
                    Some(kick) => return queued.messages.pop().map(Due::Message).ok_or(kick),
                    None => {}
                }
                if std::mem::take(&mut queued.door) {
                    return Ok(Due::DoorAnswered);
                }
                if std::mem::take(&mut queued.beat) {
                    return Ok(Due::Beat);
                }
                if let Some(text) = queued.messages.pop() {
                    return Ok(Due::Message(text));
                }
            }
            changed.await;
        }
    }

    /// The heartbeat is due. One task beats every open socket's mailbox (see
    /// `sockets.rs`) rather than each connection keeping a timer of its own: an idle
    /// connection's memory counts, and a timer is over a hundred bytes of it.
    pub fn beat(&self) {
        self.lock().beat = true;
        self.0.changed.notify_one();
    }

    /// The knock this connection waits with was answered: its task settles it at once
    /// (pushed, not found at the connection's next message).
    pub fn door_answered(&self) {
        self.lock().door = true;
        self.0.changed.notify_one();
    }

    /// Resolves once the connection must end.
    pub async fn kicked(&self) {
        loop {
            let changed = self.0.changed.notified();
            if self.is_kicked() {
                return;
            }
            changed.await;
        }
    }

    pub fn is_kicked(&self) -> bool {
        self.lock().ended.is_some()
    }

    /// Ends the connection for `why` (unless it is ending already).
    pub fn kick(&self, why: Kick) {
        let mut queued = self.lock();
        queued.ended.get_or_insert(why);
        drop(queued);
        self.0.changed.notify_one();
    }

    /// The oldest queued message, without waiting (kicked or not).
    pub fn try_next(&self) -> Option<Utf8Bytes> {
        self.lock().messages.pop()
    }

    /// Bytes waiting to be written, overheads included.
    pub fn queued_bytes(&self) -> usize {
        self.lock().messages.bytes()
    }

    fn lock(&self) -> MutexGuard<'_, Queued> {
        // Every change to the queue completes under the lock; nothing can panic inside.
        self.0.queued.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: usize) -> Utf8Bytes {
        "x".repeat(bytes).into()
    }

    const SMALL: Bounds = Bounds {
        total: 7 * 1000 + 500,
        reserved: 500,
    };

    #[test]
    fn the_bounds_are_the_documented_ones() {
        assert_eq!(MAILBOX.total, 1 << 20);
        assert_eq!(MAILBOX.share(), PEER_SHARE_BYTES);
        assert_eq!(HELD.total, 256 << 10);
        assert_eq!(HELD.share(), HELD_SHARE_BYTES);
    }

    #[test]
    fn each_peer_is_refused_past_its_own_share_while_the_others_still_fit() {
        assert_eq!(SMALL.share(), 1000);
        let mut queue = FairQueue::default();
        let (flooder, quiet) = (PeerId(1), PeerId(2));
        let message = 400 - MESSAGE_OVERHEAD;
        assert_eq!(queue.push_peer(flooder, text(message), SMALL), Ok(()));
        assert_eq!(queue.push_peer(flooder, text(message), SMALL), Ok(()));
        assert_eq!(queue.push_peer(flooder, text(message), SMALL), Err(Busy));
        assert_eq!(queue.push_peer(quiet, text(message), SMALL), Ok(()));
        assert_eq!(queue.push_server(text(10), SMALL), Ok(()));
        // Reading one of the flooder's frees its share again.
        assert_eq!(queue.pop().map(|t| t.len()), Some(message));
        assert_eq!(queue.push_peer(flooder, text(message), SMALL), Ok(()));
    }

    #[test]
    fn peers_together_never_take_the_part_kept_for_the_server() {
        let mut queue = FairQueue::default();
        for id in 0..7 {
            let message = text(1000 - MESSAGE_OVERHEAD);
            assert_eq!(queue.push_peer(PeerId(id), message, SMALL), Ok(()));
        }
        assert_eq!(queue.push_peer(PeerId(8), text(10), SMALL), Err(Busy));
        assert_eq!(queue.push_server(text(400), SMALL), Ok(()));
        assert_eq!(queue.push_server(text(400), SMALL), Err(Full));
    }

    #[test]
    fn a_drained_queue_keeps_nothing() {
        let mut queue = FairQueue::default();
        queue.push_peer(PeerId(1), text(100), SMALL).unwrap();
        queue.push_server(text(100), SMALL).unwrap();
        assert_eq!(queue.bytes(), 2 * (100 + MESSAGE_OVERHEAD));
        queue.pop();
        queue.pop();
        assert_eq!(queue.bytes(), 0);
        assert!(queue.shares.is_empty() && queue.messages.capacity() == 0);
    }

    #[test]
    fn a_peer_that_overfills_a_mailbox_is_refused_and_the_reader_is_not_kicked() {
        let mailbox = Mailbox::new(&SMALL);
        let from = PeerId(3);
        assert_eq!(mailbox.post_from(from, text(900)), Posted::Queued);
        assert_eq!(mailbox.post_from(from, text(900)), Posted::Busy);
        assert!(!mailbox.is_kicked());
        // The server's own news overflowing is a reader that does not read.
        assert!(mailbox.post(text(5000)));
        assert!(!mailbox.post(text(2000)));
        assert!(mailbox.is_kicked());
        assert_eq!(mailbox.post_from(from, text(1)), Posted::Ended);
    }

    #[test]
    fn a_replaced_connection_is_told_what_waited_before_it_ends() {
        let mailbox = Mailbox::new(&MAILBOX);
        assert!(mailbox.post(text(3)));
        mailbox.kick(Kick::Replaced);
        assert!(!mailbox.post(text(3)), "nothing more is queued");
        let next = || futures::executor::block_on(mailbox.next());
        assert_eq!(next(), Ok(Due::Message(text(3))));
        assert_eq!(next(), Err(Kick::Replaced));
    }

    #[test]
    fn a_beat_comes_before_what_is_queued_and_once() {
        let mailbox = Mailbox::new(&MAILBOX);
        assert!(mailbox.post(text(3)));
        mailbox.beat();
        mailbox.beat();
        let next = || futures::executor::block_on(mailbox.next());
        assert_eq!(next(), Ok(Due::Beat));
        assert_eq!(next(), Ok(Due::Message(text(3))));
        mailbox.beat();
        mailbox.kick(Kick::ServerGoing);
        assert_eq!(
            next(),
            Err(Kick::ServerGoing),
            "an ending comes before a beat"
        );
    }

    #[test]
    fn the_first_reason_to_end_is_kept() {
        let mailbox = Mailbox::new(&MAILBOX);
        mailbox.kick(Kick::Replaced);
        mailbox.kick(Kick::SentAway);
        let next = futures::executor::block_on(mailbox.next());
        assert_eq!(next, Err(Kick::Replaced));
    }
}
