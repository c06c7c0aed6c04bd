//! `/api/videos/{stream}/...`: a recording camera's video for the
//! dashboard's player, read from the server's video store under the API's
//! token (a browser cannot sign the KVS API's calls): the HLS presentation
//! through the KVS API's own code ([`osprey_video::kvs::hls_file`]), live
//! or on demand (`?start=&end=`), and an MP4 clip of a range
//! ([`osprey_video::playback::clip::mp4`]).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use osprey_ingest::video::{TimeBase, TimeRange, VideoError, VideoStore};
use osprey_video::playback::{PlaybackError, clip};
use serde::Deserialize;

use super::extract::Params;
use super::{ApiError, Ctl, blocking};
use crate::control::Control;
use crate::time_arg::parse_ns;

/// The master playlist's name in the KVS API's files.
const MASTER: &str = "getHLSMasterPlaylist.m3u8";

/// `?start=&end=` (RFC 3339 or Unix seconds), and the segment's number
/// the playlists name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RangeParams {
    /// From (inclusive).
    start: Option<String>,
    /// To (exclusive).
    end: Option<String>,
    /// A segment's fragment.
    #[serde(rename = "FragmentNumber")]
    fragment: Option<u64>,
}

impl RangeParams {
    /// The range asked for: `None` when neither end is given; both or
    /// neither.
    fn range(&self) -> Result<Option<(u64, u64)>, ApiError> {
        let time = |name: &str, text: &str| {
            parse_ns(text).map_err(|e| ApiError::bad_request(format!("{name}: {e:#}")))
        };
        match (&self.start, &self.end) {
            (None, None) => Ok(None),
            (Some(start), Some(end)) => {
                let (start, end) = (time("start", start)?, time("end", end)?);
                if end <= start {
                    return Err(ApiError::bad_request("end must be after start"));
                }
                Ok(Some((start, end)))
            }
            _ => Err(ApiError::bad_request("give both start and end, or neither")),
        }
    }
}

/// Unix seconds to the nanosecond, as a query carries them on.
fn seconds(ns: u64) -> String {
    format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000)
}

/// The server's video store, or 404 when nothing records.
fn store(control: &dyn Control, stream: &str) -> Result<Arc<VideoStore>, ApiError> {
    control.video_store().ok_or_else(|| missing(stream))
}

fn missing(stream: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no video stream named {stream:?}"),
    )
}

/// `GET /api/videos/{stream}/live.m3u8[?start=&end=]`: the master
/// playlist (live: a sliding window of the newest fragments; with a range:
/// on demand).
pub(super) async fn live(
    state: State<Ctl>,
    Path(stream): Path<String>,
    params: Params<RangeParams>,
) -> Result<Response, ApiError> {
    hls(state, Path((stream, MASTER.to_owned())), params).await
}

/// `GET /api/videos/{stream}/{file}`: the other files the playlists name
/// (the media playlist, initialisation and media segments).
pub(super) async fn hls(
    State(control): State<Ctl>,
    Path((stream, file)): Path<(String, String)>,
    Params(params): Params<RangeParams>,
) -> Result<Response, ApiError> {
    let range = params.range()?;
    let carry = range.map_or(String::new(), |(s, e)| {
        format!("start={}&end={}", seconds(s), seconds(e))
    });
    let range = range.map(|(start_ns, end_ns)| TimeRange {
        base: TimeBase::Producer,
        start_ns,
        end_ns,
    });
    let (content_type, data) = blocking(control, move |c| {
        let video = store(c, &stream)?;
        osprey_video::kvs::hls_file(&video, &stream, range, &file, params.fragment, &carry).map_err(
            |e| {
                let status =
                    StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                ApiError::new(status, e.message)
            },
        )
    })
    .await??;
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        data,
    )
        .into_response())
}

/// `GET /api/videos/{stream}/clip.mp4?start=&end=`: the MP4 clip of the
/// range (from the key frame at or before `start`).
pub(super) async fn clip_mp4(
    State(control): State<Ctl>,
    Path(stream): Path<String>,
    Params(params): Params<RangeParams>,
) -> Result<Response, ApiError> {
    let (start, end) = params
        .range()?
        .ok_or_else(|| ApiError::bad_request("start and end are needed"))?;
    let data = blocking(control, move |c| {
        let video = store(c, &stream)?;
        clip::mp4(&video, &stream, start, end)
            .map(|clip| clip.data)
            .map_err(|e| clip_error(&stream, e))
    })
    .await??;
    Ok((
        [
            (header::CONTENT_TYPE, "video/mp4"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        data,
    )
        .into_response())
}

/// A clip's failure as the API answers it.
fn clip_error(stream: &str, error: PlaybackError) -> ApiError {
    let status = match &error {
        PlaybackError::Store(VideoError::NotFound(_)) => return missing(stream),
        PlaybackError::NoMedia | PlaybackError::Store(VideoError::NoFragment { .. }) => {
            StatusCode::NOT_FOUND
        }
        PlaybackError::Invalid(_) | PlaybackError::Store(VideoError::Invalid(_)) => {
            StatusCode::BAD_REQUEST
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    ApiError::new(status, error.to_string())
}
