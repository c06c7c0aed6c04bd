//! The crate's one error type, [`VideoError`].
//!
//! Input problems (a missing file, a file with no video), configuration
//! problems (a zero chunk size, an odd clip size), decode failures reported by
//! GStreamer and an unusable GStreamer installation are kept apart so the CLI
//! can tell the user which of them to fix. The analysis pipeline
//! ([`crate::analysis`]) adds its own: zones outside the frame, thumbnail
//! folders and files, a failing backend (its [`osprey_kernels::KernelError`]
//! as the source), and internal errors.

/// Errors of the video layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VideoError {
    /// The input file does not exist or cannot be read.
    #[error("cannot open {input:?}: {reason}")]
    Open {
        /// The path or URI as the user gave it.
        input: String,
        /// Why.
        reason: String,
    },
    /// The input has no video stream.
    #[error("{input:?} has no video stream")]
    NoVideo {
        /// The path or URI as the user gave it.
        input: String,
    },
    /// GStreamer reported an error while decoding.
    #[error("decoding {input:?} failed: {reason}")]
    Decode {
        /// The path or URI as the user gave it.
        input: String,
        /// GStreamer's message and debug detail.
        reason: String,
    },
    /// GStreamer is missing or a needed element is not installed.
    #[error("GStreamer is not usable: {0}")]
    Gstreamer(String),
    /// Options or a clip spec that cannot work (checked before any work).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Encoding a test clip failed.
    #[error("writing clip {path:?} failed: {reason}")]
    Encode {
        /// The file being written.
        path: std::path::PathBuf,
        /// GStreamer's message and debug detail.
        reason: String,
    },
    /// The decode thread could not be started.
    #[error("cannot start the decode thread")]
    DecodeThread(#[source] std::io::Error),
    /// A zone lies entirely outside the frames of the input, so it could
    /// never see motion (found once the first frame is decoded).
    #[error("zone \"{zone}\" lies entirely outside the {width}x{height} frame")]
    ZoneOutsideFrame {
        /// The zone's name.
        zone: String,
        /// The frame's width.
        width: u32,
        /// The frame's height.
        height: u32,
    },
    /// The thumbnail folder is not a folder, cannot be created or cannot be
    /// written to (found before any frame is decoded).
    #[error("thumbnail folder {dir:?}: {problem}")]
    ThumbnailFolder {
        /// The folder.
        dir: std::path::PathBuf,
        /// What is wrong: `not a folder`, `cannot create the folder`,
        /// `cannot write there`.
        problem: &'static str,
        /// The I/O error behind it, when there is one.
        #[source]
        source: Option<std::io::Error>,
    },
    /// A thumbnail file could not be created.
    #[error("cannot create thumbnail {path:?}")]
    ThumbnailCreate {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A thumbnail could not be encoded or written.
    #[error("cannot write thumbnail {path:?}")]
    ThumbnailEncode {
        /// The file.
        path: std::path::PathBuf,
        /// The encoder's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The backend could not downscale a frame for a thumbnail.
    #[error("cannot downscale the frame for a thumbnail")]
    Downscale(#[source] osprey_kernels::KernelError),
    /// The compute backend failed on a chunk.
    #[error("the {label} backend failed")]
    Backend {
        /// The backend's label.
        label: String,
        /// The backend's error.
        #[source]
        source: osprey_kernels::KernelError,
    },
    /// A live source kept failing until its retry time
    /// ([`crate::live::Supervision::retry_for`]) ran out.
    #[error("gave up on {input:?} after {attempts} failed attempts: {last}")]
    GaveUp {
        /// The source's URI, password redacted.
        input: String,
        /// Failures in a row, counting the last.
        attempts: u32,
        /// Why the last attempt failed (redacted).
        last: String,
    },
    /// Recording met video in a codec video streams do not keep.
    #[error("video stream recording keeps H.264 and H.265 only: {input} is {codec}")]
    Unsupported {
        /// The source, redacted.
        input: String,
        /// Its codec (`vp9`, `mjpeg`, ...).
        codec: String,
    },
    /// The video store refused a fragment or failed.
    #[error(transparent)]
    Store(#[from] osprey_ingest::video::VideoError),
    /// A bug in osprey: a broken invariant, a thread that panicked.
    #[error("internal error: {0}")]
    Internal(String),
    /// Opening was cancelled through [`crate::DecodeOptions::cancel`]
    /// before the first frame came.
    #[error("opening {input:?} was cancelled")]
    Cancelled {
        /// The source, redacted.
        input: String,
    },
}

/// Why a source failed, as supervision needs to know it: authentication and
/// a wrong path are not fixed by retrying quickly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The server refused the credentials (RTSP 401).
    Unauthorized,
    /// No such stream or file (RTSP 404, a missing file).
    NotFound,
    /// Nobody listens there, or the connection could not be made.
    Refused,
    /// The server stopped answering or sending.
    Timeout,
    /// Anything else.
    Other,
}

impl VideoError {
    /// What kind of failure this is, for supervision.
    pub fn failure_kind(&self) -> FailureKind {
        match self {
            VideoError::Open { reason, .. } if reason == "no such file" => FailureKind::NotFound,
            VideoError::Open { reason, .. } | VideoError::Decode { reason, .. } => {
                failure_kind_of(reason)
            }
            _ => FailureKind::Other,
        }
    }
}

/// Classifies a GStreamer error text (`rtspsrc`'s messages and details).
fn failure_kind_of(reason: &str) -> FailureKind {
    let text = reason.to_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| text.contains(n));
    if has(&["unauthorized", "(401)", "forbidden", "(403)"]) {
        FailureKind::Unauthorized
    } else if has(&["not found (404)", "(404)", "no such file"]) {
        FailureKind::NotFound
    } else if has(&["timeout", "timed out", "could not receive any udp packets"]) {
        FailureKind::Timeout
    } else if has(&[
        "connection refused",
        "failed to connect",
        "could not connect",
        "could not open resource",
    ]) {
        FailureKind::Refused
    } else {
        FailureKind::Other
    }
}

/// Turns a GStreamer error message into a reason that reads well in a chain:
/// the element that failed, its message in lowercase without a final period,
/// and the debug detail's last line when the detail has more than the source
/// location (the element's own explanation, e.g. "no 'moov' atom ...").
pub(crate) fn gst_reason(
    source: Option<&str>,
    error: &gstreamer::glib::Error,
    debug: Option<&str>,
) -> String {
    let mut reason = String::new();
    if let Some(source) = source {
        reason.push_str(source);
        reason.push_str(": ");
    }
    reason.push_str(&sentence_case(error.message()));
    let lines: Vec<&str> = debug
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if let [_, .., last] = lines.as_slice() {
        reason.push_str(" (");
        reason.push_str(last.trim_end_matches('.'));
        reason.push(')');
    }
    reason
}

/// `"Could not open file."` -> `"could not open file"`; acronyms stay.
pub(crate) fn sentence_case(text: &str) -> String {
    let text = text.trim().trim_end_matches('.');
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if !second.is_uppercase() => {
            first.to_lowercase().chain(text.chars().skip(1)).collect()
        }
        (Some(first), None) => first.to_lowercase().collect(),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_classified_from_their_text() {
        let decode = |reason: &str| VideoError::Decode {
            input: "rtsp://cam/1".into(),
            reason: reason.into(),
        };
        assert_eq!(
            decode("source: unauthorized (Unauthorized (401))").failure_kind(),
            FailureKind::Unauthorized
        );
        assert_eq!(
            decode("source: not found (Not Found (404))").failure_kind(),
            FailureKind::NotFound
        );
        assert_eq!(
            decode("source: could not open resource for reading and writing (Failed to connect)")
                .failure_kind(),
            FailureKind::Refused
        );
        assert_eq!(
            decode(
                "source: could not read from resource (Could not receive any UDP packets for 5 s)"
            )
            .failure_kind(),
            FailureKind::Timeout
        );
        assert_eq!(
            decode("qtdemux0: this file is invalid").failure_kind(),
            FailureKind::Other
        );
        let missing = VideoError::Open {
            input: "a.mp4".into(),
            reason: "no such file".into(),
        };
        assert_eq!(missing.failure_kind(), FailureKind::NotFound);
        assert_eq!(
            VideoError::Config("x".into()).failure_kind(),
            FailureKind::Other
        );
    }

    #[test]
    fn sentences_lose_capital_and_period() {
        assert_eq!(sentence_case("Could not open file."), "could not open file");
        assert_eq!(sentence_case("GStreamer broke."), "GStreamer broke");
        assert_eq!(sentence_case(""), "");
        assert_eq!(sentence_case("A"), "a");
    }

    #[test]
    fn reason_names_source_and_keeps_last_debug_line() {
        let err = gstreamer::glib::Error::new(
            gstreamer::StreamError::Demux,
            "This file is invalid and cannot be played.",
        );
        let debug = "qtdemux.c(1): gst_qtdemux_loop (): /GstPipeline:p/GstQTDemux:qtdemux0:\nno 'moov' atom within the first 10 MB";
        assert_eq!(
            gst_reason(Some("qtdemux0"), &err, Some(debug)),
            "qtdemux0: this file is invalid and cannot be played (no 'moov' atom within the first 10 MB)"
        );
        // A one-line debug string is only the source location: left out.
        assert_eq!(
            gst_reason(None, &err, Some("typefind.c(9): loop (): /GstPipeline:p")),
            "this file is invalid and cannot be played"
        );
    }
}
