//! [`Mount`]: one stream the test server serves, and the launch line of its
//! media.

use std::path::{Path, PathBuf};

/// One stream served at `rtsp://127.0.0.1:PORT/<path>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Mount {
    /// The mount path, with or without its leading `/` (`cam0`, `/cam0`).
    pub path: String,
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Frames a second.
    pub fps: u32,
    /// The `videotestsrc` pattern (`ball`, `smpte`, `black`, ...).
    pub pattern: String,
    /// x264's bitrate in kbit/s (`None`: x264enc's default, 2048); with a
    /// busy pattern (`snow`) it sets a real camera's bitrate for benchmarks.
    pub bitrate_kbit: Option<u32>,
    /// Adds an audio track (A-law from `audiotestsrc`) to the stream.
    pub audio: bool,
    /// `(user, password)`: basic authentication is required and any other
    /// client is refused with 401 Unauthorized.
    pub credentials: Option<(String, String)>,
    /// An H.264 elementary stream (Annex B, as `ffmpeg -f h264` writes it)
    /// served in a loop at `fps` instead of an encoded test pattern: a
    /// camera whose encoder runs elsewhere (no x264 on this machine's
    /// cores), with the clip's content. `width`, `height`, `pattern` and
    /// `bitrate_kbit` do not apply; [`crate::TestServer::set_size`] has no
    /// effect on it. The clip should start with a key frame and have no
    /// B-frames, as a camera's stream has none.
    pub clip: Option<PathBuf>,
}

impl Mount {
    /// A 320x240, 25 fps `ball` stream at `path`, no audio, no credentials.
    pub fn new(path: impl Into<String>) -> Self {
        Mount {
            path: path.into(),
            width: 320,
            height: 240,
            fps: 25,
            pattern: "ball".to_owned(),
            bitrate_kbit: None,
            audio: false,
            credentials: None,
            clip: None,
        }
    }

    /// Sets the frame size.
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.width = width;
        self.height = height;
        self
    }

    /// Sets the frame rate.
    pub fn fps(mut self, fps: u32) -> Self {
        self.fps = fps;
        self
    }

    /// Sets the `videotestsrc` pattern.
    pub fn pattern(mut self, pattern: impl Into<String>) -> Self {
        self.pattern = pattern.into();
        self
    }

    /// Sets x264's bitrate in kbit/s.
    pub fn bitrate_kbit(mut self, kbit: u32) -> Self {
        self.bitrate_kbit = Some(kbit);
        self
    }

    /// Adds (or removes) the audio track.
    pub fn audio(mut self, audio: bool) -> Self {
        self.audio = audio;
        self
    }

    /// Serves the H.264 elementary stream at `path` in a loop (see
    /// [`Mount::clip`](Mount#structfield.clip)).
    pub fn clip(mut self, path: impl Into<PathBuf>) -> Self {
        self.clip = Some(path.into());
        self
    }

    /// Requires these credentials.
    pub fn credentials(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.credentials = Some((user.into(), password.into()));
        self
    }

    /// The path with its leading `/`, as the mount points want it.
    pub(crate) fn mount_path(&self) -> String {
        normalize_path(&self.path)
    }

    /// The media's launch line. The elements named `size` (the capsfilter)
    /// and `valve` are what [`crate::TestServer::set_size`] and
    /// [`crate::TestServer::stall`] act on.
    pub(crate) fn launch_line(&self) -> String {
        let fps = self.fps.max(1);
        let mut line = match &self.clip {
            Some(clip) => clip_source(clip, fps),
            None => self.pattern_source(fps),
        };
        if self.audio {
            line.push_str(
                " audiotestsrc is-live=true wave=sine ! audio/x-raw,rate=8000,channels=1 \
                 ! alawenc ! rtppcmapay name=pay1 pt=8",
            );
        }
        line.push_str(" )");
        line
    }

    /// The video of a test pattern: raw frames at the mount's size, encoded
    /// by x264.
    fn pattern_source(&self, fps: u32) -> String {
        format!(
            "( videotestsrc is-live=true pattern={pattern} \
             ! capsfilter name=size caps={caps} \
             ! valve name=valve drop=false \
             ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={fps}{bitrate} \
             ! rtph264pay name=pay0 pt=96 config-interval=-1",
            pattern = self.pattern,
            caps = raw_caps(self.width, self.height, fps),
            bitrate = self
                .bitrate_kbit
                .map(|kbit| format!(" bitrate={}", kbit.max(1)))
                .unwrap_or_default(),
        )
    }
}

