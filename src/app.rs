//! The HTML shell and the routes.

use crate::i18n::*;
use crate::pages::{call::CallRoute, home::HomeScreen};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, Html, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::{path, Lazy, StaticSegment};

/// The Content-Security-Policy of a page whose inline scripts carry `nonce`. Scripts run
/// only from this origin or with the nonce; WebAssembly may compile; nothing is framed.
#[cfg(feature = "ssr")]
fn page_csp(nonce: &str) -> String {
    let mut connect = String::from("'self'");
    // `cargo leptos watch` reloads the page over a socket on its own port.
    if let (Ok(_), Ok(port)) = (
        std::env::var("LEPTOS_WATCH"),
        std::env::var("LEPTOS_RELOAD_PORT"),
    ) {
        connect.push_str(&format!(" ws://127.0.0.1:{port} ws://localhost:{port}"));
    }
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; \
         media-src 'self' blob: mediastream:; connect-src {connect}; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

pub fn shell(options: LeptosOptions) -> impl IntoView {
    // The page's Content-Security-Policy names the nonce of this response's inline scripts.
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) {
        if let Ok(csp) = page_csp(&nonce).parse() {
            response.insert_header(axum::http::header::CONTENT_SECURITY_POLICY, csp);
        }
    }
    // A call page asks for the camera and takes its seat before the app is there (the
    // seat at once, or when Join now is pressed on the join card); a page reached by the
    // app's own navigation has no such scripts and the app does both itself.
    #[cfg(feature = "ssr")]
    let call_scripts = use_context::<axum::http::request::Parts>().and_then(|request| {
        use crate::early_media::{
            call_link, came_through_tandem, script, socket_script, EarlyJoin,
        };
        let (user, room) = call_link(request.uri.path())?;
        let when = match came_through_tandem(&request.headers) {
            true => EarlyJoin::AtOnce(&user),
            false => EarlyJoin::OnJoinNow,
        };
        let socket = socket_script(when, &room);
        let nonce = leptos::nonce::use_nonce();
        Some(view! {
            <script nonce=nonce.clone()>{script()}</script>
            <script nonce=nonce>{socket}</script>
        })
    });
    #[cfg(not(feature = "ssr"))]
    let call_scripts: Option<()> = None;
    // The home page names the call screen's files, to fetch them while the person types.
    #[cfg(feature = "ssr")]
    let call_chunks = use_context::<axum::http::request::Parts>()
        .is_some_and(|request| request.uri.path() == "/")
        .then(use_context::<crate::call_chunks::CallChunks>)
        .flatten()
        .map(|chunks| view! { <meta name=crate::call_chunks::META content=chunks.content()/> });
    #[cfg(not(feature = "ssr"))]
    let call_chunks: Option<()> = None;
    view! {
        <!DOCTYPE html>
        // `lang` is the page's language, set by App (src/i18n.rs).
        <html>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="dark light"/>
                {call_scripts}
                {call_chunks}
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
    // The page's language (src/i18n.rs): picked by the server, read back by the app.
    let language = provide_language();
    view! {
        <Html attr:lang=lang_attribute(language)/>
            <Title text="Tandem"/>
            <Router>
                <main>
                    <Routes fallback=NotFound>
                        <Route path=StaticSegment("") view=HomeScreen/>
                        // The call screen is its own wasm chunk: the home page never loads it, and a call
                        // link fetches it alongside the main one (preload links from the server).
                        <Route path=path!("/call/:user/:room") view={Lazy::<CallRoute>::new()}/>
                    </Routes>
                </main>
            </Router>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <section class="panel">
            <h1>{move || td_string!(i18n.get_locale(), common.not_found)}</h1>
            <A href="/">{move || td_string!(i18n.get_locale(), common.home)}</A>
        </section>
    }
}
