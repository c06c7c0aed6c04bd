//! `osprey serve --config osprey.toml`: the wiring. A tokio runtime; the
//! configuration loaded; the one device and the one store opened (the data
//! directory made when missing); the [`Engine`] started; the HTTP router
//! served on the configured listener; SIGHUP reloads the file, SIGTERM and
//! SIGINT stop the listener, then the engine, within
//! [`shutdown::BOUND`].
//!
//! (Until the http and observe work lands, the router serves `/api`, the
//! dashboard, `/healthz` and `/readyz` without the Kinesis API and
//! `/metrics`.)

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use osprey_kernels::Device;
use tokio::signal::unix::{SignalKind, signal};
use tracing::{error, info};

use super::control::Control;
use super::engine::{Engine, shutdown};

/// How long open HTTP connections (a live event feed among them) get to end
/// once the listener stops accepting.
const HTTP_DRAIN: Duration = Duration::from_secs(1);

/// How often the store's retention runs.
const RETENTION_EVERY: Duration = Duration::from_secs(60);

/// Runs the server the file at `path` declares until SIGTERM or SIGINT.
///
/// # Errors
/// A configuration that does not load, a device, store, stream or listener
/// that cannot be opened, a piece that does not start; and pieces that did
/// not stop within the bound.
pub fn run_config(path: &Path) -> Result<()> {
    let config = super::config::load(path).map_err(|e| crate::exit::UsageError(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("osprey-http")
        .build()
        .context("cannot start the async runtime")?;
    let device = Device::open(config.backend)?;
    std::fs::create_dir_all(&config.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {:?}",
            config.data_dir.display().to_string()
        )
    })?;
    let store = Arc::new(crate::stream::open_store(
        &config.data_dir,
        config.durability,
    )?);
    let _retention = store.spawn_retention(RETENTION_EVERY);
    let listen = config.http.listen.clone();
    let token = config
        .http
        .bearer_token()
        .map_err(crate::exit::UsageError)?;
    let engine = Engine::start(config, device, store)?;
    let result = runtime.block_on(serve(Arc::clone(&engine), path.to_owned(), listen, token));
    drop(runtime);
    result
}

/// Serves HTTP and answers signals; stops everything on SIGTERM or SIGINT.
async fn serve(
    engine: Arc<Engine>,
    path: PathBuf,
    listen: String,
    token: Option<String>,
) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let _ = writeln!(std::io::stderr(), "osprey: serving on http://{addr}");
    let control: Arc<dyn Control> = Arc::clone(&engine) as Arc<dyn Control>;
    // The Kinesis API and /metrics join once the http and observe work lands.
    let app = super::router::build(control, axum::Router::new(), axum::Router::new(), token);
    let (stop_http, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    loop {
        tokio::select! {
            _ = hup.recv() => {
                let (engine, path) = (Arc::clone(&engine), path.clone());
                let reloaded = tokio::task::spawn_blocking(move || engine.reload(&path)).await;
                match reloaded {
                    Ok(Ok(())) => info!("Configuration reloaded."),
                    Ok(Err(e)) => error!(error = %format!("{e:#}"), "Reload failed."),
                    Err(e) => error!(error = %e, "Reload failed."),
                }
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    info!("Stopping.");
    let _ = stop_http.send(());
    let drained = tokio::time::timeout(HTTP_DRAIN, server).await;
    if drained.is_err() {
        info!("HTTP connections still open were closed.");
    }
    let stopping = Arc::clone(&engine);
    tokio::task::spawn_blocking(move || stopping.shutdown(shutdown::BOUND))
        .await
        .context("the shutdown failed")?
}
