//! Browser-only code: the signaling socket, local media, the peer connection, and the
//! session that ties them to the call screen.

pub mod clock;
pub mod file_channel;
pub mod media;
pub mod muted_speech;
pub mod network_check;
pub mod peer;
pub mod pop_out;
pub mod recorder;
pub mod session;
pub mod signaling;
pub mod stage;
pub mod stats_report;

use crate::protocol::signaling::{room_key_from_random, ROOM_KEY_LEN};

/// A fresh room key from `crypto.getRandomValues`.
pub fn random_room_key() -> Result<String, String> {
    let crypto = web_sys::window()
        .ok_or("no window")?
        .crypto()
        .map_err(|_| "This browser offers no secure random numbers.".to_string())?;
    let mut bytes = [0u8; ROOM_KEY_LEN];
    crypto
        .get_random_values_with_u8_array(&mut bytes)
        .map_err(|_| "This browser refused to make random numbers.".to_string())?;
    Ok(room_key_from_random(&bytes))
}

/// The `name` of a DOMException (`NotAllowedError`, …), or the value as text.
pub(crate) fn error_name(error: &wasm_bindgen::JsValue) -> String {
    use wasm_bindgen::JsCast;
    match error.dyn_ref::<web_sys::DomException>() {
        Some(exception) => exception.name(),
        None => error.as_string().unwrap_or_else(|| format!("{error:?}")),
    }
}

/// Puts `text` on the clipboard; fails where the browser refuses (no permission, or not
/// a secure page).
pub async fn copy_to_clipboard(text: &str) -> Result<(), String> {
    let clipboard = web_sys::window()
        .ok_or("no window")?
        .navigator()
        .clipboard();
    wasm_bindgen_futures::JsFuture::from(clipboard.write_text(text))
        .await
        .map(drop)
        .map_err(|e| error_name(&e))
}

/// This page's origin, e.g. `https://calls.example.org`.
pub fn page_origin() -> Option<String> {
    web_sys::window()?.location().origin().ok()
}
