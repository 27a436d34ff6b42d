//! The call session: one task that owns the socket, the media and the peer connection,
//! and handles every event (from the server, the browser and the person) in order.
//!
//! Handling events one at a time is what keeps WebRTC's asynchronous steps from
//! interleaving: a candidate can't race the remote description it belongs to, and a hang
//! up can't land in the middle of an answer.

use super::media::{self, LocalMedia};
use super::peer::{Peer, PeerEvent};
use super::signaling::SignalingSocket;
use crate::call::{CallStatus, CallView, ChatLine, UiCommand};
use crate::protocol::{ClientMessage, ErrorCode, IceServer, PeerId, PeerInfo, ServerMessage};
use futures::channel::mpsc::{self, UnboundedReceiver, UnboundedSender};
use futures::StreamExt;
use leptos::html::Video;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::RtcPeerConnectionState;

/// Everything the session reacts to.
pub enum Event {
    Ui(UiCommand),
    Server(ServerMessage),
    SignalingClosed,
    Peer(PeerId, PeerEvent),
}

/// Runs the call in the background until it ends or the call screen goes away.
pub fn start(user: String, room: String, view: CallView, ui: UnboundedReceiver<UiCommand>) {
    spawn_local(run(user, room, view, ui));
}

/// Starts the remote video's sound after a click, where autoplay was refused.
pub fn play_remote(view: CallView) {
    view.needs_play.set(false);
    if let Some(video) = element(view.remote_video) {
        play(video, view);
    }
}

async fn run(user: String, room: String, view: CallView, ui: UnboundedReceiver<UiCommand>) {
    let (events, internal) = mpsc::unbounded();
    let mut queue = futures::stream::select(ui.map(Event::Ui), internal);

    let media = media::acquire().await;
    view.media_note.set(media.note.clone());
    if let (Some(video), Some(stream)) = (element(view.local_video), &media.stream) {
        video.set_src_object(Some(stream));
    }
    view.status.set(CallStatus::Joining);
    let socket = match SignalingSocket::connect(events.clone()) {
        Ok(socket) => socket,
        Err(e) => {
            media.stop();
            view.status
                .set(CallStatus::Failed(format!("cannot reach the server ({e})")));
            return;
        }
    };
    let mut session = Session {
        user,
        view,
        events,
        media,
        socket: Some(socket),
        ice_servers: Vec::new(),
        peer: None,
        joined: false,
    };
    session
        .send(ClientMessage::Join {
            room,
            name: session.user.clone(),
        })
        .await;
    while let Some(event) = queue.next().await {
        if session.handle(event).await == Flow::Stop {
            break;
        }
    }
    session.end().await;
}

#[derive(PartialEq)]
enum Flow {
    Continue,
    Stop,
}

struct Session {
    user: String,
    view: CallView,
    events: UnboundedSender<Event>,
    media: LocalMedia,
    /// `None` once the server connection is gone.
    socket: Option<SignalingSocket>,
    ice_servers: Vec<IceServer>,
    peer: Option<Peer>,
    /// We hold a seat in the room.
    joined: bool,
}

impl Session {
    async fn handle(&mut self, event: Event) -> Flow {
        match event {
            Event::Ui(command) => return self.on_command(command).await,
            Event::Server(message) => return self.on_server(message).await,
            Event::SignalingClosed => {
                self.socket = None;
                if self.peer.is_none() {
                    self.fail("lost the connection to the server".into());
                }
                // With a peer connected, media and chat go on without the server.
            }
            Event::Peer(id, event) if self.peer.as_ref().is_some_and(|p| p.id == id) => {
                self.on_peer(event).await;
            }
            // From a peer connection already closed.
            Event::Peer(..) => {}
        }
        Flow::Continue
    }

    async fn on_command(&mut self, command: UiCommand) -> Flow {
        match command {
            UiCommand::SendChat(text) => {
                let sent = self.peer.as_ref().map(|peer| peer.send_chat(&text));
                match sent {
                    Some(Ok(())) => self.view.chat.update(|lines| {
                        lines.push(ChatLine {
                            from: self.user.clone(),
                            text,
                            mine: true,
                        })
                    }),
                    Some(Err(e)) => {
                        leptos::logging::warn!("chat message not sent: {}", describe(&e))
                    }
                    None => {}
                }
                Flow::Continue
            }
            UiCommand::HangUp => {
                self.view.status.set(CallStatus::Ended);
                Flow::Stop
            }
            UiCommand::Leave => Flow::Stop,
        }
    }

