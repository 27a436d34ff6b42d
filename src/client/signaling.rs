//! The signaling WebSocket, seen from the browser.

use super::session::Event;
use crate::protocol::{ClientMessage, ServerMessage, SIGNALING_PATH};
use futures::channel::mpsc::UnboundedSender;
use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message};
use leptos::task::spawn_local;

/// The sending half; incoming messages arrive as [`Event::Server`], and the end of the
/// socket as [`Event::SignalingClosed`], both tagged with `generation` so that news from
/// a socket already replaced can be told apart.
pub struct SignalingSocket {
    sink: SplitSink<WebSocket, Message>,
}

impl SignalingSocket {
    pub fn connect(
        events: UnboundedSender<Event>,
        generation: u32,
    ) -> Result<SignalingSocket, String> {
        let socket = WebSocket::open(&signaling_url()?).map_err(|e| e.to_string())?;
        let (sink, mut stream) = socket.split();
        spawn_local(async move {
            while let Some(frame) = stream.next().await {
                match frame {
                    Ok(Message::Text(text)) => match serde_json::from_str::<ServerMessage>(&text) {
                        Ok(message) => {
                            if events
                                .unbounded_send(Event::Server(generation, message))
                                .is_err()
                            {
                                return;
                            }
                        }
                        Err(e) => leptos::logging::warn!("unreadable signaling message: {e}"),
                    },
                    Ok(Message::Bytes(_)) => {}
                    Err(e) => {
                        leptos::logging::warn!("signaling socket: {e}");
                        break;
                    }
                }
            }
            let _ = events.unbounded_send(Event::SignalingClosed(generation));
        });
        Ok(SignalingSocket { sink })
    }

    /// Sends once the socket is open (gloo-net waits for that).
    pub async fn send(&mut self, message: &ClientMessage) -> Result<(), String> {
        let text = serde_json::to_string(message).map_err(|e| e.to_string())?;
        self.sink
            .send(Message::Text(text))
            .await
            .map_err(|e| e.to_string())
    }

    pub async fn close(mut self) {
        let _ = self.sink.close().await;
    }
}

/// `ws://host/ws` or `wss://host/ws`, from the page's own address.
fn signaling_url() -> Result<String, String> {
    let location = web_sys::window().ok_or("no window")?.location();
    let protocol = location.protocol().map_err(|_| "no page protocol")?;
    let host = location.host().map_err(|_| "no page host")?;
    let scheme = if protocol == "https:" { "wss" } else { "ws" };
    Ok(format!("{scheme}://{host}{SIGNALING_PATH}"))
}
