//! `osprey serve --config osprey.toml`: the wiring. A tokio runtime; the
//! configuration loaded; the one device and the one store opened (the data
//! directory made when missing); the [`Engine`] started; the HTTP router
//! served on the configured listener; SIGHUP reloads the file, SIGTERM and
//! SIGINT stop the listener, then the engine, within
//! [`shutdown::BOUND`].
//!
//! One listener ([`HttpServer`]: connection slots, timeouts, bounded bodies,
//! TLS when configured) serves the whole router: the Kinesis API on the
//! engine's store (a cluster worker's on JetStream for the cluster's
//! streams), the Kinesis Video Streams API on the video store of the
//! same data directory, `/api`, the dashboard, `/metrics`, `/healthz`,
//! `/readyz`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use osprey_ingest::http::{HttpServer, HttpServerConfig, Timeouts, TlsFiles};
use osprey_ingest::kinesis::KinesisApi;
use osprey_kernels::Device;
use osprey_video::kvs::KvsApi;
use tokio::signal::unix::{SignalKind, signal};
use tracing::{error, info};

use super::control::Control;
use super::engine::{Engine, shutdown};

/// How long open HTTP connections (a live event feed among them) get to end
/// once the listener stops accepting.
const HTTP_DRAIN: Duration = Duration::from_secs(1);

/// The listener's patience with peers (`osprey serve --http`'s defaults).
const TIMEOUTS: Timeouts = Timeouts {
    first_byte: Duration::from_secs(5),
    idle: Duration::from_secs(60),
    request: Duration::from_secs(30),
};

/// How long a Kinesis shard iterator stays valid (as Kinesis).
const ITERATOR_LIFETIME: Duration = Duration::from_secs(300);

/// How long the last holders of the store get to let it go at the end.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// How often the store's retention runs.
const RETENTION_EVERY: Duration = Duration::from_secs(60);

/// Runs the server the file at `path` declares until SIGTERM or SIGINT;
/// with `cluster` (`--cluster URL`) or a `[cluster]` table, as a worker of
/// that cluster, `worker` (`--worker-id`) its id.
///
/// # Errors
/// A configuration that does not load, a device, store, stream or listener
/// that cannot be opened, a piece that does not start; and pieces that did
/// not stop within the bound.
pub fn run_config(path: &Path, cluster: Option<&str>, worker: Option<&str>) -> Result<()> {
    let mut config =
        super::config::load(path).map_err(|e| crate::error::UsageError(e.to_string()))?;
    super::cluster::apply_flags(&mut config, cluster, worker)?;
    // Before anything counts: the libraries' counters are made as their
    // pieces start, and those made before a recorder exists count nothing.
    let metrics = super::metrics::install()?;
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
    let store = Arc::new(crate::store::open_store(
        &config.data_dir,
        config.durability,
    )?);
    let _retention = store.spawn_retention(RETENTION_EVERY);
    let http = HttpServerConfig {
        addr: config.http.listen.clone(),
        max_connections: config.http.max_connections(),
        timeouts: TIMEOUTS,
        tls: match (&config.http.tls_cert, &config.http.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        },
    };
    let token = config
        .http
        .bearer_token()
        .map_err(crate::error::UsageError)?;
    // Read again from the environment (checked when the file was loaded).
    let credentials = config
        .http
        .credentials()
        .map_err(|(_, m)| crate::error::UsageError(format!("http: {m}")))?;
    let cluster = config
        .cluster
        .as_ref()
        .map(super::cluster::ClusterMode::connect)
        .transpose()?;
    let mut kinesis = KinesisApi::new(Arc::clone(&store), ITERATOR_LIFETIME, credentials.clone())?;
    if let Some(c) = &cluster {
        // The cluster's streams are put to and read from JetStream.
        kinesis = kinesis.with_cluster(Arc::clone(&c.cluster) as Arc<dyn osprey_ingest::log::Log>);
    }
    let video = Arc::new(crate::store::open_video_store(&config.data_dir)?);
    let _video_retention = video.spawn_retention(RETENTION_EVERY);
    let scheme = if http.tls.is_some() { "https" } else { "http" };
    let kvs = KvsApi::new(Arc::clone(&video), credentials).with_scheme(scheme);
    // One video store for the KVS API and the recording cameras.
    let engine = Engine::start(config, device, store, video, cluster)?;
    let result = runtime.block_on(serve(
        Arc::clone(&engine),
        path.to_owned(),
        http,
        kinesis.router().merge(kvs.router()),
        super::metrics::routes(metrics),
        token,
    ));
    drop(runtime);
    close(engine);
    result
}

/// Drops the engine and closes the store here, on the main thread: a
/// thread that still holds it for a moment (the rate sampler) is waited
/// for, briefly, so the store is not dropped on a thread the process's exit
/// cuts short, and the next start finds it closed cleanly.
fn close(engine: Arc<Engine>) {
    let store = Arc::clone(engine.store());
    drop(engine);
    let deadline = std::time::Instant::now() + CLOSE_WAIT;
    while Arc::strong_count(&store) > 1 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(store);
}

/// Serves HTTP and answers signals; stops everything on SIGTERM or SIGINT.
async fn serve(
    engine: Arc<Engine>,
    path: PathBuf,
    http: HttpServerConfig,
    kinesis: axum::Router,
    metrics: axum::Router,
    token: Option<String>,
) -> Result<()> {
    let listen = http.addr.clone();
    let server = HttpServer::bind(http).with_context(|| format!("cannot serve on {listen}"))?;
    let _ = writeln!(
        std::io::stderr(),
        "osprey: serving on {}://{}",
        server.scheme(),
        server.local_addr()
    );
    let control: Arc<dyn Control> = Arc::clone(&engine) as Arc<dyn Control>;
    let app = super::router::build(control, kinesis, metrics, token);
    let (stop_http, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server.serve(app, async {
        let _ = stopped.await;
    }));
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
