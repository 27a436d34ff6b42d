//! Tandem: peer-to-peer video calls. One crate, built twice: the server (`ssr`) and the
//! browser client (`hydrate`, compiled to WebAssembly).
//!
//! What cannot fail is said one way: `.expect("why it cannot fail")`. A bare `unwrap`
//! outside tests says nothing of why, so it is refused.

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod app;
pub mod browser;
pub mod call_state;
pub mod components;
pub mod early_media;
pub mod mesh;
pub mod pages;
pub mod protocol;
pub mod stats;

#[cfg(feature = "hydrate")]
pub mod client;
#[cfg(feature = "ssr")]
pub mod server;

/// Entry point the generated JavaScript calls once the page has loaded.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    // Readable panics in the console while developing; a release build leaves the hook's
    // formatting code out (issue 13: bytes before the call starts).
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
    // Lazy routes (the call screen) load their chunk before hydrating it.
    leptos::mount::hydrate_lazy(app::App);
    // Marks the page live: buttons work from here on (tests wait for it too).
    if let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    {
        let _ = root.set_attribute("data-hydrated", "true");
    }
}
