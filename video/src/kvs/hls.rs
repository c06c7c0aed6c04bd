//! HLS: GetHLSStreamingSessionURL makes a session (a random token that
//! expires) and answers the URL of its master playlist; the session's GETs
//! under `/hls/v1/` carry the token (`?SessionToken=`):
//! `getHLSMasterPlaylist.m3u8`, `getHLSMediaPlaylist.m3u8`, and the
//! fragmented MP4 that [`crate::playback::hls`] makes: the initialisation
//! segment of a track (`getMP4InitFragment.mp4?...&FragmentNumber=N`, N the
//! first fragment of the track) and one media segment per fragment
//! (`getMP4MediaFragment.mp4?...&FragmentNumber=N`). `MPEG_TS` is accepted
//! and served as fragmented MP4 too.
//!
//! `LIVE`: the newest `MaxMediaPlaylistFragmentResults` fragments (5 by
//! default), a window that slides; `LIVE_REPLAY`: from the selector's start
//! on, growing; `ON_DEMAND`: the selector's range, ended. Sessions are held
//! in memory, at most [`MAX_SESSIONS`] at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse as _, Response};
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use osprey_ingest::video::{Codec, FragmentMeta, TimeBase, TimeRange, VideoStore};
use serde_json::{Value, json};

use super::error::KvsError;
use super::request::{Call, integer, stream_in, text, timestamp};
use super::{Shared, blocking};
use crate::playback::hls;

/// Most sessions held at once.
pub(crate) const MAX_SESSIONS: usize = 1000;

/// Session lifetimes KVS allows, and its default.
const EXPIRES: std::ops::RangeInclusive<u64> = 300..=43_200;
const DEFAULT_EXPIRES: u64 = 300;

/// The playlist's MIME type.
const PLAYLIST: &str = "application/vnd.apple.mpegurl";

/// How a session plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Live,
    LiveReplay,
    OnDemand,
}

/// What a playlist lists: a stream's fragments, how and how many.
#[derive(Debug, Clone)]
struct Listing {
    stream: String,
    mode: Mode,
    range: Option<TimeRange>,
    max_fragments: usize,
}

/// One session.
#[derive(Debug, Clone)]
struct Session {
    listing: Listing,
    expires: Instant,
}

/// The sessions made and not expired.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    fn insert(&self, session: Session) -> Result<String, KvsError> {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_SESSIONS {
            let now = Instant::now();
            map.retain(|_, s| s.expires > now);
        }
        if map.len() >= MAX_SESSIONS {
            return Err(KvsError::named(
                "ClientLimitExceededException",
                format!("{MAX_SESSIONS} HLS sessions are open; retry later"),
            ));
        }
        let token = format!("{:032x}", rand::random::<u128>());
        map.insert(token.clone(), session);
        Ok(token)
    }

    fn get(&self, token: &str) -> Option<Session> {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        match map.get(token) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                map.remove(token);
                None
            }
            None => None,
        }
    }
}

