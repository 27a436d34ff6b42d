//! The call's tiles as the page shows them, read back from the page: for what draws or
//! shows the call elsewhere (a recording, the pop-out window).

use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlVideoElement};

/// The name under a tile.
pub fn caption(tile: &Element) -> String {
    tile.query_selector("figcaption")
        .ok()
        .flatten()
        .and_then(|c| c.text_content())
        .unwrap_or_default()
}

/// A tile's video element.
pub fn video(tile: &Element) -> Option<HtmlVideoElement> {
    tile.query_selector("video").ok().flatten()?.dyn_into().ok()
}
