//! Everything that runs only in the server binary.

pub mod config;
pub mod rooms;
pub mod signaling;
pub mod tokens;

use crate::app::{shell, App};
use crate::protocol::SIGNALING_PATH;
use axum::extract::FromRef;
use axum::routing::get;
use axum::Router;
use config::Config;
use leptos::config::LeptosOptions;
use leptos_axum::{generate_route_list, LeptosRoutes};
use rooms::{RoomRules, Rooms};
use signaling::Hub;
use std::sync::Arc;
use std::time::Duration;
use tokens::ResumeTokens;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

/// How long shutdown waits for open sockets to say goodbye before giving up on them.
pub const GOODBYE_TIMEOUT: Duration = Duration::from_secs(3);

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub hub: Arc<Hub>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl FromRef<AppState> for Arc<Hub> {
    fn from_ref(state: &AppState) -> Self {
        state.hub.clone()
    }
}

/// Leptos's own settings (site root, output name): from the variables cargo-leptos sets,
/// else the defaults, which fit a binary started from the project folder. The output name
/// is compiled in (see .cargo/config.toml).
pub fn leptos_options() -> Result<LeptosOptions, leptos::config::errors::LeptosConfigError> {
    Ok(leptos::config::get_configuration(None)?.leptos_options)
}

/// The whole HTTP surface: pages (server-rendered, then hydrated), static files, and the
/// signaling socket.
pub fn router(leptos_options: LeptosOptions, hub: Arc<Hub>) -> Router {
    let state = AppState {
        leptos_options: leptos_options.clone(),
        hub,
    };
    Router::new()
        .route(SIGNALING_PATH, get(signaling::ws_route))
        .leptos_routes(&state, generate_route_list(App), move || {
            shell(leptos_options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .with_state(state)
}

/// Serves the app on `listener` until `shutdown` completes; then stops accepting, tells
/// every signaling client it is going away, and waits (at most [`GOODBYE_TIMEOUT`]) for
/// them to be told.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: &Config,
    leptos_options: LeptosOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let secret = match &config.resume_secret {
        Some(secret) => secret.as_bytes().to_vec(),
        None => rand::random::<[u8; 32]>().to_vec(),
    };
    let (going_away_tx, going_away) = watch::channel(false);
    let connections = TaskTracker::new();
    let hub = Arc::new(Hub {
        rooms: Arc::new(Rooms::new(RoomRules {
            capacity: config.room_capacity,
            ice_servers: config.ice_servers.clone(),
            tokens: ResumeTokens::new(&secret),
            max_file_bytes: config.max_file_bytes,
        })),
        heartbeat_interval: config.heartbeat_interval,
        heartbeat_timeout: config.heartbeat_timeout,
        resume_grace: config.resume_grace,
        going_away,
        connections: connections.clone(),
    });
    let stop = async move {
        shutdown.await;
        let _ = going_away_tx.send(true);
    };
    axum::serve(listener, router(leptos_options, hub))
        .with_graceful_shutdown(stop)
        .await?;
    connections.close();
    if tokio::time::timeout(GOODBYE_TIMEOUT, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not close in time");
    }
    Ok(())
}
