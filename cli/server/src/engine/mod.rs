//! The server's engine: everything a [`ServerConfig`] declares, running in
//! one process on one store and one device. It is the CLI's pieces wired
//! together, not a second implementation:
//!
//! - [`cameras`]: each camera its own [`osprey_video::live::Runner`] and
//!   writing thread (the analyze [`crate::analyze::writer::Writer`]), into
//!   its `frames` and `events` streams, its outputs and the event
//!   broadcast;
//! - [`queries`]: each query `osprey aggregate stream:INPUT --follow
//!   --consumer NAME` ([`crate::aggregate::run_with`]) on its own thread;
//! - [`deliveries`]: each delivery `osprey deliver --follow --consumer NAME`
//!   ([`crate::deliver::run_on`]) on its own thread;
//! - [`streams`]: the streams made when missing, and their rates;
//! - [`reload`]: a changed configuration applied by name (SIGHUP, the API);
//! - [`shutdown`]: everything stopped in order, within a bound;
//! - [`view`]: [`Control`](crate::control::Control), what the HTTP
//!   API sees.
//!
//! Everything shares the one `Arc<Store>`; each piece has its own stop flag,
//! so one can be added, changed or removed without touching the others.

pub mod cameras;
pub mod deliveries;
pub mod queries;
pub mod reload;
pub mod shutdown;
pub mod streams;
pub mod task;
pub mod view;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use anyhow::Result;
use osprey_ingest::store::Store;
use osprey_ingest::video::VideoStore;
use osprey_kernels::Device;
use tokio::sync::broadcast;

use self::cameras::{Camera, Shared};
use self::deliveries::Delivery;
use self::queries::Query;
use self::streams::Rates;
use super::cluster::ClusterMode;
use super::config::ServerConfig;

/// Event lines the live feed keeps for a slow subscriber before it lags.
const EVENT_FEED: usize = 1024;

/// How often stream rates are sampled and query counters exported.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// The running server.
pub struct Engine {
    shared: Shared,
    state: Mutex<State>,
    rates: Rates,
    ready: AtomicBool,
    /// The cluster this server is a worker of, if any.
    cluster: Option<ClusterMode>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

/// What runs, in configuration order.
#[derive(Debug)]
struct State {
    /// The configuration applied last.
    config: ServerConfig,
    cameras: Vec<Camera>,
    queries: Vec<Query>,
    deliveries: Vec<Delivery>,
}

impl Engine {
    /// Starts everything `config` declares on `store` and `device`: the
    /// missing streams first, then cameras, queries and deliveries;
    /// recording cameras record into `video` (the data directory's video
    /// store, which the KVS API serves too). In a `cluster`, the streams
    /// are made there too and the queries run as its consumer groups.
    ///
    /// # Errors
    /// A stream that cannot be made, a piece that does not check or start;
    /// what started by then is stopped.
    pub fn start(
        config: ServerConfig,
        device: Device,
        store: Arc<Store>,
        video: Arc<VideoStore>,
        cluster: Option<ClusterMode>,
    ) -> Result<Arc<Engine>> {
        streams::create_missing(&store, &config)?;
        if let Some(c) = &cluster {
            c.create_streams(&config)?;
        }
        let (events, _) = broadcast::channel(EVENT_FEED);
        let engine = Arc::new(Engine {
            shared: Shared {
                device,
                store,
                events,
                video: Arc::new(Mutex::new(Some(video))),
                cluster: cluster
                    .as_ref()
                    .map(|c| Arc::clone(&c.cluster) as Arc<dyn osprey_ingest::log::Log>),
            },
            state: Mutex::new(State {
                config: ServerConfig {
                    cameras: Vec::new(),
                    queries: Vec::new(),
                    deliveries: Vec::new(),
                    ..config.clone()
                },
                cameras: Vec::new(),
                queries: Vec::new(),
                deliveries: Vec::new(),
            }),
            rates: Rates::default(),
            ready: AtomicBool::new(false),
            cluster,
        });
        let problems = engine.apply(config);
        if let Some(first) = problems.into_iter().next() {
            let _ = engine.shutdown(shutdown::BOUND);
            return Err(first);
        }
        spawn_sampler(Arc::downgrade(&engine));
        engine.ready.store(true, Ordering::Relaxed);
        Ok(engine)
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.shared.store
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Samples the stream rates and exports the query counters once a second
/// while the engine lives.
fn spawn_sampler(engine: Weak<Engine>) {
    let spawned = std::thread::Builder::new()
        .name("osprey-sampler".into())
        .spawn(move || {
            // Each query's counters as last exported.
            let mut seen: HashMap<String, [u64; 3]> = HashMap::new();
            loop {
                std::thread::sleep(SAMPLE_EVERY);
                let Some(engine) = engine.upgrade() else {
                    return;
                };
                engine.rates.sample(engine.store());
                for q in &engine.state().queries {
                    let c = q.counts();
                    let now = [
                        c.windows.load(Ordering::Relaxed),
                        c.late.load(Ordering::Relaxed),
                        c.refused.load(Ordering::Relaxed),
                    ];
                    let before = seen.insert(q.name().to_owned(), now).unwrap_or([0; 3]);
                    let names = [
                        "osprey_query_rows_total",
                        "osprey_query_late_total",
                        "osprey_query_refused_total",
                    ];
                    for ((name, now), before) in names.into_iter().zip(now).zip(before) {
                        // A restarted query counts from 0 again.
                        let delta = if now >= before { now - before } else { now };
                        if delta > 0 {
                            metrics::counter!(name, "query" => q.name().to_owned())
                                .increment(delta);
                        }
                    }
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "Cannot start the rate sampler; stream rates stay 0.");
    }
}
