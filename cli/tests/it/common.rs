//! Helpers shared by the integration tests: running the binary and ffmpeg,
//! the test clips, NDJSON parsing, and the GPU requirement.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

/// The binary under test.
pub fn osprey() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_osprey"));
    // Default logging whatever the caller's environment says.
    cmd.env_remove("RUST_LOG").env("NO_COLOR", "1");
    cmd
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    /// Exit code (`-1` when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Panics unless the run exited 0.
    #[track_caller]
    pub fn success(self) -> Self {
        assert_eq!(self.code, 0, "osprey failed:\n{}", self.stderr);
        self
    }

    /// Panics unless the run failed with `code` and wrote exactly one line to
    /// stderr, `osprey: ...`, with no panic; returns that line.
    #[track_caller]
    pub fn fails_with(&self, code: i32) -> String {
        assert_eq!(self.code, code, "exit code; stderr:\n{}", self.stderr);
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line on stderr, got:\n{}", self.stderr);
        assert!(lines[0].starts_with("osprey: "), "{}", lines[0]);
        assert!(!lines[0].ends_with('.'), "no final period: {}", lines[0]);
        lines[0].to_owned()
    }

    /// The NDJSON records on stdout.
    #[track_caller]
    pub fn records(&self) -> Vec<Value> {
        parse_ndjson(&self.stdout)
    }
}

/// Runs osprey with `args` in `dir`.
pub fn run_in(dir: &Path, args: &[&str]) -> Run {
    let out = osprey()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the osprey binary runs");
    to_run(out)
}

/// Runs osprey with `args` in the current folder.
pub fn run(args: &[&str]) -> Run {
    run_cmd(osprey().args(args))
}

/// Runs a prepared osprey command.
pub fn run_cmd(cmd: &mut Command) -> Run {
    to_run(cmd.output().expect("the osprey binary runs"))
}

fn to_run(out: Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Parses NDJSON, one JSON object a line.
#[track_caller]
pub fn parse_ndjson(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad NDJSON line {l:?}: {e}")))
        .collect()
}

/// The `frame` records among `records`.
pub fn frame_records(records: &[Value]) -> Vec<&Value> {
    records.iter().filter(|r| r["kind"] == "frame").collect()
}

/// Runs ffmpeg with `args`, panicking with its stderr when it fails.
#[track_caller]
pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-y"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run ffmpeg ({e}); run scripts/setup.sh"));
    assert!(
        out.status.success(),
        "ffmpeg {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Where generated clips live: cargo's scratch folder for integration tests,
/// remade once a test run.
fn fixture_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("osprey-it-clips");
        std::fs::create_dir_all(&dir).expect("cargo's tmp folder is writable");
        dir
    })
}

/// Makes `name` in the fixture folder once a run with `make(path)`.
fn fixture(cell: &'static OnceLock<PathBuf>, name: &str, make: fn(&Path)) -> &'static Path {
    cell.get_or_init(|| {
        let path = fixture_dir().join(name);
        make(&path);
        path
    })
}

/// Three sources of 25 frames each joined by the concat filter: two hard cuts
/// (frames 25 and 50), as yuv420p.
fn concat_filter() -> String {
    "[0:v]trim=end_frame=25,setpts=PTS-STARTPTS,format=yuv420p[a];\
     [1:v]trim=end_frame=25,setpts=PTS-STARTPTS,format=yuv420p[b];\
     [2:v]trim=end_frame=25,setpts=PTS-STARTPTS,format=yuv420p[c];\
     [a][b][c]concat=n=3:v=1:a=0[v]"
        .to_owned()
}

/// Input arguments for three lavfi sources at `size`, 25 fps.
fn three_sources(sources: [&str; 3], size: &str) -> Vec<String> {
    let mut args = Vec::new();
    for src in sources {
        args.extend([
            "-f".to_owned(),
            "lavfi".to_owned(),
            "-i".to_owned(),
            format!("{src}=size={size}:rate=25"),
        ]);
    }
    args
}

/// 320x240 H.264 (yuv420p, with B-frames) in MP4: 75 frames, cuts at 25 and 50.
pub fn h264_clip() -> &'static Path {
    static CELL: OnceLock<PathBuf> = OnceLock::new();
    fixture(&CELL, "cuts-320x240.mp4", |path| {
        let mut args = three_sources(["testsrc2", "mandelbrot", "smptebars"], "320x240");
        args.extend(
            [
                "-filter_complex",
                &concat_filter(),
                "-map",
                "[v]",
                "-c:v",
                "libx264",
                "-pix_fmt",
                "yuv420p",
            ]
            .map(str::to_owned),
        );
        args.push(path.to_string_lossy().into_owned());
        ffmpeg(&args.iter().map(String::as_str).collect::<Vec<_>>());
    })
}

