//! Everything that runs only in the server binary.

pub mod config;
pub mod rooms;
pub mod signaling;

use crate::app::{shell, App};
use crate::protocol::SIGNALING_PATH;
use axum::extract::FromRef;
use axum::routing::get;
use axum::Router;
use config::Config;
use leptos::config::LeptosOptions;
use leptos_axum::{generate_route_list, LeptosRoutes};
use rooms::Rooms;
use std::sync::Arc;

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub rooms: Arc<Rooms>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl FromRef<AppState> for Arc<Rooms> {
    fn from_ref(state: &AppState) -> Self {
        state.rooms.clone()
    }
}

/// Leptos's own settings (site root, output name), from the variables cargo-leptos sets,
/// with defaults that fit a binary started by hand from the project folder.
pub fn leptos_options() -> Result<LeptosOptions, leptos::config::errors::LeptosConfigError> {
    let mut options = leptos::config::get_configuration(None)?.leptos_options;
    if options.output_name.is_empty() {
        options.output_name = env!("CARGO_PKG_NAME").into();
    }
    Ok(options)
}

/// The whole HTTP surface: pages (server-rendered, then hydrated), static files, and the
/// signaling socket.
pub fn router(config: &Config, leptos_options: LeptosOptions) -> Router {
    let state = AppState {
        leptos_options: leptos_options.clone(),
        rooms: Arc::new(Rooms::new(config.room_capacity, config.ice_servers.clone())),
    };
    Router::new()
        .route(SIGNALING_PATH, get(signaling::ws_route))
        .leptos_routes(&state, generate_route_list(App), move || {
            shell(leptos_options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .with_state(state)
}

/// Serves the app on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: &Config,
    leptos_options: LeptosOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(config, leptos_options))
        .with_graceful_shutdown(shutdown)
        .await
}
