//! The chat data channel of one connection: opened by the side that was there first,
//! taken over by the other, and guarded against a flood before anything is copied out
//! of JavaScript.

use super::{handler_for, Handler, Peer, PeerEvent, PeerEvents};
use crate::client::clock;
use crate::mesh::gates::{Frame, FrameWindow};
use crate::mesh::Millis;
use crate::protocol::peer::{PeerMessage, PeerMessageError, MAX_PEER_MESSAGE_BYTES};
use crate::protocol::signaling::PeerId;
use gloo_timers::callback::Timeout;
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{RtcDataChannel, RtcDataChannelState};

/// The chat channel's listeners, set on it the moment it is seen: a message that arrives
/// while the session is busy (say, negotiating with three people at once) waits in the
/// queue instead of firing at a channel nobody listens to yet.
pub struct ChatListeners([Handler; 3]);

/// What a flood left behind: the frame window, the newest frame kept unread, and the
/// timer that reads it when its window ends (cleared with the channel's listeners).
#[derive(Default)]
struct FloodGuard {
    window: FrameWindow,
    kept: Option<JsValue>,
    wake: Option<Timeout>,
}

/// A frame, sized before it is copied out of JavaScript: a UTF-16 unit is at least one
/// byte of UTF-8, so a string this long is surely too large.
fn read(data: JsValue, arrived: Millis) -> PeerEvent {
    match data.dyn_ref::<js_sys::JsString>() {
        Some(text) if text.length() as usize > MAX_PEER_MESSAGE_BYTES => {
            PeerEvent::Unreadable(PeerMessageError::TooLarge)
        }
        Some(text) => PeerEvent::Message(String::from(text), arrived),
        None => PeerEvent::Unreadable(PeerMessageError::Binary),
    }
}

/// At `at`, the kept frame is read (if the channel is still listened to).
fn wake_at(
    at: Millis,
    now: Millis,
    guard: Weak<RefCell<FloodGuard>>,
    events: &PeerEvents,
    id: PeerId,
) -> Timeout {
    let events = events.clone();
    let wait = u32::try_from(at.since(now)).unwrap_or(u32::MAX);
    Timeout::new(wait, move || {
        let Some(guard) = guard.upgrade() else {
            return;
        };
        let now = clock::now();
        let mut flood = guard.borrow_mut();
        if flood.window.wake(now) {
            if let Some(data) = flood.kept.take() {
                let _ = events.unbounded_send((id, read(data, now)));
            }
        }
    })
}

/// Listens to `channel` now; the events go to `events`, in order.
pub(super) fn listen_to_chat(
    channel: &RtcDataChannel,
    events: &PeerEvents,
    id: PeerId,
) -> ChatListeners {
    let on_open = handler_for(events, id, |_| Some(PeerEvent::ChatOpen));
    let on_close = handler_for(events, id, |_| Some(PeerEvent::ChatClosed));
    // Frames past the per-second budget are dropped here, before they are copied out of
    // JavaScript or queued: a flood costs the page almost nothing. The newest of them is
    // kept (a handle, not a copy) and read when its second is over, so a peer is shown
    // where it settled (`mesh::gates::FrameWindow` decides). The first dropped in each
    // second is reported, so the session counts it.
    let guard = Rc::new(RefCell::new(FloodGuard::default()));
    let on_message = {
        let events = events.clone();
        Closure::new(move |event: JsValue| {
            let now = clock::now();
            let data = event.unchecked_into::<web_sys::MessageEvent>().data();
            let verdict = guard.borrow_mut().window.frame(now);
            match verdict {
                Frame::Read { kept_first } => {
                    let kept = kept_first.then(|| guard.borrow_mut().kept.take()).flatten();
                    for data in kept.into_iter().chain([data]) {
                        let _ = events.unbounded_send((id, read(data, now)));
                    }
                }
                Frame::Keep { wake, report } => {
                    let mut flood = guard.borrow_mut();
                    flood.kept = Some(data);
                    if let Some(at) = wake {
                        flood.wake = Some(wake_at(at, now, Rc::downgrade(&guard), &events, id));
                    }
                    if report {
                        let too_fast = PeerEvent::Unreadable(PeerMessageError::TooFast);
                        let _ = events.unbounded_send((id, too_fast));
                    }
                }
            }
        })
    };
    channel.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    channel.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    ChatListeners([on_open, on_close, on_message])
}

impl Peer {
    /// Opens the chat channel (the side seated first does).
    pub(super) fn open_chat(&mut self) {
        let channel = self.pc.create_data_channel("chat");
        let listeners = listen_to_chat(&channel, &self.events, self.id);
        self.take_chat(channel, listeners);
    }

    /// Takes over the chat channel, listened to since it was seen.
    pub fn take_chat(&mut self, channel: RtcDataChannel, listeners: ChatListeners) {
        self.handlers.extend(listeners.0);
        self.chat = Some(channel);
    }

    /// Sends over the data channel, if it is open.
    pub fn send(&self, message: &PeerMessage) -> Result<(), JsValue> {
        match &self.chat {
            Some(channel) if channel.ready_state() == RtcDataChannelState::Open => {
                channel.send_with_str(&message.encode())
            }
            _ => Err("the data channel is not open".into()),
        }
    }
}