/// `GetHLSStreamingSessionURL`.
pub(crate) fn get_session_url(
    shared: &Shared,
    call: &Call,
    body: &Value,
) -> Result<Value, KvsError> {
    let info = stream_in(&shared.store, body)?;
    let mode = match text(body, "PlaybackMode")? {
        None | Some("LIVE") => Mode::Live,
        Some("LIVE_REPLAY") => Mode::LiveReplay,
        Some("ON_DEMAND") => Mode::OnDemand,
        Some(other) => {
            return Err(KvsError::invalid(format!(
                "PlaybackMode {other:?}: LIVE, LIVE_REPLAY or ON_DEMAND"
            )));
        }
    };
    match text(body, "ContainerFormat")? {
        None | Some("FRAGMENTED_MP4" | "MPEG_TS") => {}
        Some(other) => {
            return Err(KvsError::invalid(format!(
                "ContainerFormat {other:?}: FRAGMENTED_MP4 or MPEG_TS"
            )));
        }
    }
    let range = match body.get("HLSFragmentSelector").filter(|v| !v.is_null()) {
        None => None,
        Some(selector) => {
            let base = match text(selector, "FragmentSelectorType")? {
                None | Some("SERVER_TIMESTAMP") => TimeBase::Server,
                Some("PRODUCER_TIMESTAMP") => TimeBase::Producer,
                Some(other) => {
                    return Err(KvsError::invalid(format!("FragmentSelectorType {other:?}")));
                }
            };
            let range = selector.get("TimestampRange").unwrap_or(&Value::Null);
            let start = timestamp(range, "StartTimestamp")?;
            let end = timestamp(range, "EndTimestamp")?;
            match (mode, start, end) {
                (Mode::Live, _, _) => {
                    return Err(KvsError::invalid("LIVE takes no HLSFragmentSelector"));
                }
                (_, Some(start), end) if end.is_none_or(|e| e >= start) => Some(TimeRange {
                    base,
                    start_ns: start,
                    end_ns: end.map_or(u64::MAX, |e| e.saturating_add(1)),
                }),
                _ => {
                    return Err(KvsError::invalid(
                        "a StartTimestamp before the end is needed",
                    ));
                }
            }
        }
    };
    if mode == Mode::OnDemand && range.is_none_or(|r| r.end_ns == u64::MAX) {
        return Err(KvsError::invalid(
            "ON_DEMAND needs an HLSFragmentSelector with both timestamps",
        ));
    }
    if mode == Mode::LiveReplay && range.is_none() {
        return Err(KvsError::invalid(
            "LIVE_REPLAY needs an HLSFragmentSelector",
        ));
    }
    let expires = integer(body, "Expires")?.unwrap_or(DEFAULT_EXPIRES);
    if !EXPIRES.contains(&expires) {
        return Err(KvsError::invalid("Expires must be 300 to 43200 seconds"));
    }
    let default_max = if mode == Mode::Live { 5 } else { 1000 };
    let max_fragments = match integer(body, "MaxMediaPlaylistFragmentResults")? {
        None => default_max,
        Some(n @ 1..=5000) => usize::try_from(n).unwrap_or(default_max),
        Some(_) => {
            return Err(KvsError::invalid(
                "MaxMediaPlaylistFragmentResults must be 1 to 5000",
            ));
        }
    };
    let token = shared.sessions.insert(Session {
        listing: Listing {
            stream: info.name,
            mode,
            range,
            max_fragments,
        },
        expires: Instant::now() + Duration::from_secs(expires),
    })?;
    Ok(json!({
        "HLSStreamingSessionURL": format!(
            "{}/hls/v1/getHLSMasterPlaylist.m3u8?SessionToken={token}",
            call.base_url
        )
    }))
}

/// A query parameter.
fn param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find_map(|(k, v)| (k == name).then_some(v))
}

/// The fragments a media playlist lists now.
fn listed(store: &VideoStore, listing: &Listing) -> Result<Vec<FragmentMeta>, KvsError> {
    let kept = store.fragments(&listing.stream, listing.range)?;
    Ok(match listing.mode {
        Mode::Live => {
            let skip = kept.len().saturating_sub(listing.max_fragments);
            kept.into_iter().skip(skip).collect()
        }
        Mode::LiveReplay | Mode::OnDemand => kept.into_iter().take(listing.max_fragments).collect(),
    })
}

/// RFC 6381's codec of a fragment's track, when it can be told.
fn codecs(track: &osprey_ingest::video::Track) -> Option<String> {
    match (track.codec, track.codec_data.get(1..4)) {
        (Codec::H264, Some([profile, compat, level])) => {
            Some(format!("avc1.{profile:02x}{compat:02x}{level:02x}"))
        }
        _ => None,
    }
}

/// Serves a session's file.
pub(crate) async fn serve_file(
    State(shared): State<Arc<Shared>>,
    Path(file): Path<String>,
    request: Request,
) -> Response {
    let query = request.uri().query().unwrap_or("").to_owned();
    let Some(session) = param(&query, "SessionToken").and_then(|t| shared.sessions.get(t)) else {
        return KvsError::not_authorized("the session token is unknown or expired").into_response();
    };
    let carry = format!(
        "SessionToken={}",
        param(&query, "SessionToken").unwrap_or("")
    );
    let number = param(&query, "FragmentNumber").and_then(|n| n.parse::<u64>().ok());
    let worker = Arc::clone(&shared);
    let answered =
        blocking(move || answer(&worker.store, &session.listing, &file, number, &carry)).await;
    match answered {
        Ok((content_type, data)) => {
            let mut response = Response::new(Body::from(data));
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        }
        Err(e) => e.into_response(),
    }
}

/// A refusal of [`hls_file`]: the HTTP status and a message for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HlsFileError {
    /// The HTTP status (400, 404 or 500).
    pub status: u16,
    /// What went wrong.
    pub message: String,
}

