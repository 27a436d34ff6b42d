//! The signaling WebSocket: socket → decode → room → peer's socket.
//!
//! Each connection has a reader (this task) and a writer task draining its [`Outbox`].
//! The reader decodes one [`ClientMessage`] per text frame and hands it to the room
//! registry; anything it cannot accept is answered with a typed `error`, and the
//! connection stays usable.

use super::rooms::{Outbox, Rooms, Seat};
use crate::protocol::{validate_name, validate_room, ClientMessage, ErrorCode, ServerMessage};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Largest frame accepted; a session description is a few KiB.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Messages queued for a socket before its reader counts as stalled and is dropped from
/// its room: a call needs a few dozen at most, even in a burst of ICE candidates.
const OUTBOX_CAPACITY: usize = 64;

pub async fn ws_route(ws: WebSocketUpgrade, State(rooms): State<Arc<Rooms>>) -> Response {
    ws.max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| serve_socket(socket, rooms))
}

async fn serve_socket(socket: WebSocket, rooms: Arc<Rooms>) {
    let (mut sink, mut stream) = socket.split();
    let (outbox, mut inbox) = mpsc::channel::<ServerMessage>(OUTBOX_CAPACITY);
    let writer = tokio::spawn(async move {
        while let Some(message) = inbox.recv().await {
            let text = match serde_json::to_string(&message) {
                Ok(text) => text,
                Err(e) => {
                    tracing::error!("cannot encode {message:?}: {e}");
                    continue;
                }
            };
            if sink.send(Message::Text(text.into())).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });

    let mut connection = Connection {
        rooms,
        outbox,
        seat: None,
    };
    while let Some(Ok(frame)) = stream.next().await {
        match frame {
            Message::Text(text) => connection.on_text(&text),
            Message::Binary(_) => connection.refuse(
                ErrorCode::BadMessage,
                "binary frames are not part of the protocol; send JSON text".into(),
            ),
            Message::Close(_) => break,
            Message::Ping(_) | Message::Pong(_) => {}
        }
    }
    // A closed or broken socket counts as leaving.
    connection.leave();
    drop(connection);
    let _ = writer.await;
}

/// One socket's view of the registry: at most one seat at a time.
struct Connection {
    rooms: Arc<Rooms>,
    outbox: Outbox,
    seat: Option<Seat>,
}

impl Connection {
    fn on_text(&mut self, text: &str) {
        let message = match serde_json::from_str::<ClientMessage>(text) {
            Ok(message) => message,
            Err(e) => return self.refuse(ErrorCode::BadMessage, e.to_string()),
        };
        if let Err((code, why)) = self.handle(message) {
            self.refuse(code, why);
        }
    }

    fn handle(&mut self, message: ClientMessage) -> Result<(), (ErrorCode, String)> {
        let described = |code: ErrorCode| (code, code.describe().to_owned());
        match message {
            ClientMessage::Join { room, name } => {
                if self.seat.is_some() {
                    return Err(described(ErrorCode::AlreadyJoined));
                }
                let invalid = |e: crate::protocol::InputError| (e.code(), e.to_string());
                let name = validate_name(&name).map_err(invalid)?;
                let room = validate_room(&room).map_err(invalid)?;
                let seat = self
                    .rooms
                    .join(room, name, &self.outbox)
                    .map_err(described)?;
                tracing::info!(room, peer = %seat.id, "joined");
                self.seat = Some(seat);
            }
            ClientMessage::Signal { to, signal } => {
                let seat = self.seat.as_ref().ok_or(described(ErrorCode::NotJoined))?;
                self.rooms.relay(seat, to, signal).map_err(described)?;
            }
            ClientMessage::Leave => {
                if self.seat.is_none() {
                    return Err(described(ErrorCode::NotJoined));
                }
                self.leave();
            }
        }
        Ok(())
    }

    fn leave(&mut self) {
        if let Some(seat) = self.seat.take() {
            tracing::info!(room = seat.room, peer = %seat.id, "left");
            self.rooms.leave(&seat);
        }
    }

    fn refuse(&self, code: ErrorCode, message: String) {
        // If even the error does not fit, the client is not reading; the room's own
        // delivery will notice.
        let _ = self.outbox.try_send(ServerMessage::Error { code, message });
    }
}
