//! The signaling WebSocket, seen from the browser.
//!
//! Sending never blocks the session: messages are queued for a writer task, which waits
//! for the socket to open. Dropping a [`SignalingSocket`] stops its reader and writer,
//! and gloo-net closes the socket when both halves are gone (its `close()` on the sink
//! half does nothing).

use crate::early_media::EarlySocket;
use crate::protocol::signaling::{ClientMessage, ServerMessage, SIGNALING_PATH};
use futures::channel::{mpsc, oneshot};
use futures::future::{select, Either, FutureExt};
use futures::{SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message};
use leptos::task::spawn_local;

/// What a socket reports, tagged with its `generation` so that news from a socket
/// already replaced can be told apart.
pub enum SocketEvent {
    Message(u32, ServerMessage),
    Closed(u32),
}

/// One connection to the server. Incoming messages arrive as [`SocketEvent::Message`]
/// and the end of the socket as [`SocketEvent::Closed`].
pub struct SignalingSocket {
    outgoing: mpsc::UnboundedSender<ClientMessage>,
    /// Dropped with the socket: tells both tasks to stop.
    _stop: oneshot::Sender<()>,
}

impl SignalingSocket {
    pub fn connect(
        events: mpsc::UnboundedSender<SocketEvent>,
        generation: u32,
        room: &str,
    ) -> Result<SignalingSocket, String> {
        let socket = WebSocket::open(&signaling_url(room)?).map_err(|e| e.to_string())?;
        Ok(Self::run(socket, events, generation))
    }

    /// Takes over the socket the page's script opened and joined on (`early_media`):
    /// what the server sent on it so far is reported first, in order, then what follows.
    pub fn adopt(
        events: mpsc::UnboundedSender<SocketEvent>,
        generation: u32,
        early: EarlySocket,
    ) -> Option<SignalingSocket> {
        for text in &early.kept {
            if let Some(message) = decode(text) {
                let _ = events.unbounded_send(SocketEvent::Message(generation, message));
            }
        }
        // Closed before the app came: no close event will follow, so it is reported here.
        let closing = early.socket.ready_state() >= web_sys::WebSocket::CLOSING;
        let socket = (!closing)
            .then(|| WebSocket::try_from(early.socket.clone()).ok())
            .flatten();
        match socket {
            Some(socket) => Some(Self::run(socket, events, generation)),
            None => {
                let _ = early.socket.close();
                let _ = events.unbounded_send(SocketEvent::Closed(generation));
                None
            }
        }
    }

    fn run(
        socket: WebSocket,
        events: mpsc::UnboundedSender<SocketEvent>,
        generation: u32,
    ) -> SignalingSocket {
        let (mut sink, stream) = socket.split();
        let (stop_tx, stop) = oneshot::channel::<()>();
        let stop = stop.shared();
        let (outgoing, mut queue) = mpsc::unbounded::<ClientMessage>();

        let stopped = stop.clone();
        spawn_local(async move {
            while let Either::Left((Some(message), _)) = select(queue.next(), stopped.clone()).await
            {
                let text = match serde_json::to_string(&message) {
                    Ok(text) => text,
                    Err(e) => {
                        leptos::logging::error!("cannot encode {message:?}: {e}");
                        continue;
                    }
                };
                // Waits for the socket to open; gives up if the socket is dropped first.
                match select(sink.send(Message::Text(text)), stopped.clone()).await {
                    Either::Left((Ok(()), _)) => {}
                    _ => break,
                }
            }
        });

        spawn_local(async move {
            let mut incoming = stream.take_until(stop);
            while let Some(frame) = incoming.next().await {
                match frame {
                    Ok(Message::Text(text)) => {
                        if let Some(message) = decode(&text) {
                            if events
                                .unbounded_send(SocketEvent::Message(generation, message))
                                .is_err()
                            {
                                return;
                            }
                        }
                    }
                    Ok(Message::Bytes(_)) => {}
                    Err(e) => {
                        leptos::logging::warn!("signaling socket: {e}");
                        break;
                    }
                }
            }
            let _ = events.unbounded_send(SocketEvent::Closed(generation));
        });

        SignalingSocket {
            outgoing,
            _stop: stop_tx,
        }
    }

    /// Queues `message`; it is sent once the socket is open, in order.
    pub fn send(&self, message: ClientMessage) {
        let _ = self.outgoing.unbounded_send(message);
    }
}

fn decode(text: &str) -> Option<ServerMessage> {
    serde_json::from_str(text)
        .map_err(|e| leptos::logging::warn!("unreadable signaling message: {e}"))
        .ok()
}

/// `ws://host/ws?room=<room>` or `wss://…`, from the page's own address. The server
/// ignores the room there; a load balancer can use it to keep a room on one server.
fn signaling_url(room: &str) -> Result<String, String> {
    let location = web_sys::window().ok_or("no window")?.location();
    let protocol = location.protocol().map_err(|_| "no page protocol")?;
    let host = location.host().map_err(|_| "no page host")?;
    let scheme = if protocol == "https:" { "wss" } else { "ws" };
    let room = js_sys::encode_uri_component(room);
    Ok(format!("{scheme}://{host}{SIGNALING_PATH}?room={room}"))
}
