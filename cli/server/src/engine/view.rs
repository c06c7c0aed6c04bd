//! [`Control`] for the [`Engine`]: what `/api` and the dashboard see of the
//! running server, and the changes they make (one camera or query at a
//! time, the others untouched). Changes block until the replaced piece has
//! stopped (about a second for a camera): call them off the async
//! executor's threads (`spawn_blocking`).

use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use osprey_ingest::store::Store;
use osprey_ingest::video::VideoStore;
use tokio::sync::broadcast;

use super::Engine;
use super::cameras::Camera;
use super::queries::Query;
use crate::config::{CameraConfig, QueryConfig};
use crate::control::{Control, ControlError, QueryView, SourceView, StreamView};

impl Control for Engine {
    fn sources(&self) -> Vec<SourceView> {
        self.state().cameras.iter().map(source_view).collect()
    }

    fn put_camera(&self, camera: CameraConfig) -> Result<(), ControlError> {
        super::streams::create_for_camera(self.store(), &camera)
            .map_err(|e| ControlError::Invalid(format!("{e:#}")))?;
        self.put::<Camera>(|s| &mut s.cameras, |c| &mut c.cameras, camera)
            .map_err(|e| ControlError::Invalid(format!("{e:#}")))
    }

    fn remove_camera(&self, name: &str) -> Result<(), ControlError> {
        if self.remove::<Camera>(|s| &mut s.cameras, |c| &mut c.cameras, name) {
            Ok(())
        } else {
            Err(not_found("source", name))
        }
    }

    fn latest_jpeg(&self, name: &str, max_width: u32) -> Result<Option<Vec<u8>>, ControlError> {
        let status = self
            .state()
            .cameras
            .iter()
            .find(|c| c.name() == name)
            .map(|c| Arc::clone(c.status()))
            .ok_or_else(|| not_found("source", name))?;
        Ok(status.latest_jpeg(max_width))
    }

    fn queries(&self) -> Vec<QueryView> {
        self.state().queries.iter().map(Query::view).collect()
    }

    fn put_query(&self, query: QueryConfig) -> Result<(), ControlError> {
        Query::check(&query, self.store().dir())
            .map_err(|e| ControlError::Invalid(format!("{e:#}")))?;
        super::streams::create_for_query(self.store(), &query)
            .map_err(|e| ControlError::Invalid(format!("{e:#}")))?;
        self.put::<Query>(|s| &mut s.queries, |c| &mut c.queries, query)
            .map_err(|e| ControlError::Invalid(format!("{e:#}")))
    }

    fn remove_query(&self, name: &str) -> Result<(), ControlError> {
        if self.remove::<Query>(|s| &mut s.queries, |c| &mut c.queries, name) {
            Ok(())
        } else {
            Err(not_found("query", name))
        }
    }

    fn streams(&self) -> Vec<StreamView> {
        self.rates.views(self.store())
    }

    fn store(&self) -> &Arc<Store> {
        Engine::store(self)
    }

    fn event_streams(&self) -> Vec<String> {
        let mut names: Vec<String> = vec!["events".into()];
        for c in &self.state().cameras {
            if !names.contains(&c.config.events_stream) {
                names.push(c.config.events_stream.clone());
            }
        }
        names
    }

    fn subscribe_events(&self) -> broadcast::Receiver<Arc<str>> {
        self.shared.events.subscribe()
    }

    fn video_store(&self) -> Option<Arc<VideoStore>> {
        self.shared
            .video
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }
}

fn not_found(kind: &'static str, name: &str) -> ControlError {
    ControlError::NotFound {
        kind,
        name: name.to_owned(),
    }
}

/// What `/api/sources` shows of a camera: its status, and the frames its
/// records were written for where the status has fewer (so a count never
/// goes backwards).
fn source_view(c: &Camera) -> SourceView {
    let s = c.status().snapshot();
    let kernels = c
        .config
        .source
        .kernels
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .collect();
    let up = s.up || (c.running() && c.failure().is_none() && c.frames_written() > 0);
    SourceView {
        name: c.name().to_owned(),
        state: if up { "up" } else { "down" },
        uri: osprey_video::source::redact(&c.config.source.uri),
        kernels,
        codec: s.codec,
        width: s.size.map(|(w, _)| w),
        height: s.size.map(|(_, h)| h),
        fps_in: s.fps_in,
        fps_analyzed: s.fps_analyzed,
        frames_decoded: s.frames_decoded,
        frames_analyzed: s.frames_analyzed.max(c.frames_written()),
        frames_dropped: s.frames_dropped,
        last_frame: s
            .last_frame_ts
            .map(|t| osprey_ingest::store::time::format_ms((t * 1000.0) as i64)),
        reconnects: s.reconnects,
        backend: if s.backend.is_empty() {
            c.backend.clone()
        } else {
            s.backend
        },
        decoder: s.decoder,
        error: c.failure(),
        record: c.config.checked.record.clone(),
    }
}
