//! Everything that runs only in the server binary.

pub mod assets;
pub mod cluster;
pub mod config;
pub mod connection;
pub mod ice;
pub mod limits;
pub mod listener;
pub mod mailbox;
pub mod metrics;
pub mod registry;
pub mod relay;
pub mod room;
pub mod rooms;
pub mod seats;
pub mod site;
pub mod sockets;
pub mod tls;
pub mod tokens;

use crate::app::{shell, App};
use crate::call_chunks::CallChunks;
use crate::components::join_card;
use crate::protocol::signaling::{
    validate_name, validate_room, IceCheck, ICE_CHECK_PATH, SIGNALING_PATH,
};
use axum::extract::{FromRef, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use axum_server::accept::NoDelayAcceptor;
use config::{Config, Secret};
use connection::Hub;
use ice::IceConfig;
use leptos::config::LeptosOptions;
use leptos_axum::{generate_route_list, LeptosRoutes};
use limits::{OriginPolicy, PerIpLimit};
use listener::Capped;
use metrics::Metrics;
use registry::Registry;
use rooms::{RoomRules, Rooms};
use sockets::OpenSockets;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tls::TlsSetup;
use tokens::{token_lifetime, ResumeTokens};
use tokio_util::task::TaskTracker;
use tower_http::set_header::SetResponseHeaderLayer;

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
///
/// cargo-leptos hashes asset names and writes the hashes to `hash.txt` beside the binary,
/// but tells the server so only when it starts the server itself; a binary started by hand
/// (or by a test) finds the file and uses the hashed names too.
pub fn leptos_options() -> Result<LeptosOptions, leptos::config::errors::LeptosConfigError> {
    let mut options = leptos::config::get_configuration(None)?.leptos_options;
    if std::env::var_os("LEPTOS_HASH_FILES").is_none() {
        options.hash_files = std::env::current_exe()
            .ok()
            .and_then(|exe| Some(exe.parent()?.join(&*options.hash_file)))
            .is_some_and(|hashes| hashes.is_file());
    }
    Ok(options)
}

/// Headers on every response (pages add their CSP themselves, see `app::shell`).
fn security_headers(router: Router, https: bool) -> Router {
    let mut headers = vec![
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // Invite links hold the room key: never send them on to other sites. Not
        // `no-referrer`: with it, Firefox (ESR 153) says `Sec-Fetch-Site: none` after a
        // same-origin redirect, and the home form sent before the app (`join_link`)
        // would land on the join card as if the link came from elsewhere.
        (header::REFERRER_POLICY, "same-origin"),
        (
            HeaderName::from_static("permissions-policy"),
            "camera=(self), microphone=(self), display-capture=(self), geolocation=()",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    if https {
        headers.push((header::STRICT_TRANSPORT_SECURITY, "max-age=31536000"));
    }
    headers.into_iter().fold(router, |router, (name, value)| {
        router.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ))
    })
}

/// The whole HTTP surface: pages (server-rendered, then hydrated), static files, the
/// signaling socket, health checks and metrics.
pub fn router(leptos_options: LeptosOptions, hub: Arc<Hub>, https: bool) -> Router {
    let hashed_pkg_prefix: Option<Arc<str>> = leptos_options
        .hash_files
        .then(|| format!("/{}/", leptos_options.site_pkg_dir.trim_matches('/')).into());
    let state = AppState {
        leptos_options: leptos_options.clone(),
        hub,
    };
    let call_chunks = CallChunks(assets::call_chunks(&state.leptos_options).to_vec());
    let router = Router::new()
        .route(SIGNALING_PATH, get(connection::ws_route))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route(ICE_CHECK_PATH, get(ice_check))
        .leptos_routes_with_context(
            &state,
            generate_route_list(App),
            move || leptos::prelude::provide_context(call_chunks.clone()),
            move || shell(leptos_options.clone()),
        )
        // Static files, precompressed (see `assets`), else the not-found page.
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .with_state(state)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            listener::MAX_REQUEST_BODY_BYTES,
        ))
        .layer(axum::middleware::from_fn(join_link))
        .layer(axum::middleware::from_fn(move |request, next| {
            assets::caching_headers(hashed_pkg_prefix.clone(), request, next)
        }));
    security_headers(router, https)
}

