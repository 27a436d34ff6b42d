//! Tandem: peer-to-peer video calls. One crate, built twice: the server (`ssr`) and the
//! browser client (`hydrate`, compiled to WebAssembly).
//!
//! What cannot fail is said one way: `.expect("why it cannot fail")`. A bare `unwrap`
//! outside tests says nothing of why, so it is refused.

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod app;
pub mod browser;
pub mod call_chunks;
pub mod call_state;
pub mod components;
pub mod early_media;
pub mod i18n;
pub mod mesh;
pub mod pages;
pub mod protocol;
pub mod stats;
pub mod webm;

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
    // Lazy routes (the call screen) load their chunks before they hydrate, so hydration
    // finishes asynchronously (as `hydrate_lazy` does it, then marking the page).
    wasm_bindgen_futures::spawn_local(async {
        let document = web_sys::window().and_then(|w| w.document());
        let Some(body) = document.as_ref().and_then(|d| d.body()) else {
            return;
        };
        leptos::mount::hydrate_from_async(body, app::App)
            .await
            .forget();
        // Marks the page live: buttons work from here on (tests wait for it too).
        if let Some(root) = document.and_then(|d| d.document_element()) {
            let _ = root.set_attribute(early_media::HYDRATED, "true");
        }
    });
}
