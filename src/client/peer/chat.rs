//! The chat data channel of one connection: opened by the side that was there first,
//! taken over by the other, and guarded against a flood before anything is copied out
//! of JavaScript.

use super::{Peer, PeerEvent};
use crate::protocol::peer::{
    PeerMessage, PeerMessageError, MAX_PEER_MESSAGES_PER_SECOND, MAX_PEER_MESSAGE_BYTES,
};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{RtcDataChannel, RtcDataChannelState};

impl Peer {
    /// Takes over the chat channel the other side opened.
    pub fn attach_chat(&mut self, channel: RtcDataChannel) {
        let on_open = self.handler(|_| Some(PeerEvent::ChatOpen));
        let on_close = self.handler(|_| Some(PeerEvent::ChatClosed));
        // Frames past the per-second limit are dropped here, before they are copied out
        // of JavaScript or queued: a flood costs the page almost nothing. The first one
        // dropped in each second is reported, so the session counts it.
        let window = std::cell::Cell::new((0.0_f64, 0_u32));
        let on_message = self.handler(move |event| {
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
                Some(text) => PeerEvent::Message(String::from(text)),
                None => PeerEvent::Unreadable(PeerMessageError::Binary),
            })
        });
        channel.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        channel.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        self.handlers.extend([on_open, on_close, on_message]);
        // An announced channel may already be open by the time the session gets to it.
        if channel.ready_state() == RtcDataChannelState::Open {
            self.emit(PeerEvent::ChatOpen);
        }
        self.chat = Some(channel);
    }

    /// Whether the chat channel is already there (a second one is refused).
    pub fn has_chat(&self) -> bool {
        self.chat.is_some()
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
