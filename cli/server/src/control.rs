//! [`Control`]: what the HTTP API and the dashboard see of, and do to, the
//! running server (its cameras, queries, deliveries and streams). The
//! engine implements it; `/api` handlers and the dashboard only call it.

use std::sync::Arc;

use osprey_ingest::store::Store;
use osprey_ingest::video::VideoStore;
use serde::Serialize;
use tokio::sync::broadcast;

use super::config::{CameraConfig, QueryConfig};

/// One source as `GET /api/sources` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceView {
    /// Its name.
    pub name: String,
    /// `"up"` or `"down"`.
    pub state: &'static str,
    /// The URI, without its password.
    pub uri: String,
    /// The kernels it runs.
    pub kernels: Vec<String>,
    /// The codec negotiated, once known.
    pub codec: Option<String>,
    /// Frame width, once known.
    pub width: Option<u32>,
    /// Frame height, once known.
    pub height: Option<u32>,
    /// Decoded frames a second, lately.
    pub fps_in: f64,
    /// Analysed frames a second, lately.
    pub fps_analyzed: f64,
    /// Frames decoded since it started.
    pub frames_decoded: u64,
    /// Frames analysed since it started.
    pub frames_analyzed: u64,
    /// Frames dropped because analysis fell behind.
    pub frames_dropped: u64,
    /// Wall-clock time of the last frame analysed (RFC 3339), if any.
    pub last_frame: Option<String>,
    /// Reconnections after failures.
    pub reconnects: u32,
    /// The kernels' backend label.
    pub backend: String,
    /// The decoder element, once known.
    pub decoder: Option<String>,
    /// Why it ended, when it gave up or its settings failed.
    pub error: Option<String>,
    /// The video stream it records into (`record = "NAME"`), if any: its
    /// live player and event clips are under `/api/videos/NAME/`.
    pub record: Option<String>,
}

/// One query as `GET /api/queries` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueryView {
    /// Its name.
    pub name: String,
    /// The input stream.
    pub input: String,
    /// Where its rows go.
    pub output: String,
    /// `"running"`, `"retrying"`, `"failed"` or `"stopped"`.
    pub state: &'static str,
    /// Rows written.
    pub rows: u64,
    /// Records too late for their window.
    pub late: u64,
    /// Records refused (unparseable, missing fields).
    pub refused: u64,
    /// The event-time watermark (RFC 3339), once there is one.
    pub watermark: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
}

/// One stream as `GET /api/streams` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamView {
    /// Its name.
    pub name: String,
    /// Open shards.
    pub shards: usize,
    /// Records put a second, over the last minute.
    pub records_per_second: f64,
    /// Bytes put a second, over the last minute.
    pub bytes_per_second: f64,
}

/// Why a control request was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ControlError {
    /// No source or query of that name (404).
    #[error("no {kind} named {name:?}")]
    NotFound {
        /// `source` or `query`.
        kind: &'static str,
        /// The name asked for.
        name: String,
    },
    /// The settings are wrong (400), naming the key.
    #[error("{0}")]
    Invalid(String),
}

/// The running server, as the API sees it.
pub trait Control: Send + Sync + 'static {
    /// Every source, in configuration order.
    fn sources(&self) -> Vec<SourceView>;
    /// Adds a camera, or replaces the one of the same name (restarting only
    /// it).
    ///
    /// # Errors
    /// [`ControlError::Invalid`] for settings that do not check.
    fn put_camera(&self, camera: CameraConfig) -> Result<(), ControlError>;
    /// Stops and removes a camera.
    ///
    /// # Errors
    /// [`ControlError::NotFound`].
    fn remove_camera(&self, name: &str) -> Result<(), ControlError>;
    /// The latest analysed frame of a source as a JPEG at most `max_width`
    /// wide; `Ok(None)` before its first frame.
    ///
    /// # Errors
    /// [`ControlError::NotFound`].
    fn latest_jpeg(&self, name: &str, max_width: u32) -> Result<Option<Vec<u8>>, ControlError>;
    /// Every query.
    fn queries(&self) -> Vec<QueryView>;
    /// Adds a query, or replaces the one of the same name.
    ///
    /// # Errors
    /// [`ControlError::Invalid`].
    fn put_query(&self, query: QueryConfig) -> Result<(), ControlError>;
    /// Stops and removes a query.
    ///
    /// # Errors
    /// [`ControlError::NotFound`].
    fn remove_query(&self, name: &str) -> Result<(), ControlError>;
    /// Every stream of the store, with its rates.
    fn streams(&self) -> Vec<StreamView>;
    /// The store (events are read back from its `events` streams).
    fn store(&self) -> &Arc<Store>;
    /// The names of the streams camera events go to (for `GET /api/events`).
    fn event_streams(&self) -> Vec<String>;
    /// Every event record (one NDJSON line, without its newline) as the
    /// cameras write it: the live feed of `GET /api/events/live`.
    fn subscribe_events(&self) -> broadcast::Receiver<Arc<str>>;
    /// The video store recording cameras write, once one is open (the
    /// dashboard's player reads it); `None` by default.
    fn video_store(&self) -> Option<Arc<VideoStore>> {
        None
    }
    /// True once every configured camera has been started and the store is
    /// open (`/readyz`).
    fn ready(&self) -> bool;
}
