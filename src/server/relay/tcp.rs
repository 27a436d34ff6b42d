//! TURN over TCP (`turn:host:port?transport=tcp`), for networks that let no UDP out.
//!
//! The TURN crate reads and writes whole messages through one datagram-like socket: every
//! message with the address it came from, every answer to an address. This listener gives
//! it that over TCP: it accepts connections, cuts each byte stream into messages (a STUN
//! message is its 20-byte header plus the length in it; channel data is its 4-byte header
//! plus the length in it, padded to 4 bytes over TCP, RFC 8656 §12.5) and hands them on
//! tagged with the connection's address; an answer goes back on the connection of the
//! address it is for. A connection that sends anything else, or a message larger than
//! the relay takes, is closed; one silent for [`IDLE`] too.

use super::gate::MAX_MESSAGE_BYTES;
use async_trait::async_trait;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use webrtc_util::Conn;

/// A connection that sends nothing for this long is closed. Browsers refresh their
/// allocation every few minutes and keep channels alive more often than that.
pub const IDLE: Duration = Duration::from_secs(15 * 60);
/// Open TURN connections over TCP, at most; past it new ones are closed at once.
pub const MAX_CONNECTIONS: usize = 4096;
/// Messages read and not yet handled by the relay, from all connections.
const INBOX: usize = 1024;
/// Answers waiting to be written to one connection; past it the newest is dropped, as a
/// datagram would be.
const OUTBOX: usize = 256;

/// What follows a STUN message's length (RFC 8489 §5).
const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];

type Outboxes = Arc<Mutex<HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>>>;

/// A TCP listener the TURN crate uses as if it were one UDP socket.
pub struct TcpTurn {
    local: SocketAddr,
    inbox: tokio::sync::Mutex<mpsc::Receiver<(Vec<u8>, SocketAddr)>>,
    outboxes: Outboxes,
    accepting: tokio::task::JoinHandle<()>,
}

impl TcpTurn {
    pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpTurn> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let (to_inbox, inbox) = mpsc::channel(INBOX);
        let outboxes = Outboxes::default();
        let accepting = tokio::spawn(accept(listener, to_inbox, outboxes.clone()));
        Ok(TcpTurn {
            local,
            inbox: tokio::sync::Mutex::new(inbox),
            outboxes,
            accepting,
        })
    }

    /// Stops accepting and closes every connection.
    pub fn shut(&self) {
        self.accepting.abort();
        self.outboxes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
    }
}

async fn accept(
    listener: TcpListener,
    to_inbox: mpsc::Sender<(Vec<u8>, SocketAddr)>,
    outboxes: Outboxes,
) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            // Out of file descriptors, say: wait a little rather than spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let (to_outbox, outbox) = mpsc::channel(OUTBOX);
        {
            let mut open = outboxes
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if open.len() >= MAX_CONNECTIONS {
                continue;
            }
            open.insert(peer, to_outbox);
        }
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve(
            stream,
            peer,
            to_inbox.clone(),
            outbox,
            outboxes.clone(),
        ));
    }
}

