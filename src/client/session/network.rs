//! The browser's reports of a network change, for the call's state machine
//! ([`crate::mesh::Input::NetworkChanged`]): the window's `online`, and the `change` of
//! `navigator.connection` where the browser has it (Chromium; not Firefox or Safari).

use super::event::Event;
use futures::channel::mpsc::UnboundedSender;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::EventTarget;

/// Listens while it lives; dropped, it stops.
pub(super) struct NetworkWatch {
    listening: Vec<(EventTarget, &'static str)>,
    closure: Closure<dyn FnMut()>,
}

pub(super) fn watch_network(events: &UnboundedSender<Event>) -> Option<NetworkWatch> {
    let window = web_sys::window()?;
    let events = events.clone();
    let closure = Closure::<dyn FnMut()>::new(move || {
        let _ = events.unbounded_send(Event::NetworkChanged);
    });
    let mut targets: Vec<(EventTarget, &'static str)> = vec![(window.clone().into(), "online")];
    // `navigator.connection` is read by name: web-sys would need its own feature, and the
    // object is missing in Firefox and Safari.
    let connection = js_sys::Reflect::get(&window.navigator(), &JsValue::from_str("connection"))
        .ok()
        .and_then(|value| value.dyn_into::<EventTarget>().ok());
    if let Some(connection) = connection {
        targets.push((connection, "change"));
    }
    let mut listening = Vec::new();
    for (target, kind) in targets {
        if target
            .add_event_listener_with_callback(kind, closure.as_ref().unchecked_ref())
            .is_ok()
        {
            listening.push((target, kind));
        }
    }
    Some(NetworkWatch { listening, closure })
}

impl Drop for NetworkWatch {
    fn drop(&mut self) {
        for (target, kind) in &self.listening {
            let _ = target
                .remove_event_listener_with_callback(kind, self.closure.as_ref().unchecked_ref());
        }
    }
}
