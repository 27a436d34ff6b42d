//! Every open signaling socket's mailbox, for what is said to all of them: the heartbeat,
//! and at shutdown the goodbye. Both go through the mailbox the socket's task waits on
//! anyway, which costs a slab entry per socket, where a timer and a shutdown future of
//! its own in every task cost 112 and 144 bytes of every idle connection.

use crate::server::mailbox::{Kick, Mailbox};
use slab::Slab;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

#[derive(Default)]
pub struct OpenSockets(Mutex<Open>);

#[derive(Default)]
struct Open {
    going: bool,
    sockets: Slab<Mailbox>,
}

/// A socket's place in [`OpenSockets`]: given back when dropped.
pub struct Listed<'a> {
    sockets: &'a OpenSockets,
    key: usize,
}

impl OpenSockets {
    /// Lists `mailbox` until the returned place is dropped; kicked at once if the server
    /// is shutting down already.
    pub fn list(&self, mailbox: &Mailbox) -> Listed<'_> {
        let mut open = self.lock();
        if open.going {
            mailbox.kick(Kick::ServerGoing);
        }
        Listed {
            sockets: self,
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

    /// Beats every open socket every `interval`, until the server is shutting down (a
    /// connection that has not been heard from for `heartbeat_timeout` at a beat is
    /// closed; the others are pinged).
    pub async fn heartbeat(&self, interval: Duration) {
        let mut beats = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        beats.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            beats.tick().await;
            let open = self.lock();
            if open.going {
                return;
            }
            for (_, mailbox) in &open.sockets {
                mailbox.beat();
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Open> {
        // Insert, remove and a loop of kicks: nothing inside can panic.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Listed<'_> {
    fn drop(&mut self) {
        self.sockets.lock().sockets.try_remove(self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::mailbox::{Due, MAILBOX};

    #[test]
    fn shutdown_kicks_the_open_sockets_and_every_later_one_but_not_those_gone() {
        let sockets = OpenSockets::default();
        let (open, gone) = (Mailbox::new(&MAILBOX), Mailbox::new(&MAILBOX));
        let _open = sockets.list(&open);
        drop(sockets.list(&gone));
        assert!(!sockets.going());
        sockets.all_go();
        assert!(sockets.going());
        assert!(open.is_kicked());
        assert!(!gone.is_kicked());
        let late = Mailbox::new(&MAILBOX);
        let _late = sockets.list(&late);
        assert!(late.is_kicked());
        assert_eq!(sockets.lock().sockets.len(), 2);
    }

    #[tokio::test]
    async fn every_open_socket_is_beaten_each_interval_until_the_server_goes() {
        let sockets = std::sync::Arc::new(OpenSockets::default());
        let (open, gone) = (Mailbox::new(&MAILBOX), Mailbox::new(&MAILBOX));
        let _open = sockets.list(&open);
        drop(sockets.list(&gone));
        let beating = tokio::spawn({
            let sockets = sockets.clone();
            async move { sockets.heartbeat(Duration::from_millis(200)).await }
        });
        let beat = || tokio::time::timeout(Duration::from_secs(5), open.next());
        assert!(
            futures::poll!(std::pin::pin!(open.next())).is_pending(),
            "not at once"
        );
        assert_eq!(beat().await, Ok(Ok(Due::Beat)));
        assert_eq!(beat().await, Ok(Ok(Due::Beat)), "and again");
        assert!(futures::poll!(std::pin::pin!(gone.next())).is_pending());
        sockets.all_go();
        let stopped = tokio::time::timeout(Duration::from_secs(5), beating).await;
        assert!(stopped.is_ok(), "the heartbeat stops with the server");
    }
}
