//! Files, each over a data channel of its own. Who a file goes to and which files are
//! taken is the machine's to decide (`mesh::transfers`); this carries it out with the
//! browser's files and channels, and says when each transfer is over.

use super::*;
use crate::mesh::Command;

impl Session {
    /// Sends a file to the person picked, or to everyone connected: one transfer per
    /// person (as the machine decides), each with its own progress row, each cancellable
    /// on its own.
    pub(super) async fn send_file(&mut self, file: web_sys::File) {
        let to = self.view.send_to.try_get_untracked().flatten();
        self.outgoing_file = Some(file);
        self.input(Input::Command(Command::SendFile { to })).await;
        self.outgoing_file = None;
    }

    /// Starts sending the file being sent to `peer`, as `transfer`.
    pub(super) fn start_sending(&mut self, peer: PeerId, transfer: u32) -> Option<Input> {
        let (Some(file), Some(remote)) = (&self.outgoing_file, self.peers.get(&peer)) else {
            return Some(Input::TransferEnded(transfer));
        };
        let limit = self.machine.terms().max_file_bytes;
        let name = remote.peer.name.clone();
        let connection = remote.peer.connection();
        let ended = self.on_transfer_end(transfer);
        match file_channel::send(
            connection,
            transfer,
            name,
            file.clone(),
            limit,
            self.view,
            ended,
        ) {
            Ok(channel) => {
                self.view.notice.set(None);
                self.transfers
                    .insert(transfer, FileChannel { peer, channel });
                None
            }
            Err(why) => {
                self.view.notice.set(Some(why));
                Some(Input::TransferEnded(transfer))
            }
        }
    }

    /// Takes the file `peer` offered on the channel just opened, as `transfer`.
    pub(super) fn start_receiving(&mut self, peer: PeerId, transfer: u32) -> Option<Input> {
        let (Some(channel), Some(remote)) = (self.offered_file.take(), self.peers.get(&peer))
        else {
            return Some(Input::TransferEnded(transfer));
        };
        let name = remote.peer.name.clone();
        let limit = self.machine.terms().max_file_bytes;
        let received = self.received.clone();
        let ended = self.on_transfer_end(transfer);
        file_channel::receive(
            channel.clone(),
            transfer,
            name,
            limit,
            self.view,
            received,
            ended,
        );
        self.transfers
            .insert(transfer, FileChannel { peer, channel });
        None
    }

    /// Closes, unread, the file channel just offered.
    pub(super) fn refuse_file(&mut self) {
        if let Some(channel) = self.offered_file.take() {
            channel.close();
        }
    }

    /// What tells the session that this side is done with `transfer`.
    fn on_transfer_end(&self, transfer: u32) -> impl FnOnce() + 'static {
        let events = self.events.clone();
        move || {
            let _ = events.unbounded_send(Event::TransferEnded(transfer));
        }
    }
}

/// A file on its way, to or from `peer`.
pub(super) struct FileChannel {
    pub(super) peer: PeerId,
    pub(super) channel: web_sys::RtcDataChannel,
}
