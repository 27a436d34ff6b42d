//! The server binary: read the configuration, serve pages and signaling.

/// Longest a shutdown may take after the signal.
#[cfg(feature = "ssr")]
const SHUTDOWN_LIMIT: std::time::Duration = std::time::Duration::from_secs(8);

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
#[cfg(feature = "ssr")]
async fn stop_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    use std::process::ExitCode;
    use tandem::server::config::{Config, ConfigError, LogFormat};

    let config = match Config::load(std::env::args_os()) {
        Ok(config) => config,
        // --help and --version, or a flag clap does not know: printed as clap prints them
        // (an unknown flag exits 2, like any bad setting).
        Err(ConfigError::Usage(usage)) => usage.exit(),
        Err(e) => {
            eprintln!("tandem: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    // Logs go to stderr; stdout carries only what scripts read (the address, and a
    // generated certificate's fingerprint).
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::new(&config.log.log_level));
    match config.log.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().with_current_span(true).init(),
    }
    let tls = match config
        .tls
        .source()
        .as_ref()
        .map(tandem::server::tls::setup)
        .transpose()
    {
        Ok(tls) => tls,
        Err(e) => {
            eprintln!("tandem: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut leptos_options = match tandem::server::leptos_options() {
        Ok(options) => options,
        Err(e) => {
            eprintln!("tandem: leptos configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    // Kept until the server stops: the folder the site it carries is unpacked into.
    let _unpacked = match tandem::server::site::unpack_if_packed(&mut leptos_options) {
        Ok(unpacked) => unpacked,
        Err(why) => {
            eprintln!("tandem: {why}");
            return ExitCode::from(2);
        }
    };
    if let Err(why) = tandem::server::assets::check_site(&leptos_options) {
        eprintln!("tandem: {why}");
        return ExitCode::from(2);
    }
    let listener = match std::net::TcpListener::bind(config.listen) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("tandem: cannot listen on {}: {e}", config.listen);
            return ExitCode::FAILURE;
        }
    };
    if let Some((hosts, fingerprint)) = tls.as_ref().and_then(|t| t.self_signed.as_ref()) {
        println!(
            "self-signed certificate for {}; SHA-256 fingerprint {fingerprint}",
            hosts.join(", ")
        );
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    match listener.local_addr() {
        // Printed on stdout so scripts and tests started with port 0 learn the port.
        Ok(addr) => println!("tandem listening on {scheme}://{addr}"),
        Err(e) => tracing::warn!("cannot read the bound address: {e}"),
    }
    // On SIGINT/SIGTERM: stop accepting, say goodbye to every socket, and exit within
    // SHUTDOWN_LIMIT even if some HTTP client lingers.
    let (stopping_tx, stopping) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        stop_signal().await;
        tracing::info!("shutting down");
        let _ = stopping_tx.send(());
    };
    let server = tandem::server::serve(listener, &config, tls, leptos_options, shutdown);
    let deadline = async {
        if stopping.await.is_ok() {
            tokio::time::sleep(SHUTDOWN_LIMIT).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        served = server => if let Err(e) = served {
            eprintln!("tandem: server error: {e}");
            return ExitCode::FAILURE;
        },
        () = deadline => tracing::warn!("shutdown took too long; exiting anyway"),
    }
    ExitCode::SUCCESS
}

#[cfg(not(feature = "ssr"))]
pub fn main() {
    // The client is a library loaded by the browser (see lib.rs); there is no native
    // client binary.
}
