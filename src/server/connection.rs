//! The signaling WebSocket: socket → decode → room → peer's socket.
//!
//! One task per connection does everything for it, so it owns its socket whole: it reads
//! frames, decodes one [`ClientMessage`] per text frame and hands it to the room registry,
//! and writes what the rooms queued in its [`Mailbox`] (replies to itself included).
//! Anything it cannot accept is answered with a typed `error` and the connection stays
//! usable; only abuse closes it, with a close code saying why (see `docs/protocol.md`).
//! A connection that ends without `leave` keeps its seat for the resume grace period.

use super::config::ConnectionSettings;
use super::limits::{client_ip, IpSlot, MessageRate, OriginPolicy, PerIpLimit, RateRule, Verdict};
use super::mailbox::{Due, Kick, MAILBOX};
use super::metrics::{CloseReason, Metrics};
use super::registry::Registry;
use super::room::door::KNOCK_TIMEOUT;
use super::rooms::{encode, KnockOutcome, Knocking, Mailbox, NoSeat, Seat};
use super::sockets::OpenSockets;
use super::tokens::TOKEN_REFRESH_BEATS;
use crate::protocol::signaling::{
    validate_name, validate_room, ClientMessage, ErrorCode, HostCommand, InputError, PeerId,
    Request, ServerMessage, EARLY_QUERY, REMOVED_CLOSE_CODE, SEAT_TAKEN_CLOSE_CODE,
};
use axum::extract::ws::{close_code, CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

/// How long a closing client gets to answer the server's goodbye.
const CLOSE_HANDSHAKE: Duration = Duration::from_secs(1);
/// Bytes read from a socket at once: most messages (candidates, pings) fit; an SDP
/// takes several reads. Every idle connection holds one (see BENCHMARKS.md).
const READ_BUFFER: usize = 256;

/// What every signaling connection shares.
pub struct Hub {
    pub rooms: Arc<Registry>,
    /// What browsers are told of ICE servers (also by `GET /ice`, for the connection check).
    pub ice: Arc<super::ice::IceConfig>,
    pub metrics: Arc<Metrics>,
    pub origins: OriginPolicy,
    pub per_ip: PerIpLimit,
    /// Messages per second and burst, per connection.
    pub rate: RateRule,
    /// Message size, heartbeat, write and resume limits.
    pub settings: ConnectionSettings,
    /// Every open socket's mailbox, for the heartbeat and, at shutdown, the goodbye (and
    /// whether the server is shutting down).
    pub sockets: OpenSockets,
    /// Every open connection, so shutdown can wait for their goodbyes.
    pub connections: TaskTracker,
}

pub async fn ws_route(
    ws: WebSocketUpgrade,
    State(hub): State<Arc<Hub>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    if let Err(why) = hub.origins.check(&headers) {
        tracing::info!(%client, "refused upgrade: {why}");
        hub.metrics.closed(CloseReason::Origin);
        return (StatusCode::FORBIDDEN, why).into_response();
    }
    let ip = client_ip(client.ip(), &headers, &hub.settings.trusted_proxies);
    let Some(slot) = hub.per_ip.claim(ip) else {
        hub.metrics.closed(CloseReason::PerIpLimit);
        return (
            StatusCode::TOO_MANY_REQUESTS,
            "too many connections from this address",
        )
            .into_response();
    };
    let open = hub.connections.token();
    // Opened by a page's script before its app (`early_media`): see `Connection::early`.
    let early = uri
        .query()
        .is_some_and(|query| query.split('&').any(|pair| pair == EARLY_QUERY));
    let span = tracing::info_span!(
        "connection",
        ip = %client.ip(),
        peer = tracing::field::Empty,
        room = tracing::field::Empty
    );
    let limit = hub.settings.max_message_bytes;
    // Signaling messages are small: small buffers keep an idle connection cheap. (The
    // read buffer is zeroed before every read, so its size is paid per message too; a
    // bigger message grows it for as long as it takes to read.)
    ws.max_message_size(limit)
        .max_frame_size(limit)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(limit * 2)
        .on_upgrade(move |mut socket| {
            // Taken by the seat, should the socket drop while seated.
            let mut slot = Some(slot);
            // A task of its own: axum's upgrade task keeps its settings and callback for as
            // long as the callback runs (192 bytes of every idle connection).
            let serve = async move {
                // The socket and the slot stay here and are lent: an async block stores
                // what it moves twice (as captured, and as a local), which for a 368-byte
                // socket is most of what an idle connection costs.
                serve_socket(&mut socket, &hub, &mut slot, early).await;
                drop((slot, open));
            };
            async move {
                tokio::spawn(serve.instrument(span));
            }
        })
}

/// A message refused: the code the client is told, and a more precise message than the
/// code's own description where there is one.
struct Refusal {
    code: ErrorCode,
    detail: Option<String>,
    /// Whom a refused signal was for.
    peer: Option<PeerId>,
}

impl Refusal {
    /// A message that could not be understood, and what was wrong with it.
    fn bad_message(detail: String) -> Refusal {
        Refusal {
            code: ErrorCode::BadMessage,
            detail: Some(detail),
            peer: None,
        }
    }
}

impl From<ErrorCode> for Refusal {
    fn from(code: ErrorCode) -> Refusal {
        Refusal {
            code,
            detail: None,
            peer: None,
        }
    }
}

impl From<InputError> for Refusal {
    fn from(error: InputError) -> Refusal {
        Refusal {
            code: error.code(),
            detail: Some(error.to_string()),
            peer: None,
        }
    }
}

/// How a connection ended.
enum Ending {
    /// The client closed it, or the socket broke.
    Gone,
    /// The server closes it, with this code and reason.
    Close(u16, &'static str),
    /// The client stopped reading; nothing more can be said to it.
    Dropped,
}

/// Serves one signaling socket; `slot`, its place under the per-address limit, goes with
/// its seat if the socket drops while seated (a held seat counts, too).
async fn serve_socket(socket: &mut WebSocket, hub: &Hub, slot: &mut Option<IpSlot>, early: bool) {
    hub.metrics.connections.inc();
    let mailbox = Mailbox::new(&MAILBOX);
    let mut connection = Connection {
        hub,
        mailbox: mailbox.clone(),
        standing: Standing::Nowhere,
        rate: hub.rate.limiter(),
        early,
    };
    // The heartbeat and shutdown reach the socket through its mailbox, like every kick.
    let _listed = hub.sockets.list(&mailbox);
    let mut last_heard = Instant::now();
    // Tokens are short-lived: a fresh one goes out with every so many pings.
    let mut beats: u32 = 0;
    let write_limit = hub.settings.write_timeout;

    let ending = loop {
        let step = tokio::select! {
            // What the server says (and its kicks: at shutdown the goodbye) comes first.
            biased;
            next = mailbox.next() => match next {
                Ok(Due::Message(text)) => Box::pin(send(socket, Message::Text(text), &mailbox, write_limit)).await,
                Ok(Due::DoorAnswered) => {
                    connection.settle_knock();
                    Ok(())
                }
                Ok(Due::Beat) => {
                    beats = beats.wrapping_add(1);
                    if beats.is_multiple_of(TOKEN_REFRESH_BEATS) {
                        connection.send_fresh_token();
                    }
                    if last_heard.elapsed() >= hub.settings.heartbeat_timeout {
                        hub.metrics.closed(CloseReason::Silent);
                        tracing::info!("no answer to pings; closing");
                        Err(Ending::Gone)
                    } else {
                        Box::pin(send(socket, Message::Ping(Default::default()), &mailbox, write_limit)).await
                    }
                }
                Err(Kick::SentAway) => Err(Ending::Close(close_code::AGAIN, "reconnect and resume")),
                Err(Kick::Replaced) => {
                    hub.metrics.closed(CloseReason::SeatTaken);
                    tracing::info!("seat resumed by another socket; closing");
                    // The seat is no longer this connection's: it must not detach it.
                    connection.standing = Standing::Nowhere;
                    Err(Ending::Close(SEAT_TAKEN_CLOSE_CODE, "the call is open elsewhere"))
                }
                Err(Kick::Removed) => {
                    hub.metrics.closed(CloseReason::Removed);
                    tracing::info!("removed by the host; closing");
                    // The seat is gone already.
                    connection.standing = Standing::Nowhere;
                    Err(Ending::Close(REMOVED_CLOSE_CODE, "removed from the call"))
                }
                Err(Kick::NotReading) => Err(Ending::Dropped),
                Err(Kick::ServerGoing) => Err(Ending::Close(close_code::AWAY, "server restarting")),
            },
            frame = socket.recv() => {
                last_heard = Instant::now();
                // Boxed, as `send` is: inline, the largest step would set the size of
                // every connection's task, idle ones included (a few hundred bytes each,
                // against an allocation per message).
                // The address is read inside the box: kept in this task's state instead,
                // it would cost every idle connection its bytes.
                Box::pin(async {
                    let address = slot.as_ref().map(IpSlot::address);
                    connection.on_frame(frame, address).await
                })
                .await
            }
        };
        if let Err(ending) = step {
            break ending;
        }
    };
    match ending {
        Ending::Gone => {}
        Ending::Close(code, reason) => {
            let goodbye = Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            }));
            if send(socket, goodbye, &mailbox, CLOSE_HANDSHAKE)
                .await
                .is_ok()
            {
                finish_closing(socket).await;
            }
        }
        Ending::Dropped => {
            hub.metrics.closed(CloseReason::SlowReader);
            tracing::info!("not reading; disconnected");
        }
    }
    // Gone while waiting at a room's door: the host is told (and a seat given meanwhile
    // is held like any other). Gone without `leave`: hold the seat for a while, then tell
    // the others.
    let seat = match std::mem::replace(&mut connection.standing, Standing::Nowhere) {
        Standing::Seated(seat) => Some(seat),
        Standing::Knocking(knocking) => hub.rooms.withdraw_knock(&knocking),
        Standing::Nowhere => None,
    };
    if let Some(seat) = seat {
        if connection.early {
            // Its app never came: nobody will ask for this seat back.
            hub.rooms.leave(&seat).await;
            tracing::info!("connection lost before its app came; seat freed");
        } else if hub.rooms.detach(&seat, slot.take()) {
            tracing::info!("connection lost; seat held");
            let (rooms, grace) = (hub.rooms.clone(), hub.settings.resume_grace);
            tokio::spawn(async move {
                tokio::time::sleep(grace).await;
                rooms.expire(&seat).await;
            });
        }
    }
    hub.metrics.connections.dec();
}

