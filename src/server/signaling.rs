//! The signaling WebSocket: socket → decode → room → peer's socket.
//!
//! Each connection has a reader (this task) and a writer task draining its [`Outbox`].
//! The reader decodes one [`ClientMessage`] per text frame and hands it to the room
//! registry; anything it cannot accept is answered with a typed `error`, and the
//! connection stays usable. The writer also pings; the reader closes a connection that
//! stays silent past the heartbeat timeout. A connection that ends without `leave` keeps
//! its seat for the resume grace period.

use super::rooms::{Outbox, Rooms, Seat};
use crate::protocol::{validate_name, validate_room, ClientMessage, ErrorCode, ServerMessage};
use axum::extract::ws::{close_code, CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_util::task::TaskTracker;

/// Largest frame accepted; a session description is a few KiB.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Messages queued for a socket before its reader counts as stalled and is dropped from
/// its room: a call needs a few dozen at most, even in a burst of ICE candidates.
const OUTBOX_CAPACITY: usize = 64;
/// How long a closing client gets to answer the server's goodbye.
const CLOSE_HANDSHAKE: Duration = Duration::from_secs(1);

/// What every signaling connection shares.
pub struct Hub {
    pub rooms: Arc<Rooms>,
    pub heartbeat_interval: Duration,
    pub heartbeat_timeout: Duration,
    pub resume_grace: Duration,
    /// Becomes true when the server is shutting down.
    pub going_away: watch::Receiver<bool>,
    /// Every open connection, so shutdown can wait for their goodbyes.
    pub connections: TaskTracker,
}

pub async fn ws_route(ws: WebSocketUpgrade, State(hub): State<Arc<Hub>>) -> Response {
    let open = hub.connections.token();
    ws.max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| async move {
            serve_socket(socket, hub).await;
            drop(open);
        })
}

async fn serve_socket(socket: WebSocket, hub: Arc<Hub>) {
    let (sink, stream) = socket.split();
    let (outbox, inbox) = mpsc::channel::<ServerMessage>(OUTBOX_CAPACITY);
    let writer = tokio::spawn(write(
        sink,
        inbox,
        hub.heartbeat_interval,
        hub.going_away.clone(),
    ));
    let mut connection = Connection {
        rooms: hub.rooms.clone(),
        outbox,
        seat: None,
    };
    read(stream, &mut connection, &hub).await;
    // Gone without `leave`: hold the seat for a while, then tell the others.
    if let Some(seat) = connection.seat.take() {
        if hub.rooms.detach(&seat) {
            tracing::info!(room = seat.room, peer = %seat.id, "connection lost; seat held");
            let (rooms, grace) = (hub.rooms.clone(), hub.resume_grace);
            tokio::spawn(async move {
                tokio::time::sleep(grace).await;
                rooms.expire(&seat);
            });
        }
    }
    drop(connection);
    let _ = writer.await;
}

/// Reads until the socket closes, breaks, goes silent, or the server shuts down.
async fn read(mut stream: SplitStream<WebSocket>, connection: &mut Connection, hub: &Hub) {
    let mut going_away = hub.going_away.clone();
    loop {
        let frame = tokio::select! {
            frame = tokio::time::timeout(hub.heartbeat_timeout, stream.next()) => frame,
            () = shutting_down(&mut going_away) => return finish_closing(&mut stream).await,
        };
        match frame {
            Err(_) => {
                tracing::info!("no answer to pings; closing");
                return;
            }
            Ok(None | Some(Err(_))) => return,
            Ok(Some(Ok(message))) => match message {
                Message::Text(text) => connection.on_text(&text),
                Message::Binary(_) => connection.refuse(
                    ErrorCode::BadMessage,
                    "binary frames are not part of the protocol; send JSON text".into(),
                ),
                Message::Close(_) => return,
                // Any frame, pongs included, proves the peer is alive.
                Message::Ping(_) | Message::Pong(_) => {}
            },
        }
    }
}

/// After the writer's goodbye, reads until the client answers it (or a second passes), so
/// the closing handshake completes: exiting with the client's reply unread would make the
/// kernel reset the connection, and the client could lose the goodbye itself.
async fn finish_closing(stream: &mut SplitStream<WebSocket>) {
    let answered = async {
        while let Some(Ok(frame)) = stream.next().await {
            if matches!(frame, Message::Close(_)) {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(CLOSE_HANDSHAKE, answered).await;
}

/// Writes queued messages and pings; says goodbye when the server shuts down.
async fn write(
    mut sink: SplitSink<WebSocket, Message>,
    mut inbox: mpsc::Receiver<ServerMessage>,
    heartbeat: Duration,
    mut going_away: watch::Receiver<bool>,
) {
    let mut ping = tokio::time::interval(heartbeat);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let sent = tokio::select! {
            // First: at shutdown the reader drops the outbox too, and the goodbye must win.
            biased;
            () = shutting_down(&mut going_away) => {
                // Clients reconnect (with backoff) and resume their seats.
                let _ = sink
                    .send(Message::Close(Some(CloseFrame {
                        code: close_code::AWAY,
                        reason: "server restarting".into(),
                    })))
                    .await;
                return;
            }
            message = inbox.recv() => match message {
                Some(message) => match serde_json::to_string(&message) {
                    Ok(text) => sink.send(Message::Text(text.into())).await,
                    Err(e) => {
                        tracing::error!("cannot encode {message:?}: {e}");
                        Ok(())
                    }
                },
                None => break,
            },
            _ = ping.tick() => sink.send(Message::Ping(Default::default())).await,
        };
        if sent.is_err() {
            return;
        }
    }
    let _ = sink.close().await;
}

/// Resolves once the server starts shutting down (or is already gone).
async fn shutting_down(going_away: &mut watch::Receiver<bool>) {
    let _ = going_away.wait_for(|&going| going).await;
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
            ClientMessage::Resume { token } => {
                if self.seat.is_some() {
                    return Err(described(ErrorCode::AlreadyJoined));
                }
                let seat = self.rooms.resume(&token, &self.outbox).map_err(described)?;
                tracing::info!(room = seat.room, peer = %seat.id, "resumed");
                self.seat = Some(seat);
            }
            ClientMessage::Signal { to, signal } => {
                let seat = self.seat.as_ref().ok_or(described(ErrorCode::NotJoined))?;
                self.rooms.relay(seat, to, signal).map_err(described)?;
            }
            ClientMessage::Leave => {
                let seat = self.seat.take().ok_or(described(ErrorCode::NotJoined))?;
                tracing::info!(room = seat.room, peer = %seat.id, "left");
                self.rooms.leave(&seat);
            }
            ClientMessage::Ping => {
                let _ = self.outbox.try_send(ServerMessage::Pong);
            }
        }
        Ok(())
    }

    fn refuse(&self, code: ErrorCode, message: String) {
        // If even the error does not fit, the client is not reading; the room's own
        // delivery will notice.
        let _ = self.outbox.try_send(ServerMessage::Error { code, message });
    }
}
