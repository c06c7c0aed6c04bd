//! `/metrics`: the process's metrics in Prometheus' text format.
//!
//! The libraries record through the `metrics` facade
//! ([`osprey_video::metrics`], [`osprey_ingest::metrics`]: the names, one
//! place a crate); [`install`] puts metrics-exporter-prometheus' recorder
//! behind that facade once a process, with histogram buckets for seconds
//! (0.5 ms to 5 s) and every metric's help text, and starts the upkeep
//! that keeps its histograms bounded when nobody scrapes. [`routes`] is
//! the `GET /metrics` handler the server's router mounts. Every metric is
//! documented in `docs/metrics.md`.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context as _, Result};
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Upper bounds of the histogram buckets, in seconds.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The content type of Prometheus' text format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// How often the recorder's histograms are drained into their buckets.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Installs the Prometheus recorder as the process's `metrics` recorder
/// (the first call; later calls return the same handle) and returns the
/// handle that renders it ([`PrometheusHandle::render`]). Install it
/// before starting sources and stores: handles made earlier record
/// nothing.
///
/// # Errors
/// Another recorder is installed already; the upkeep thread cannot start.
pub fn install() -> Result<PrometheusHandle> {
    static INSTALLED: Mutex<Option<PrometheusHandle>> = Mutex::new(None);
    let mut installed = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(handle) = &*installed {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets(BUCKETS)
        .context("cannot set the metrics' histogram buckets")?
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    osprey_video::metrics::describe();
    osprey_ingest::metrics::describe();
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("osprey-metrics".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkeep.run_upkeep();
            }
        })
        .context("cannot start the metrics upkeep thread")?;
    *installed = Some(handle.clone());
    Ok(handle)
}

/// `GET /metrics`, rendering `handle`.
pub fn routes(handle: PrometheusHandle) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(handle)
}

/// The metrics now, in Prometheus' text format.
async fn metrics(State(handle): State<PrometheusHandle>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], handle.render())
}

#[cfg(test)]
mod tests {
    use super::*;
    use osprey_ingest::store::{PutRecord, Store, StoreConfig, StreamOptions};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    #[test]
    fn a_put_shows_on_get_metrics_with_its_help_and_buckets() {
        let handle = install().unwrap();
        // Installing again gives the same recorder.
        install().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
        store
            .create_stream("metrics-test", StreamOptions::default())
            .unwrap();
        let records = [PutRecord::new("a", "12345"), PutRecord::new("b", "6")];
        assert!(
            store
                .put_records("metrics-test", &records)
                .unwrap()
                .iter()
                .all(Result::is_ok)
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let response = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(listener, routes(handle)).await });
            let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
            conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: osprey\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            let mut response = String::new();
            conn.read_to_string(&mut response).await.unwrap();
            response
        });
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: text/plain; version=0.0.4"),
            "{head}"
        );
        let lines: Vec<&str> = body.lines().collect();
        for line in [
            r#"osprey_store_records_put_total{stream="metrics-test"} 2"#,
            r#"osprey_store_bytes_put_total{stream="metrics-test"} 8"#,
            "# HELP osprey_store_records_put_total Records appended to the store by puts.",
            "# TYPE osprey_store_fsync_seconds histogram",
        ] {
            assert!(lines.contains(&line), "{line} not in\n{body}");
        }
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(r#"osprey_store_fsync_seconds_bucket{le="0.0005"} "#)),
            "{body}"
        );
    }
}