/// Writes one frame, giving up when the client is kicked or the write stalls past `limit`
/// (a client that stops reading fills its TCP window; it must not hold this task).
async fn send(
    socket: &mut WebSocket,
    message: Message,
    mailbox: &Mailbox,
    limit: Duration,
) -> Result<(), Ending> {
    let mut sending = std::pin::pin!(socket.send(message));
    // Almost every write fits in the socket's buffer at once: only a write that has to
    // wait needs the timer (arming one per message would cost more than the write).
    if let std::task::Poll::Ready(sent) = futures::poll!(&mut sending) {
        return sent.map_err(|_| Ending::Gone);
    }
    // Boxed: kept inline, the timer and the wait would make every connection's task
    // bigger for the sake of a rare case.
    Box::pin(async move {
        tokio::select! {
            sent = tokio::time::timeout(limit, sending) => match sent {
                Ok(Ok(())) => Ok(()),
                Ok(Err(_)) => Err(Ending::Gone),
                Err(_) => Err(Ending::Dropped),
            },
            () = mailbox.kicked() => Err(Ending::Dropped),
        }
    })
    .await
}

/// After the goodbye, reads until the client answers it (or a second passes), so the
/// closing handshake completes: exiting with the client's reply unread would make the
/// kernel reset the connection, and the client could lose the goodbye itself.
async fn finish_closing(socket: &mut WebSocket) {
    let answered = async {
        while let Some(Ok(frame)) = socket.recv().await {
            if matches!(frame, Message::Close(_)) {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(CLOSE_HANDSHAKE, answered).await;
}

/// How a read error ends the connection: frames the WebSocket layer refused get the
/// close code that says why; a broken socket just ends.
fn read_error_ending(error: axum::Error, metrics: &Metrics) -> Ending {
    let Ok(error) = error.into_inner().downcast::<tungstenite::Error>() else {
        return Ending::Gone;
    };
    match *error {
        tungstenite::Error::Capacity(_) => {
            metrics.closed(CloseReason::TooBig);
            Ending::Close(close_code::SIZE, "message too big")
        }
        tungstenite::Error::Utf8(_) => Ending::Close(close_code::INVALID, "text must be UTF-8"),
        tungstenite::Error::Protocol(_) => Ending::Close(close_code::PROTOCOL, "protocol error"),
        _ => Ending::Gone,
    }
}

/// Where a connection stands in the registry.
enum Standing {
    Nowhere,
    Seated(Seat),
    /// Waiting at a locked room's door. Boxed: most connections never knock, and as a
    /// box it fits beside a seat, so a connection is no bigger for it.
    Knocking(Box<Knocking>),
}

/// One socket's view of the registry: at most one seat at a time, or a wait at one
/// locked room's door.
struct Connection<'hub> {
    hub: &'hub Hub,
    mailbox: Mailbox,
    standing: Standing,
    rate: MessageRate,
    /// Opened by a page's script, which sends nothing but `join` (and `leave`): until the
    /// app that adopts it sends anything else, a seat taken here is freed when the socket
    /// drops, not held for a resume nobody can ask for (the app never kept its token).
    early: bool,
}

impl Connection<'_> {
    async fn on_frame(
        &mut self,
        frame: Option<Result<Message, axum::Error>>,
        address: Option<IpAddr>,
    ) -> Result<(), Ending> {
        match frame {
            None | Some(Ok(Message::Close(_))) => Err(Ending::Gone),
            Some(Err(e)) => Err(read_error_ending(e, &self.hub.metrics)),
            // Any frame, pongs included, proves the client is alive.
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => Ok(()),
            Some(Ok(message)) => {
                match self.rate.check() {
                    Verdict::Accept => {}
                    Verdict::Refuse => {
                        self.hub.metrics.rate_limited.inc();
                        self.refuse(ErrorCode::RateLimited.into());
                        return Ok(());
                    }
                    Verdict::Disconnect => {
                        self.hub.metrics.rate_limited.inc();
                        self.hub.metrics.closed(CloseReason::RateLimited);
                        tracing::info!("kept flooding after being rate limited; closing");
                        return Err(Ending::Close(close_code::POLICY, "rate limit exceeded"));
                    }
                }
                match message {
                    Message::Text(text) => self.on_text(&text, address).await,
                    _ => self.refuse(Refusal::bad_message(
                        "binary frames are not part of the protocol; send JSON text".into(),
                    )),
                }
                Ok(())
            }
        }
    }

    async fn on_text(&mut self, text: &Utf8Bytes, address: Option<IpAddr>) {
        let received = Instant::now();
        let message = match serde_json::from_str::<ClientMessage>(text) {
            Ok(message) => message,
            Err(e) => return self.refuse(Refusal::bad_message(e.to_string())),
        };
        if let Err(refusal) = self.handle(message, received, address).await {
            self.refuse(refusal);
        }
    }

    async fn handle(
        &mut self,
        message: ClientMessage,
        received: Instant,
        address: Option<IpAddr>,
    ) -> Result<(), Refusal> {
        let request = Request::from(message);
        if !matches!(request, Request::Join { .. }) {
            self.early = false;
        }
        let rooms = &self.hub.rooms;
        let metrics = &self.hub.metrics;
        match request {
            Request::Host(command) => self.host(command).await?,
            Request::Join { room, name } => {
                if !matches!(self.standing, Standing::Nowhere) {
                    return Err(ErrorCode::AlreadyJoined.into());
                }
                let name = validate_name(&name)?;
                let room = validate_room(&room)?;
                let admitted = match rooms.join(room, name, &self.mailbox, address).await {
                    Ok(admitted) => admitted,
                    Err(NoSeat::Refused(code)) => return Err(code.into()),
                    // The full mailbox has kicked this connection; the loop ends it.
                    Err(NoSeat::NotReading) => return Ok(()),
                    Err(NoSeat::Waiting(knocking)) => {
                        tracing::info!(room, "knocking at a locked room");
                        let rooms = rooms.clone();
                        self.standing = Standing::Knocking(Box::new(knocking.clone()));
                        tokio::spawn(async move {
                            tokio::time::sleep(KNOCK_TIMEOUT).await;
                            rooms.expire_knock(&knocking);
                        });
                        return Ok(());
                    }
                };
                metrics.joined(admitted.people);
                self.took(&admitted.seat, "joined");
            }
            Request::Resume { token, fresh } => {
                if !matches!(self.standing, Standing::Nowhere) {
                    return Err(ErrorCode::AlreadyJoined.into());
                }
                let seat = match rooms.resume(&token, fresh, &self.mailbox).await {
                    Ok(seat) => seat,
                    Err(NoSeat::Refused(code)) => return Err(code.into()),
                    // (A resume never waits at the door: the seat is the person's.)
                    Err(NoSeat::NotReading | NoSeat::Waiting(_)) => return Ok(()),
                };
                metrics.resumes.inc();
                self.took(&seat, "resumed");
            }
            Request::Signal { to, signal } => {
                let seat = self.seat().ok_or(ErrorCode::NotJoined)?;
                let kind = signal.kind();
                rooms.relay(seat, to, signal).map_err(|code| Refusal {
                    code,
                    detail: None,
                    peer: (code == ErrorCode::PeerBusy).then_some(to),
                })?;
                metrics.relayed(kind, received.elapsed());
            }
            Request::Leave => {
                let seat = match std::mem::replace(&mut self.standing, Standing::Nowhere) {
                    Standing::Seated(seat) => seat,
                    // Waiting at the door: no more (or, let in meanwhile, leaving that seat).
                    Standing::Knocking(knocking) => match rooms.withdraw_knock(&knocking) {
                        Some(seat) => seat,
                        None => return Ok(()),
                    },
                    Standing::Nowhere => return Err(ErrorCode::NotJoined.into()),
                };
                rooms.leave(&seat).await;
                tracing::info!("left");
            }
            Request::Ping => {
                self.mailbox.post(encode(&ServerMessage::Pong));
            }
        }
        Ok(())
    }

    /// A host command: only the room's host may send one.
    async fn host(&self, command: HostCommand) -> Result<(), Refusal> {
        let seat = self.seat().ok_or(ErrorCode::NotJoined)?;
        self.hub.rooms.host_command(seat, command).await?;
        tracing::info!("host: {command:?}");
        Ok(())
    }

    /// Waiting at a room's door, now answered (`Due::DoorAnswered`): takes the seat the
    /// host gave, or forgets the wait if it ended (the client was told how).
    fn settle_knock(&mut self) {
        let Standing::Knocking(knocking) = &self.standing else {
            return;
        };
        match self.hub.rooms.knock_outcome(knocking) {
            KnockOutcome::Waiting => {}
            KnockOutcome::Ended => self.standing = Standing::Nowhere,
            KnockOutcome::Seated(seat) => self.took(&seat, "let in"),
        }
    }

    /// The seat this connection holds, if any.
    fn seat(&self) -> Option<&Seat> {
        match &self.standing {
            Standing::Seated(seat) => Some(seat),
            Standing::Nowhere | Standing::Knocking(_) => None,
        }
    }

    /// Sends a fresh resume token for the seat held, if any.
    fn send_fresh_token(&self) {
        let token = self.seat().and_then(|s| self.hub.rooms.fresh_token(s));
        if let Some(token) = token {
            self.mailbox.post(encode(&ServerMessage::Token { token }));
        }
    }

    /// Notes the seat in the connection's log span.
    fn took(&mut self, seat: &Seat, what: &str) {
        let span = tracing::Span::current();
        span.record("room", seat.room.as_str());
        span.record("peer", seat.id.0);
        tracing::info!("{what}");
        self.standing = Standing::Seated(seat.clone());
    }

    /// Answers with a typed error (`message` defaults to the code's description).
    fn refuse(&self, refusal: Refusal) {
        let Refusal { code, detail, peer } = refusal;
        self.hub.metrics.refused(code);
        let message = detail.unwrap_or_else(|| code.describe().to_owned());
        self.mailbox.post(encode(&ServerMessage::Error {
            code,
            message,
            peer,
        }));
    }
}
