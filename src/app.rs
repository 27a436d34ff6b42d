//! The HTML shell and the routes.

use crate::pages::{call::CallScreen, home::HomeScreen};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::{path, StaticSegment};

/// Where a call page's inline script leaves its camera request for the app to pick up.
pub const EARLY_MEDIA: &str = "__tandemEarlyMedia";

/// Asks for the camera and microphone as soon as a call page's HTML arrives, while the
/// app's wasm is still loading: the two used to happen one after the other, and the
/// camera alone takes ~150 ms to start. `media::acquire` takes the promise over (the same
/// request it would make itself), so success and refusal are handled in one place.
#[cfg(feature = "ssr")]
fn early_media_script() -> String {
    format!(
        "if(navigator.mediaDevices&&navigator.mediaDevices.getUserMedia){{\
         window.{EARLY_MEDIA}=navigator.mediaDevices.getUserMedia({{audio:true,video:true}});\
         window.{EARLY_MEDIA}.catch(function(){{}})}}"
    )
}

pub fn shell(options: LeptosOptions) -> impl IntoView {
    // The page's Content-Security-Policy names the nonce of this response's inline scripts.
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) {
        if let Ok(csp) = crate::server::page_csp(&nonce).parse() {
            response.insert_header(axum::http::header::CONTENT_SECURITY_POLICY, csp);
        }
    }
    // Only a call page asks for the camera; a page reached by the app's own navigation
    // has no such script and the app asks itself.
    #[cfg(feature = "ssr")]
    let early_media = use_context::<axum::http::request::Parts>()
        .is_some_and(|request| request.uri.path().starts_with("/call/"))
        .then(
            || view! { <script nonce=leptos::nonce::use_nonce()>{early_media_script()}</script> },
        );
    #[cfg(not(feature = "ssr"))]
    let early_media: Option<()> = None;
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="dark light"/>
                {early_media}
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                // Named by its content hash when cargo-leptos hashes files (see Cargo.toml).
                <HashedStylesheet options=options.clone() id="leptos"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="Tandem"/>
        <Router>
            <main>
                <Routes fallback=NotFound>
                    <Route path=StaticSegment("") view=HomeScreen/>
                    <Route path=path!("/call/:user/:room") view=CallScreen/>
                </Routes>
            </main>
        </Router>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    view! {
        <section class="panel">
            <h1>"Page not found"</h1>
            <A href="/">"Home"</A>
        </section>
    }
}
