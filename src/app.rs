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

/// Whether `path` is a call link `CallScreen` will start a call for (the same checks): an
/// invalid link must not turn the camera on.
#[cfg(feature = "ssr")]
fn starts_a_call(path: &str) -> bool {
    use crate::protocol::signaling::{validate_name, validate_room};
    use leptos_router::location::Url;
    let Some(rest) = path.strip_prefix("/call/") else {
        return false;
    };
    let mut segments = rest.split('/');
    match (segments.next(), segments.next(), segments.next()) {
        (Some(user), Some(room), None) => {
            validate_name(&Url::unescape(user)).is_ok()
                && validate_room(&Url::unescape(room)).is_ok()
        }
        _ => false,
    }
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
        .is_some_and(|request| starts_a_call(request.uri.path()))
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

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::starts_a_call;

    #[test]
    fn only_a_valid_call_link_asks_for_the_camera_early() {
        assert!(starts_a_call("/call/alice/room1"));
        assert!(starts_a_call("/call/Zo%C3%AB%20Martin/k3j4h5g6f7d8"));
        assert!(!starts_a_call("/"));
        assert!(!starts_a_call("/call/alice"));
        assert!(!starts_a_call("/call/alice/not%20valid"));
        assert!(!starts_a_call("/call/%20/room1"));
        assert!(!starts_a_call("/call/alice/room1/extra"));
        assert!(!starts_a_call("/calls/alice/room1"));
    }
}
