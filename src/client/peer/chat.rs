//! The chat data channel of one connection: opened by the side that was there first,
//! taken over by the other, and guarded against a flood before anything is copied out
//! of JavaScript.

use super::{handler_for, Handler, Peer, PeerEvent, PeerEvents};
use crate::protocol::peer::{
    PeerMessage, PeerMessageError, MAX_PEER_MESSAGES_PER_SECOND, MAX_PEER_MESSAGE_BYTES,
};
use crate::protocol::signaling::PeerId;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{RtcDataChannel, RtcDataChannelState};

/// The chat channel's listeners, set on it the moment it is seen: a message that arrives
/// while the session is busy (say, negotiating with three people at once) waits in the
/// queue instead of firing at a channel nobody listens to yet.
pub struct ChatListeners([Handler; 3]);

/// Listens to `channel` now; the events go to `events`, in order.
pub(super) fn listen_to_chat(
    channel: &RtcDataChannel,
    events: &PeerEvents,
    id: PeerId,
) -> ChatListeners {
    let on_open = handler_for(events, id, |_| Some(PeerEvent::ChatOpen));
    let on_close = handler_for(events, id, |_| Some(PeerEvent::ChatClosed));
    // Frames past the per-second limit are dropped here, before they are copied out
    // of JavaScript or queued: a flood costs the page almost nothing. The first one
    // dropped in each second is reported, so the session counts it.
    let window = std::cell::Cell::new((0.0_f64, 0_u32));
    let on_message = handler_for(events, id, move |event| {
        let now = js_sys::Date::now();
        let (start, count) = window.get();
        let (start, count) = if now - start >= 1000.0 {
            (now, 1)
        } else {
            (start, count + 1)
        };
        window.set((start, count));
        if count > MAX_PEER_MESSAGES_PER_SECOND {
            return (count == MAX_PEER_MESSAGES_PER_SECOND + 1)
                .then_some(PeerEvent::Unreadable(PeerMessageError::TooFast));
        }
        let data = event.unchecked_into::<web_sys::MessageEvent>().data();
        // Sized before it is copied out of JavaScript: a UTF-16 unit is at least one
        // byte of UTF-8, so a string this long is surely too large.
        Some(match data.dyn_ref::<js_sys::JsString>() {
            Some(text) if text.length() as usize > MAX_PEER_MESSAGE_BYTES => {
                PeerEvent::Unreadable(PeerMessageError::TooLarge)
            }
            Some(text) => PeerEvent::Message(String::from(text), now),
            None => PeerEvent::Unreadable(PeerMessageError::Binary),
        })
    });
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
