//! The server's streams: those it needs made when missing (`frames`,
//! `events`, each camera's own, each query's `stream:` output, the
//! `[[streams]]` tables), and each
//! stream's put rates over the last minute, from samples of its shards'
//! sequence counters and sizes taken once a second.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use osprey_ingest::IngestError;
use osprey_ingest::output_spec::OutputSpec;
use osprey_ingest::store::Store;

use crate::config::{CameraConfig, QueryConfig, ServerConfig, StreamConfig};
use crate::control::StreamView;

/// The rates' span.
const RATE_SPAN: Duration = Duration::from_secs(60);

/// Creates every stream `config` needs that is missing; an existing stream
/// keeps its shards and retention.
///
/// # Errors
/// A retention that does not parse, or the store's refusal.
pub fn create_missing(store: &Store, config: &ServerConfig) -> Result<()> {
    for s in &wanted(config) {
        ensure(store, s)?;
    }
    Ok(())
}

/// Every stream `config` needs: the `[[streams]]` tables, then each
/// camera's own, `frames` and `events`, and each query's `stream:` output
/// (with the defaults) when not among them.
pub fn wanted(config: &ServerConfig) -> Vec<StreamConfig> {
    let mut wanted: Vec<StreamConfig> = config.streams.clone();
    let named = config
        .cameras
        .iter()
        .flat_map(camera_streams)
        .chain(["frames".to_owned(), "events".to_owned()])
        .chain(config.queries.iter().filter_map(query_stream));
    for name in named {
        if !wanted.iter().any(|s| s.name == name) {
            wanted.push(StreamConfig::named(name));
        }
    }
    wanted
}

/// Creates the streams of `camera` that are missing (a camera put through
/// the API).
///
/// # Errors
/// The store's refusal.
pub fn create_for_camera(store: &Store, camera: &CameraConfig) -> Result<()> {
    for name in camera_streams(camera) {
        ensure(store, &StreamConfig::named(name))?;
    }
    Ok(())
}

/// Creates the output stream of `query` when it writes to one that is
/// missing (a query put through the API).
///
/// # Errors
/// The store's refusal.
pub fn create_for_query(store: &Store, query: &QueryConfig) -> Result<()> {
    match query_stream(query) {
        Some(name) => ensure(store, &StreamConfig::named(name)),
        None => Ok(()),
    }
}

/// The streams a camera writes: its frame and status records, its events.
fn camera_streams(camera: &CameraConfig) -> [String; 2] {
    [camera.frames_stream.clone(), camera.events_stream.clone()]
}

/// The stream a query writes its rows to, when its output is `stream:NAME`.
fn query_stream(query: &QueryConfig) -> Option<String> {
    match OutputSpec::parse(Path::new(&query.output), "output") {
        Ok(OutputSpec::Stream(name)) => Some(name),
        _ => None,
    }
}

/// Creates `s` when missing.
fn ensure(store: &Store, s: &StreamConfig) -> Result<()> {
    match store.create_stream(&s.name, s.options()) {
        Ok(_) | Err(IngestError::StreamExists { .. }) => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot create stream {:?}", s.name)),
    }
}

/// One look at a stream: records and bytes put so far.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    records: u64,
    bytes: u64,
}

/// Samples of every stream over the last minute.
#[derive(Debug, Default)]
pub struct Rates {
    samples: Mutex<HashMap<String, VecDeque<Sample>>>,
}

impl Rates {
    /// Takes one sample of every stream of `store` (call once a second).
    pub fn sample(&self, store: &Store) {
        let Ok(names) = store.list_streams() else {
            return;
        };
        let now = Instant::now();
        let mut samples = self
            .samples
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        samples.retain(|name, _| names.contains(name));
        for name in names {
            let Ok(d) = store.describe_stream(&name) else {
                continue;
            };
            let records = d.shards.iter().map(|s| s.next_seq).sum();
            let bytes = d.shards.iter().map(|s| s.bytes).sum();
            let list = samples.entry(name).or_default();
            list.push_back(Sample {
                at: now,
                records,
                bytes,
            });
            while list
                .front()
                .is_some_and(|s| now.duration_since(s.at) > RATE_SPAN)
            {
                list.pop_front();
            }
        }
    }

    /// Every stream of `store`, with its rates.
    pub fn views(&self, store: &Store) -> Vec<StreamView> {
        let names = store.list_streams().unwrap_or_default();
        let samples = self
            .samples
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        names
            .into_iter()
            .map(|name| {
                let shards = store.describe_stream(&name).map_or(0, |d| d.open_shards);
                let (records_per_second, bytes_per_second) =
                    samples.get(&name).map_or((0.0, 0.0), rate);
                StreamView {
                    name,
                    shards,
                    records_per_second,
                    bytes_per_second,
                }
            })
            .collect()
    }
}

/// Records and bytes a second between the first and last samples (a
/// retention that removed bytes counts as none put).
fn rate(list: &VecDeque<Sample>) -> (f64, f64) {
    let (Some(first), Some(last)) = (list.front(), list.back()) else {
        return (0.0, 0.0);
    };
    let secs = last.at.duration_since(first.at).as_secs_f64();
    if secs <= 0.0 {
        return (0.0, 0.0);
    }
    (
        last.records.saturating_sub(first.records) as f64 / secs,
        last.bytes.saturating_sub(first.bytes) as f64 / secs,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_span_the_samples() {
        let t = Instant::now();
        let at = |s: u64, records, bytes| Sample {
            at: t + Duration::from_secs(s),
            records,
            bytes,
        };
        let list: VecDeque<Sample> = [at(0, 10, 1000), at(1, 20, 1500), at(4, 50, 800)].into();
        assert_eq!(rate(&list), (10.0, 0.0));
        assert_eq!(rate(&VecDeque::from([at(0, 1, 1)])), (0.0, 0.0));
        assert_eq!(rate(&VecDeque::new()), (0.0, 0.0));
    }
}