/// 321x241 (odd: chroma rounds up) lossless FFV1 yuv420p in Matroska: 75
/// frames, cuts at 25 and 50.
pub fn odd_clip() -> &'static Path {
    static CELL: OnceLock<PathBuf> = OnceLock::new();
    fixture(&CELL, "cuts-321x241.mkv", |path| {
        // testsrc2 rounds sizes down to even; testsrc keeps them.
        let mut args = three_sources(["testsrc", "mandelbrot", "smptebars"], "321x241");
        args.extend(
            [
                "-filter_complex",
                &concat_filter(),
                "-map",
                "[v]",
                "-c:v",
                "ffv1",
                "-pix_fmt",
                "yuv420p",
            ]
            .map(str::to_owned),
        );
        args.push(path.to_string_lossy().into_owned());
        ffmpeg(&args.iter().map(String::as_str).collect::<Vec<_>>());
    })
}

/// A small 64x48 H.264 clip of `frames` frames of testsrc2, 25 fps.
fn small(path: &Path, frames: u32) {
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=64x48:rate=25",
        "-frames:v",
        &frames.to_string(),
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        &path.to_string_lossy(),
    ]);
}

/// 64x48, 12 frames: for shape and plumbing tests.
pub fn small_clip() -> &'static Path {
    static CELL: OnceLock<PathBuf> = OnceLock::new();
    fixture(&CELL, "small-64x48.mp4", |p| small(p, 12))
}

/// 64x48, 400 frames: more NDJSON than a pipe buffer holds.
pub fn long_clip() -> &'static Path {
    static CELL: OnceLock<PathBuf> = OnceLock::new();
    fixture(&CELL, "long-64x48.mp4", |p| small(p, 400))
}

/// The adapter `--backend gpu` opens, from `osprey devices --json`.
///
/// # Panics
/// When wgpu finds no adapter (GPU tests are never skipped), and with
/// `OSPREY_REQUIRE_GPU=1` when the adapter is a software one.
#[track_caller]
pub fn require_gpu() -> Value {
    let run = run(&["devices", "--json"]).success();
    let listing: Value = serde_json::from_str(run.stdout.trim())
        .unwrap_or_else(|e| panic!("devices --json printed {:?}: {e}", run.stdout));
    let auto = listing["gpu"].clone();
    assert!(
        auto.is_object(),
        "wgpu finds no GPU adapter, and GPU tests are not skipped: install Mesa's lavapipe \
         (scripts/setup.sh) or run on a GPU machine; devices said {listing}"
    );
    if std::env::var("OSPREY_REQUIRE_GPU").is_ok_and(|v| v == "1") {
        assert_ne!(
            auto["device_type"], "cpu",
            "OSPREY_REQUIRE_GPU=1 but the adapter is a software one: {auto}"
        );
    }
    auto
}

/// Path as `&str` for an argument list.
pub fn arg(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

/// Reads a child's stderr up to the line that starts with `prefix` (log
/// lines may come first) and returns the rest of that line; panics when the
/// child ends before saying it, naming `what`.
pub fn announced(stderr: &mut impl std::io::BufRead, prefix: &str, what: &str) -> String {
    loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "{what} ended before saying {prefix:?}"
        );
        if let Some(rest) = line.trim().strip_prefix(prefix) {
            return rest.to_owned();
        }
    }
}

/// The port of the `osprey: listening on tcp://127.0.0.1:PORT ...` line a
/// TCP listener (`put --listen`, `aggregate tcp://`) prints on stderr.
pub fn listening_port(stderr: &mut impl std::io::BufRead, what: &str) -> u16 {
    let rest = announced(stderr, "osprey: listening on tcp://127.0.0.1:", what);
    let port = rest.split(' ').next().unwrap_or_default();
    port.parse()
        .unwrap_or_else(|_| panic!("{what} announced no port: {rest:?}"))
}