/// One connection: messages in, answers out, until either side ends or it idles.
async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    to_inbox: mpsc::Sender<(Vec<u8>, SocketAddr)>,
    mut outbox: mpsc::Receiver<Vec<u8>>,
    outboxes: Outboxes,
) {
    let (mut reader, mut writer) = stream.into_split();
    let reading = async {
        loop {
            match tokio::time::timeout(IDLE, read_message(&mut reader)).await {
                Ok(Ok(Some(message))) => {
                    if to_inbox.send((message, peer)).await.is_err() {
                        return;
                    }
                }
                _ => return,
            }
        }
    };
    let writing = async {
        while let Some(answer) = outbox.recv().await {
            if writer.write_all(&answer).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        () = reading => {}
        () = writing => {}
    }
    outboxes
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .remove(&peer);
}

/// How many bytes the message starting with this 4-byte head has in all, on a TCP
/// stream; `None` if it is neither STUN nor channel data.
pub fn framed_length(head: [u8; 4]) -> Option<usize> {
    let length = usize::from(u16::from_be_bytes([head[2], head[3]]));
    match head[0] >> 6 {
        // STUN: 20-byte header; its attributes are whole 4-byte words.
        0b00 if length % 4 == 0 => Some(20 + length),
        // Channel data (channels 0x4000-0x7FFF), padded to 4 bytes.
        0b01 => Some(4 + length.div_ceil(4) * 4),
        _ => None,
    }
}

/// The next whole message of the stream, `None` at its end; an error for what is not
/// TURN or is too big.
async fn read_message(
    reader: &mut (impl AsyncReadExt + Unpin),
) -> std::io::Result<Option<Vec<u8>>> {
    let mut head = [0u8; 4];
    match reader.read_exact(&mut head).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let length = framed_length(head)
        .filter(|&length| length <= MAX_MESSAGE_BYTES)
        .ok_or_else(|| std::io::Error::other("not a TURN message, or too big"))?;
    let mut message = vec![0u8; length];
    message[..4].copy_from_slice(&head);
    reader.read_exact(&mut message[4..]).await?;
    // A STUN message carries the magic cookie next: without it, the stream is something
    // else (TLS, say) and the rest of it cannot be cut into messages.
    if head[0] >> 6 == 0 && message[4..8] != MAGIC_COOKIE {
        return Err(std::io::Error::other("not a STUN message"));
    }
    Ok(Some(message))
}

#[async_trait]
impl Conn for TcpTurn {
    async fn connect(&self, _addr: SocketAddr) -> webrtc_util::Result<()> {
        Err(webrtc_util::Error::Other(
            "a listener connects nowhere".into(),
        ))
    }

    async fn recv(&self, _buf: &mut [u8]) -> webrtc_util::Result<usize> {
        Err(webrtc_util::Error::Other("use recv_from".into()))
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        let mut inbox = self.inbox.lock().await;
        loop {
            let (message, from) = inbox
                .recv()
                .await
                .ok_or_else(|| webrtc_util::Error::Other("the listener has stopped".into()))?;
            // The relay reads into a buffer of MAX_MESSAGE_BYTES: longer ones never come.
            if let Some(into) = buf.get_mut(..message.len()) {
                into.copy_from_slice(&message);
                return Ok((message.len(), from));
            }
        }
    }

    async fn send(&self, _buf: &[u8]) -> webrtc_util::Result<usize> {
        Err(webrtc_util::Error::Other("use send_to".into()))
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> webrtc_util::Result<usize> {
        let outbox = self
            .outboxes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&target)
            .cloned();
        // Gone, or not reading: dropped, as a datagram to a silent address would be.
        if let Some(outbox) = outbox {
            let _ = outbox.try_send(buf.to_vec());
        }
        Ok(buf.len())
    }

    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        Ok(self.local)
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        None
    }

    async fn close(&self) -> webrtc_util::Result<()> {
        // The TURN crate closes the socket of an allocation when the allocation ends:
        // this one is shared by every connection, so it stays open ([`TcpTurn::shut`]).
        Ok(())
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stun_and_channel_data_are_cut_at_their_lengths_and_anything_else_is_refused() {
        // A STUN header announcing 8 bytes of attributes.
        assert_eq!(framed_length([0x00, 0x03, 0x00, 0x08]), Some(28));
        // Channel 0x4000 with 5 bytes of data: padded to 8.
        assert_eq!(framed_length([0x40, 0x00, 0x00, 0x05]), Some(12));
        assert_eq!(framed_length([0x40, 0x00, 0x00, 0x08]), Some(12));
        // TLS looks like STUN this far (its missing magic cookie closes the connection);
        // HTTP, and STUN whose length is not whole words, do not.
        assert_eq!(framed_length([0x16, 0x03, 0x01, 0x00]), Some(20 + 256));
        // "GET " reads as channel data far longer than the relay takes: refused too.
        assert!(framed_length(*b"GET ").is_some_and(|n| n > MAX_MESSAGE_BYTES));
        assert_eq!(framed_length([0x00, 0x01, 0x00, 0x07]), None);
        assert_eq!(framed_length([0xc0, 0, 0, 0]), None);
    }
}
