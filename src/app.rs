//! The HTML shell and the routes.

use crate::pages::{call::CallScreen, home::HomeScreen};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::{path, StaticSegment};

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
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="dark light"/>
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
