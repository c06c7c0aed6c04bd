//! Turning what the user typed into a URI for `uridecodebin`.
//!
//! A plain path becomes the `file://` URI of its canonical path; a `file://`
//! URI is checked the same way. Missing, unreadable and directory inputs are
//! refused here, before any GStreamer element exists, so the user gets
//! `cannot open "x.mp4": no such file` rather than a decoder's complaint.
//! Other URIs (`rtsp://`, `http://`, ...) go to GStreamer unchanged.

use std::fs::File;
use std::path::Path;

use gstreamer::glib;

use osprey_ingest::error::io_reason;

use crate::error::VideoError;

/// The URI `uridecodebin` should open for `input`.
///
/// # Errors
/// [`VideoError::Open`] when `input` names a local file that does not exist,
/// is a directory or cannot be read.
pub(crate) fn to_uri(input: &str) -> Result<String, VideoError> {
    let open_err = |reason: String| VideoError::Open {
        input: input.to_owned(),
        reason,
    };
    if let Some(scheme) = uri_scheme(input) {
        if !scheme.eq_ignore_ascii_case("file") {
            return Ok(input.to_owned());
        }
        let (path, _host) = glib::filename_from_uri(input)
            .map_err(|e| open_err(format!("not a valid file URI: {}", e.message())))?;
        check_readable(&path).map_err(open_err)?;
        return Ok(input.to_owned());
    }
    let path = Path::new(input);
    check_readable(path).map_err(open_err)?;
    let canonical = path.canonicalize().map_err(|e| open_err(io_reason(&e)))?;
    glib::filename_to_uri(&canonical, None)
        .map(|uri| uri.to_string())
        .map_err(|e| open_err(format!("cannot make a URI of it: {}", e.message())))
}

/// The scheme of `input` when it is a URI (`scheme://...`), `None` for a path.
fn uri_scheme(input: &str) -> Option<&str> {
    let (scheme, _) = input.split_once("://")?;
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (first_ok && rest_ok).then_some(scheme)
}

/// Checks that `path` is a regular file we may read.
fn check_readable(path: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| io_reason(&e))?;
    if meta.is_dir() {
        return Err("is a directory".to_owned());
    }
    File::open(path).map(drop).map_err(|e| io_reason(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_are_told_from_paths() {
        assert_eq!(uri_scheme("rtsp://cam/1"), Some("rtsp"));
        assert_eq!(uri_scheme("file:///tmp/a.mp4"), Some("file"));
        assert_eq!(uri_scheme("/tmp/a.mp4"), None);
        assert_eq!(uri_scheme("clips/a://b.mp4"), None);
        assert_eq!(uri_scheme("://x"), None);
    }

    #[test]
    fn missing_paths_and_file_uris_are_open_errors() {
        for input in ["/nonexistent/osprey.mp4", "file:///nonexistent/osprey.mp4"] {
            let err = to_uri(input)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.ends_with(": no such file"), "{input}: {err}");
        }
        let err = to_uri("/").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.ends_with("is a directory"), "{err}");
    }

    #[test]
    fn network_uris_pass_unchanged() -> Result<(), VideoError> {
        assert_eq!(to_uri("rtsp://cam/1")?, "rtsp://cam/1");
        Ok(())
    }

    #[test]
    fn paths_become_escaped_file_uris() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("a b#.mp4");
        std::fs::write(&file, b"x")?;
        let uri = to_uri(file.to_str().ok_or("utf-8 temp path")?)?;
        assert!(uri.starts_with("file:///"), "{uri}");
        assert!(uri.ends_with("/a%20b%23.mp4"), "{uri}");
        Ok(())
    }
}