/// The video of a clip: the file read again and again as one byte stream,
/// split into access units by `h264parse` (named `parse`), which stamps
/// them at `fps` with decoding times that go on across the loops; the
/// server gives each the same presentation time (no B-frames), so its
/// sinks send them at that pace.
fn clip_source(clip: &Path, fps: u32) -> String {
    format!(
        "( multifilesrc location=\"{location}\" loop=true \
         caps=\"video/x-h264,stream-format=byte-stream,framerate={fps}/1\" \
         ! h264parse name=parse \
         ! valve name=valve drop=false \
         ! rtph264pay name=pay0 pt=96 config-interval=-1",
        location = clip.display(),
    )
}

/// Why `clip` cannot be served, if it cannot: it must be a readable file,
/// and its path is written into a launch line (no `"`) and read as a
/// pattern by `multifilesrc` (no `%`).
pub(crate) fn check_clip(clip: &Path) -> Result<(), String> {
    let text = clip.to_str().ok_or("the path is not UTF-8")?;
    if text.contains(['"', '%']) {
        return Err("the path must not contain '\"' or '%'".to_owned());
    }
    match std::fs::metadata(clip) {
        Ok(m) if m.is_file() && m.len() > 0 => Ok(()),
        Ok(_) => Err("not a non-empty file".to_owned()),
        Err(e) => Err(e.to_string()),
    }
}

/// `path` with exactly one leading `/`.
pub(crate) fn normalize_path(path: &str) -> String {
    format!("/{}", path.trim_start_matches('/'))
}

/// The raw video caps the capsfilter holds, as launch syntax.
pub(crate) fn raw_caps(width: u32, height: u32, fps: u32) -> String {
    format!("video/x-raw,width={width},height={height},framerate={fps}/1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clip_is_served_without_an_encoder() {
        let line = Mount::new("cam0")
            .fps(10)
            .clip("/tmp/cam.h264")
            .launch_line();
        assert!(
            line.contains("location=\"/tmp/cam.h264\" loop=true"),
            "{line}"
        );
        assert!(line.contains("framerate=10/1"), "{line}");
        assert!(
            line.contains("name=valve") && !line.contains("x264enc"),
            "{line}"
        );
        assert!(check_clip(Path::new("/no/such/clip.h264")).is_err());
        assert!(check_clip(Path::new("/tmp/100%.h264")).is_err());
    }

    #[test]
    fn launch_line_names_the_hooks_and_adds_audio_on_request() {
        let plain = Mount::new("cam0").size(640, 480).fps(10).launch_line();
        assert!(
            plain.contains("width=640,height=480,framerate=10/1"),
            "{plain}"
        );
        assert!(plain.contains("name=size") && plain.contains("name=valve"));
        assert!(plain.contains("key-int-max=10"));
        assert!(!plain.contains("pay1"));
        assert!(!plain.contains("bitrate="));
        let busy = Mount::new("cam0").bitrate_kbit(6000).launch_line();
        assert!(busy.contains("key-int-max=25 bitrate=6000 "), "{busy}");
        let audio = Mount::new("cam0").audio(true).launch_line();
        assert!(audio.contains("rtppcmapay name=pay1"), "{audio}");
    }

    #[test]
    fn paths_get_one_leading_slash() {
        assert_eq!(normalize_path("cam0"), "/cam0");
        assert_eq!(normalize_path("/cam0"), "/cam0");
        assert_eq!(Mount::new("//a/b").mount_path(), "/a/b");
    }
}