/// The ICE servers a browser would be given on joining, with credentials of their own,
/// for the connection check (`components/connection_check.rs`): anyone may join any room,
/// so this hands out nothing a join would not. Never cached: the credentials expire.
async fn ice_check(State(hub): State<Arc<Hub>>) -> impl IntoResponse {
    // An id of its own, so that checks run at once do not share a relay quota.
    let id = crate::protocol::signaling::PeerId(rand::random::<u32>().into());
    let check = IceCheck {
        ice_servers: hub.ice.servers_for(id, std::time::SystemTime::now()),
    };
    ([(header::CACHE_CONTROL, "no-store")], axum::Json(check))
}

/// The home form sent before the app had loaded (a slow link, or no JavaScript):
/// `/?name=…&room=…` with both valid goes straight to the call. Anything else is the
/// home page, which shows what is wrong with what was typed. The join card's form
/// (`from=card`) says which devices stay off by leaving their switches out; the call
/// link it goes on to says so as `?microphone=off` or `?camera=off`.
async fn join_link(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if request.uri().path() == "/" {
        let fields =
            axum::extract::Query::<std::collections::HashMap<String, String>>::try_from_uri(
                request.uri(),
            )
            .map(|query| query.0)
            .unwrap_or_default();
        let field = |key: &str| fields.get(key).map(String::as_str);
        if let (Some(name), Some(room)) = (field("name"), field("room")) {
            if let (Ok(name), Ok(room)) = (validate_name(name), validate_room(room)) {
                let mut to = format!("/call/{}/{}", path_segment(name), path_segment(room));
                if field("from") == Some(join_card::FROM_CARD) {
                    let off = [join_card::MICROPHONE, join_card::CAMERA]
                        .into_iter()
                        .filter(|device| field(device).is_none())
                        .map(|device| format!("{device}=off"))
                        .collect::<Vec<_>>();
                    if !off.is_empty() {
                        to = format!("{to}?{}", off.join("&"));
                    }
                }
                return axum::response::Redirect::to(&to).into_response();
            }
        }
    }
    next.run(request).await
}

/// `text` as one segment of a URL path, escaped as the browser's encodeURIComponent does.
fn path_segment(text: &str) -> String {
    const KEPT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'!')
        .remove(b'~')
        .remove(b'*')
        .remove(b'\'')
        .remove(b'(')
        .remove(b')');
    percent_encoding::utf8_percent_encode(text, KEPT).to_string()
}

/// Ready while accepting calls; 503 once shutting down, or while the Redis that rooms
/// are shared through does not answer, so a balancer sends new people elsewhere.
async fn readyz(State(hub): State<Arc<Hub>>) -> impl IntoResponse {
    if hub.sockets.going() {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down")
    } else if !hub.rooms.ready() {
        (StatusCode::SERVICE_UNAVAILABLE, "Redis unreachable")
    } else {
        (StatusCode::OK, "ready")
    }
}

async fn metrics(State(hub): State<Arc<Hub>>) -> impl IntoResponse {
    let (rooms, seats) = hub.rooms.counts();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        hub.metrics.render(rooms, seats),
    )
}

