//! Files sent to people, each over a data channel of its own.

use super::*;
use web_sys::RtcDataChannel;

impl Session {
    /// Sends a file to the person picked, or to everyone connected: one transfer per
    /// person, each with its own progress row, each cancellable on its own.
    pub(super) fn send_file(&mut self, file: web_sys::File) {
        let to = self.view.send_to.try_get_untracked().flatten();
        // In the order people arrived, so the progress rows read like the tiles.
        let connected: Vec<PeerId> = self
            .machine
            .people()
            .map(|p| p.id)
            .filter(|id| to.is_none_or(|to| to == *id))
            .filter(|id| self.peers.get(id).is_some_and(|r| r.peer.is_connected()))
            .collect();
        if connected.is_empty() {
            self.view
                .notice
                .set(Some("Files can be sent once you are connected.".into()));
            return;
        }
        let limit = self.machine.terms().max_file_bytes;
        for id in connected {
            let transfer = self.take_transfer_id();
            let Some(remote) = self.peers.get(&id) else {
                continue;
            };
            let peer = remote.peer.name.clone();
            let connection = remote.peer.connection();
            match file_channel::send(connection, transfer, peer, file.clone(), limit, self.view) {
                Ok(channel) => {
                    self.view.notice.set(None);
                    self.transfers.insert(
                        transfer,
                        FileChannel {
                            peer: id,
                            channel,
                            incoming: false,
                        },
                    );
                }
                Err(why) => return self.view.notice.set(Some(why)),
            }
        }
    }

    pub(super) fn take_transfer_id(&mut self) -> u32 {
        self.next_transfer += 1;
        self.next_transfer - 1
    }
}

/// A file on its way, to or from `peer`.
pub(super) struct FileChannel {
    pub(super) peer: PeerId,
    pub(super) channel: RtcDataChannel,
    pub(super) incoming: bool,
}
