//! What a source is, as the user describes it: a URI (a file path, any URI
//! GStreamer opens, `rtsp://`, `v4l2:///dev/video0`, `test:ball`), how to
//! reach it (RTSP transport and latency, credentials), and which decoder to
//! use; and [`redact`], which keeps passwords out of every name, message and
//! log line.

use std::time::Duration;

/// One source to decode. Its `Debug` shows the URI redacted.
#[derive(Clone, PartialEq)]
pub struct SourceSpec {
    /// The URI or path as given. It may hold `user:password@`; never print
    /// it: use [`SourceSpec::redacted`].
    pub uri: String,
    /// `rtspsrc` settings, for `rtsp://` sources.
    pub rtsp: RtspOptions,
    /// Credentials given apart from the URI (a sources file, an environment
    /// variable); they win over those in the URI.
    pub credentials: Option<Credentials>,
    /// Which decoders may be used.
    pub decode: DecodeChoice,
    /// For files: the wall-clock time of the first frame (Unix seconds), so
    /// records carry `ts = start_time + pts`.
    pub start_time: Option<f64>,
    /// For files: play the file again from its start at each end, at real
    /// time, as a camera would (`loop = true`). The source is then live:
    /// frames carry the wall-clock time, pts and frame indices run on
    /// across the rounds, and it ends only on an error or a stop.
    pub looping: bool,
}

impl std::fmt::Debug for SourceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceSpec")
            .field("uri", &self.redacted())
            .field("rtsp", &self.rtsp)
            .field("credentials", &self.credentials)
            .field("decode", &self.decode)
            .field("start_time", &self.start_time)
            .field("looping", &self.looping)
            .finish()
    }
}

impl SourceSpec {
    /// A source with default settings.
    pub fn new(uri: impl Into<String>) -> Self {
        SourceSpec {
            uri: uri.into(),
            rtsp: RtspOptions::default(),
            credentials: None,
            decode: DecodeChoice::Auto,
            start_time: None,
            looping: false,
        }
    }

    /// The URI with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        redact(&self.uri)
    }
}

/// How `rtspsrc` reaches a camera.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RtspOptions {
    /// Lower transports allowed.
    pub transport: Transport,
    /// The jitter buffer's latency.
    pub latency: Duration,
}

impl Default for RtspOptions {
    /// Any transport, 200 ms of jitter buffer (rtspsrc's own default, 2 s,
    /// delays every record by that much).
    fn default() -> Self {
        RtspOptions {
            transport: Transport::Auto,
            latency: Duration::from_millis(200),
        }
    }
}

/// RTSP lower transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    /// UDP first, then TCP (rtspsrc's default).
    #[default]
    Auto,
    /// RTP over the RTSP TCP connection (interleaved): through firewalls
    /// and NAT, no loss.
    Tcp,
    /// RTP over UDP.
    Udp,
}

/// A user name and password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub user: String,
    /// Password; never printed.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"***")
            .finish()
    }
}

/// Which decoders a source may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DecodeChoice {
    /// A hardware decoder when GStreamer has one for the codec, else
    /// software.
    #[default]
    Auto,
    /// Hardware only: a source whose codec has no hardware decoder fails.
    Hw,
    /// Software only.
    Sw,
}

/// `text` with the password of every `scheme://user:password@` in it
/// replaced by `***`: for source names, messages and logs.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        // The authority ends at the first '/', '?', '#' or whitespace.
        let end = tail
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(userinfo_end) => {
                let userinfo = &authority[..userinfo_end];
                match userinfo.find(':') {
                    Some(colon) => {
                        out.push_str(&userinfo[..colon]);
                        out.push_str(":***");
                    }
                    None => out.push_str(userinfo),
                }
                out.push_str(&authority[userinfo_end..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_wherever_a_uri_appears() {
        assert_eq!(
            redact("rtsp://admin:secret@10.0.0.5:554/stream1"),
            "rtsp://admin:***@10.0.0.5:554/stream1"
        );
        assert_eq!(
            redact("cannot open rtsp://u:p%40ss@cam/x?a=b: refused; also http://x:y@h"),
            "cannot open rtsp://u:***@cam/x?a=b: refused; also http://x:***@h"
        );
        // A user with no password, and no user at all, stay as they are.
        assert_eq!(redact("rtsp://admin@cam/1"), "rtsp://admin@cam/1");
        assert_eq!(
            redact("rtsp://cam/1 and /tmp/a.mp4"),
            "rtsp://cam/1 and /tmp/a.mp4"
        );
        // A password holding '@' and ':' (not escaped) is still hidden.
        assert_eq!(redact("rtsp://a:b:c@d@cam/1"), "rtsp://a:***@cam/1");
        assert_eq!(redact("no uri here"), "no uri here");
    }

    #[test]
    fn credentials_never_print_their_password() {
        let c = Credentials {
            user: "admin".into(),
            password: "secret".into(),
        };
        assert!(!format!("{c:?}").contains("secret"));
        assert!(!format!("{:?}", SourceSpec::new("rtsp://a:secret@h/")).contains("secret"));
    }
}