/// One file of the HLS presentation of video stream `stream`, as the
/// session GETs under `/hls/v1/` serve it, for a server that guards its
/// own route (the dashboard's `/api/videos/...`): `file` is
/// `getHLSMasterPlaylist.m3u8`, `getHLSMediaPlaylist.m3u8`,
/// `getMP4InitFragment.mp4` or `getMP4MediaFragment.mp4` (the last two with
/// `fragment`, the number the playlist gave). `range` `None` plays live
/// (the newest 5 fragments, a sliding window), `Some` on demand (ended);
/// `carry` is the query (without `?`, maybe empty) every URL the playlists
/// name carries, relative to the playlist. Answers the content type and
/// the bytes. Blocks on the store: call it off async workers.
///
/// # Errors
/// 404 for a missing stream, a missing fragment, an unknown `file` or no
/// fragment to play yet, 400 for a missing `fragment`, 500 when the store
/// fails.
pub fn hls_file(
    store: &VideoStore,
    stream: &str,
    range: Option<TimeRange>,
    file: &str,
    fragment: Option<u64>,
    carry: &str,
) -> Result<(&'static str, Vec<u8>), HlsFileError> {
    let listing = Listing {
        stream: stream.to_owned(),
        mode: if range.is_some() {
            Mode::OnDemand
        } else {
            Mode::Live
        },
        range,
        max_fragments: if range.is_some() { 1000 } else { 5 },
    };
    answer(store, &listing, file, fragment, carry).map_err(|e| HlsFileError {
        status: e.status.as_u16(),
        message: e.message,
    })
}

/// A URL relative to the playlist: `file`, the `carry` query and the
/// fragment number.
fn relative(file: &str, carry: &str, number: Option<u64>) -> String {
    let number = number.map(|n| format!("FragmentNumber={n}"));
    let query: Vec<&str> = [Some(carry), number.as_deref()]
        .into_iter()
        .flatten()
        .filter(|q| !q.is_empty())
        .collect();
    if query.is_empty() {
        file.to_owned()
    } else {
        format!("{file}?{}", query.join("&"))
    }
}

/// One file of a listing's presentation (see [`hls_file`]).
fn answer(
    store: &VideoStore,
    listing: &Listing,
    file: &str,
    number: Option<u64>,
    carry: &str,
) -> Result<(&'static str, Vec<u8>), KvsError> {
    match file {
        "getHLSMasterPlaylist.m3u8" => {
            let fragments = listed(store, listing)?;
            let newest = fragments
                .last()
                .ok_or_else(|| KvsError::not_found("no fragments to play yet"))?;
            let track = store.read(&listing.stream, newest.number)?.track;
            let (bytes, ns) = fragments
                .iter()
                .fold((0u64, 0u64), |(b, n), m| (b + m.size, n + m.duration_ns));
            let bandwidth = bytes.saturating_mul(8_000_000_000) / ns.max(1);
            let codecs = codecs(&track).map_or(String::new(), |c| format!(",CODECS=\"{c}\""));
            let text = format!(
                "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n\
                 #EXT-X-STREAM-INF:BANDWIDTH={},RESOLUTION={}x{}{codecs}\n{}\n",
                bandwidth.max(1),
                track.width,
                track.height,
                relative("getHLSMediaPlaylist.m3u8", carry, None)
            );
            Ok((PLAYLIST, text.into_bytes()))
        }
        "getHLSMediaPlaylist.m3u8" => {
            let fragments = listed(store, listing)?;
            let live = listing.mode != Mode::OnDemand;
            let playlist = hls::media_playlist_with_init(
                &fragments,
                live,
                &|n| relative("getMP4MediaFragment.mp4", carry, Some(n)),
                &|n| relative("getMP4InitFragment.mp4", carry, Some(n)),
            );
            Ok((PLAYLIST, playlist.into_bytes()))
        }
        "getMP4InitFragment.mp4" | "getMP4MediaFragment.mp4" => {
            let number = number.ok_or_else(|| KvsError::invalid("FragmentNumber is needed"))?;
            let fragment = store.read(&listing.stream, number)?;
            let data = if file == "getMP4InitFragment.mp4" {
                hls::init_segment(&fragment.track)
            } else {
                hls::segment(&fragment)?
            };
            Ok((hls::SEGMENT_CONTENT_TYPE, data))
        }
        _ => Err(KvsError::not_found(format!("no HLS file {file:?}"))),
    }
}