    async fn on_server(&mut self, message: ServerMessage) -> Flow {
        match message {
            ServerMessage::Joined {
                peers, ice_servers, ..
            } => {
                self.joined = true;
                self.ice_servers = ice_servers;
                match peers.into_iter().next() {
                    // Whoever was there first makes the offer; we wait for it.
                    Some(peer) => self.open_peer(peer),
                    None => self.view.status.set(CallStatus::Waiting),
                }
            }
            ServerMessage::PeerJoined { peer, .. } => {
                self.open_peer(peer);
                let offer = match self.peer.as_mut() {
                    Some(peer) => peer.offer().await,
                    None => return Flow::Continue,
                };
                match offer {
                    Ok(signal) => self.signal(signal).await,
                    Err(e) => self.fail(format!("could not start the call ({})", describe(&e))),
                }
            }
            ServerMessage::Signal { from, signal } => {
                let Some(peer) = self.peer.as_mut().filter(|p| p.id == from) else {
                    return Flow::Continue;
                };
                match peer.apply(signal).await {
                    Ok(Some(answer)) => self.signal(answer).await,
                    Ok(None) => {}
                    Err(e) => self.fail(format!("could not connect ({})", describe(&e))),
                }
            }
            ServerMessage::PeerLeft { peer } => {
                if self.peer.as_ref().is_some_and(|p| p.id == peer) {
                    let name = self.close_peer();
                    self.view.status.set(CallStatus::PeerLeft { name });
                }
            }
            ServerMessage::Resumed { .. } | ServerMessage::Pong => {}
            ServerMessage::Error { code, message } => match code {
                ErrorCode::RoomFull => {
                    self.view.status.set(CallStatus::RoomFull);
                    return Flow::Stop;
                }
                ErrorCode::InvalidRoom | ErrorCode::InvalidName => {
                    self.fail(message);
                    return Flow::Stop;
                }
                // A signal to a peer that just left, and the like: nothing to show.
                _ => leptos::logging::warn!("server refused a message: {message}"),
            },
        }
        Flow::Continue
    }

    async fn on_peer(&mut self, event: PeerEvent) {
        let view = self.view;
        let Some(peer) = self.peer.as_mut() else {
            return;
        };
        match event {
            PeerEvent::Candidate(signal) => self.signal(signal).await,
            PeerEvent::Track(track) => {
                let stream = peer.add_remote_track(&track);
                if let Some(video) = element(view.remote_video) {
                    if video.src_object().as_ref() != Some(stream) {
                        video.set_src_object(Some(stream));
                        play(video, view);
                    }
                }
            }
            PeerEvent::DataChannel(channel) => peer.attach_chat(channel),
            PeerEvent::ChatOpen => view.chat_open.set(true),
            PeerEvent::ChatClosed => view.chat_open.set(false),
            PeerEvent::ChatMessage(text) => view.chat.update(|lines| {
                lines.push(ChatLine {
                    from: peer.name.clone(),
                    text,
                    mine: false,
                })
            }),
            PeerEvent::State(state) => {
                let with = peer.name.clone();
                match state {
                    RtcPeerConnectionState::Connected => {
                        view.status.set(CallStatus::Connected { with })
                    }
                    RtcPeerConnectionState::Disconnected => {
                        view.status.set(CallStatus::Interrupted { with })
                    }
                    RtcPeerConnectionState::Failed => {
                        self.fail(format!("no network path to {with} was found"))
                    }
                    _ => {}
                }
            }
        }
    }

    fn open_peer(&mut self, info: PeerInfo) {
        if self.peer.is_some() {
            self.close_peer();
        }
        let stream = self.media.stream.as_ref();
        match Peer::new(
            info.id,
            info.name.clone(),
            &self.ice_servers,
            stream,
            self.events.clone(),
        ) {
            Ok(peer) => {
                self.view.remote_name.set(Some(info.name.clone()));
                self.view
                    .status
                    .set(CallStatus::Connecting { with: info.name });
                self.peer = Some(peer);
            }
            Err(e) => self.fail(format!(
                "the browser refused a connection ({})",
                describe(&e)
            )),
        }
    }

    /// Closes the connection to the other person; returns their name.
    fn close_peer(&mut self) -> String {
        self.view.chat_open.set(false);
        self.view.remote_name.set(None);
        self.view.needs_play.set(false);
        if let Some(video) = element(self.view.remote_video) {
            video.set_src_object(None);
        }
        self.peer
            .take()
            .map(|peer| {
                let name = peer.name.clone();
                peer.close();
                name
            })
            .unwrap_or_default()
    }

    async fn signal(&mut self, signal: crate::protocol::Signal) {
        if let Some(to) = self.peer.as_ref().map(|p| p.id) {
            self.send(ClientMessage::Signal { to, signal }).await;
        }
    }

    async fn send(&mut self, message: ClientMessage) {
        if let Some(socket) = self.socket.as_mut() {
            if let Err(e) = socket.send(&message).await {
                leptos::logging::warn!("signaling send failed: {e}");
                self.socket = None;
                if self.peer.is_none() {
                    self.fail("lost the connection to the server".into());
                }
            }
        }
    }

    fn fail(&self, why: String) {
        self.view.status.set(CallStatus::Failed(why));
    }

    /// Hangs up: peer connection, camera, and our seat on the server.
    async fn end(mut self) {
        self.close_peer();
        self.media.stop();
        if let Some(video) = element(self.view.local_video) {
            video.set_src_object(None);
        }
        if self.joined {
            self.send(ClientMessage::Leave).await;
        }
        if let Some(socket) = self.socket.take() {
            socket.close().await;
        }
    }
}

/// The element behind `node`, if the call screen still shows it. The session outlives the
/// screen (it tears down after navigation), so it must never assume the view is there.
fn element(node: NodeRef<Video>) -> Option<web_sys::HtmlVideoElement> {
    node.try_get_untracked().flatten()
}

/// Starts playback; if the browser wants a click first, the call screen offers a button.
fn play(video: web_sys::HtmlVideoElement, view: CallView) {
    let Ok(promise) = video.play() else {
        return;
    };
    spawn_local(async move {
        if let Err(e) = JsFuture::from(promise).await {
            if super::error_name(&e) == "NotAllowedError" {
                view.needs_play.set(true);
            }
        }
    });
}

fn describe(error: &JsValue) -> String {
    super::error_name(error)
}