/// Serves the app on `listener` (over TLS with `tls`) until `shutdown` completes; then
/// stops accepting, tells every signaling client it is going away, and waits (at most
/// [`GOODBYE_TIMEOUT`]) for them to be told.
pub async fn serve(
    listener: std::net::TcpListener,
    config: &Config,
    tls: Option<TlsSetup>,
    leptos_options: LeptosOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let secret = match &config.calls.resume_secret {
        Some(secret) => secret.expose().as_bytes().to_vec(),
        None => rand::random::<[u8; 32]>().to_vec(),
    };
    let connections = TaskTracker::new();
    let metrics = Arc::new(Metrics::new());
    let relay = match config.relay.turn_listen {
        Some(listen) => {
            // Unset, a secret of this start's own: no other server shares the relay.
            let turn_secret = config.ice.turn_secret.clone().unwrap_or_else(|| {
                let bytes: [u8; 32] = rand::random();
                Secret::from(bytes.map(|b| format!("{b:02x}")).concat().as_str())
            });
            let relay = relay::Relay::start(
                &config.relay,
                listen,
                turn_secret.clone(),
                metrics.turn.clone(),
            )
            .await?;
            tracing::info!(address = %relay.local, "TURN relay listening on UDP and TCP");
            Some((relay, turn_secret))
        }
        None => None,
    };
    let ice = match &relay {
        Some((relay, secret)) => {
            IceConfig::with_relay(&config.ice, relay.urls.clone(), secret.clone())
        }
        None => IceConfig::new(&config.ice),
    };
    let ice = Arc::new(ice);
    let rules = RoomRules {
        capacity: config.calls.room_capacity,
        ice: ice.clone(),
        tokens: ResumeTokens::new(
            &secret,
            token_lifetime(
                config.connections.resume_grace,
                config.connections.heartbeat_interval,
            ),
        ),
        max_file_bytes: config.calls.max_file_bytes,
        upload_budget: config.calls.upload_budget,
    };
    let rooms = match &config.cluster.redis_url {
        None => Registry::Local(Rooms::new(rules)),
        Some(url) => Registry::Shared(
            cluster::SharedRooms::start(
                url.expose(),
                &config.cluster.redis_prefix,
                rules,
                cluster::Timing {
                    liveness: config.cluster.server_liveness,
                    grace: config.connections.resume_grace,
                },
                metrics.redis.clone(),
                match &config.cluster.redis_ca {
                    Some(ca) => Some(std::fs::read(ca).map_err(|e| {
                        std::io::Error::other(format!("cannot read redis_ca {}: {e}", ca.display()))
                    })?),
                    None => None,
                },
                config.connections.max_message_bytes,
            )
            .await
            .map_err(|e| std::io::Error::other(format!("cannot reach Redis: {e}")))?,
        ),
    };
    let hub = Arc::new(Hub {
        rooms: Arc::new(rooms),
        ice,
        metrics: metrics.clone(),
        origins: OriginPolicy::new(&config.connections.allowed_origins),
        per_ip: PerIpLimit::new(
            config.connections.max_connections_per_ip,
            config.connections.ipv6_prefix,
        ),
        rate: limits::RateRule::new(config.connections.rate_limit, config.connections.rate_burst),
        settings: config.connections.clone(),
        sockets: OpenSockets::default(),
        connections: connections.clone(),
    });
    let registry = hub.rooms.clone();
    tokio::spawn({
        let hub = hub.clone();
        async move { hub.sockets.heartbeat(hub.settings.heartbeat_interval).await }
    });
    let everyone = hub.clone();
    let https = config.tls.has_certificate_files();
    // Until the copies exist (a second or two after a fresh build), files go out as they are.
    let site_root = std::path::PathBuf::from(&*leptos_options.site_root);
    let pkg = site_root.join(&*leptos_options.site_pkg_dir);
    tokio::task::spawn_blocking(move || {
        if assets::unsplit_client(&pkg) {
            tracing::error!(
                "{} holds a client built without --split, which browsers cannot start; \
                 build it with `make build` or `cargo leptos build --split`",
                pkg.display()
            );
        }
        match assets::precompress(&site_root) {
            Ok(0) => {}
            Ok(written) => tracing::info!(written, "compressed static files"),
            Err(e) => tracing::warn!("cannot precompress {}: {e}", site_root.display()),
        }
    });
    let app =
        router(leptos_options, hub, https).into_make_service_with_connect_info::<SocketAddr>();
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        // Seats first: the people told to go next may resume on another server at once.
        registry.hand_off().await;
        everyone.sockets.all_go();
        // Plain HTTP requests get the same bound; sockets are waited for below.
        stopper.graceful_shutdown(Some(GOODBYE_TIMEOUT));
    });
    listener.set_nonblocking(true)?;
    // Signaling is small messages answered by small messages: without TCP_NODELAY, Nagle's
    // algorithm holds a reply back until the previous one is acknowledged.
    let mut server = axum_server::from_tcp(listener)?.handle(handle);
    listener::limit_requests(server.http_builder());
    let cap = config.connections.max_connections as usize;
    match tls {
        Some(tls) => {
            // Counted before the handshake, whose own limit (10 s) rustls keeps.
            let acceptor =
                axum_server::tls_rustls::RustlsAcceptor::new(tls.rustls).acceptor(NoDelayAcceptor);
            let acceptor = Capped::new(acceptor, cap, metrics);
            server.acceptor(acceptor).serve(app).await?
        }
        None => {
            let acceptor = Capped::new(NoDelayAcceptor, cap, metrics);
            server.acceptor(acceptor).serve(app).await?
        }
    }
    if let Some((relay, _)) = &relay {
        relay.stop().await;
    }
    connections.close();
    if tokio::time::timeout(GOODBYE_TIMEOUT, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not close in time");
    }
    Ok(())
}
