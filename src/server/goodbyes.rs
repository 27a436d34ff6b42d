//! Every open signaling socket's mailbox, so that shutdown can tell each one to say
//! goodbye. A kick through the mailbox the socket's task waits on anyway costs a slab
//! entry per socket, where a shutdown future of its own in every task cost 144 bytes.

use crate::server::mailbox::{Kick, Mailbox};
use slab::Slab;
use std::sync::{Mutex, MutexGuard, PoisonError};

#[derive(Default)]
pub struct Goodbyes(Mutex<Open>);

#[derive(Default)]
struct Open {
    going: bool,
    sockets: Slab<Mailbox>,
}

/// A socket's place in [`Goodbyes`]: given back when dropped.
pub struct Listed<'a> {
    goodbyes: &'a Goodbyes,
    key: usize,
}

impl Goodbyes {
    /// Lists `mailbox` until the returned place is dropped; kicked at once if the server
    /// is shutting down already.
    pub fn list(&self, mailbox: &Mailbox) -> Listed<'_> {
        let mut open = self.lock();
        if open.going {
            mailbox.kick(Kick::ServerGoing);
        }
        Listed {
            goodbyes: self,
            key: open.sockets.insert(mailbox.clone()),
        }
    }

    /// Whether the server is shutting down.
    pub fn going(&self) -> bool {
        self.lock().going
    }

    /// Tells every open socket, and every one opened from now on, to say goodbye.
    pub fn all_go(&self) {
        let mut open = self.lock();
        open.going = true;
        for (_, mailbox) in &open.sockets {
            mailbox.kick(Kick::ServerGoing);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Open> {
        // Insert, remove and a loop of kicks: nothing inside can panic.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Listed<'_> {
    fn drop(&mut self) {
        self.goodbyes.lock().sockets.try_remove(self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::mailbox::MAILBOX;

    #[test]
    fn shutdown_kicks_the_open_sockets_and_every_later_one_but_not_those_gone() {
        let goodbyes = Goodbyes::default();
        let (open, gone) = (Mailbox::new(MAILBOX), Mailbox::new(MAILBOX));
        let _open = goodbyes.list(&open);
        drop(goodbyes.list(&gone));
        assert!(!goodbyes.going());
        goodbyes.all_go();
        assert!(goodbyes.going());
        assert!(open.is_kicked());
        assert!(!gone.is_kicked());
        let late = Mailbox::new(MAILBOX);
        let _late = goodbyes.list(&late);
        assert!(late.is_kicked());
        assert_eq!(goodbyes.lock().sockets.len(), 2);
    }
}
