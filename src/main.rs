//! The server binary: read the configuration, serve pages and signaling.

#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    use clap::Parser;
    use std::process::ExitCode;
    use tandem::server::config::{Cli, Config};

    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tandem=info".into()),
        )
        .init();

    let cli = Cli::parse();
    let config = match Config::load(&cli) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("tandem: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let leptos_options = match tandem::server::leptos_options() {
        Ok(options) => options,
        Err(e) => {
            eprintln!("tandem: leptos configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("tandem: cannot listen on {}: {e}", config.listen);
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        // Printed on stdout so scripts and tests started with port 0 learn the port.
        Ok(addr) => println!("tandem listening on http://{addr}"),
        Err(e) => tracing::warn!("cannot read the bound address: {e}"),
    }
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    if let Err(e) = tandem::server::serve(listener, &config, leptos_options, shutdown).await {
        eprintln!("tandem: server error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

#[cfg(not(feature = "ssr"))]
pub fn main() {
    // The client is a library loaded by the browser (see lib.rs); there is no native
    // client binary.
}
