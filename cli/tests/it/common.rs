//! Helpers shared by the integration tests: running the binary and ffmpeg,
//! the test clips, NDJSON parsing, and the GPU requirement; and what keeps a
//! failing test from hanging the run or leaving processes behind: [`Proc`],
//! a child killed when dropped, [`Lines`], a child's output read with a
//! time limit, and [`PATIENCE`], the limit on every wait.

use std::io::{BufRead as _, BufReader, Read, Write as _};
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

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

/// How long a test waits on anything (a process to end, a line to come, a
/// condition to hold) before it fails: far more than any of them takes on a
/// loaded 2-core machine, so that reaching it means a hang, not a slow run.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// Runs osprey with `args` in `dir`.
pub fn run_in(dir: &Path, args: &[&str]) -> Run {
    run_cmd(osprey().args(args).current_dir(dir))
}

/// Runs osprey with `args` in the current folder.
pub fn run(args: &[&str]) -> Run {
    run_cmd(osprey().args(args))
}

/// Runs a prepared osprey command, with nothing on stdin.
pub fn run_cmd(cmd: &mut Command) -> Run {
    to_run(output(cmd, b""))
}

/// Runs a prepared command (osprey or another program) with `input` on
/// stdin (written from a thread of its own, so that a child that writes
/// much before it has read all of its input cannot block on a full pipe,
/// and one that stops reading early is no error) and returns what it did.
///
/// # Panics
/// When it does not start, or still runs after [`PATIENCE`] (it is then
/// killed).
#[track_caller]
pub fn output(cmd: &mut Command, input: &[u8]) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = Proc::spawn(cmd);
    let mut pipe = child.stdin.take().expect("stdin is piped");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let read_all = |r: Option<Box<dyn Read + Send>>| {
        let mut r = r.expect("the output is piped");
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = r.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = read_all(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = read_all(child.stderr.take().map(|p| Box::new(p) as _));
    let status = child.wait_exit(&format!("{:?}", cmd.get_program()));
    let _ = writer.join();
    Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// Runs osprey with `args` in `dir`, with `input` on stdin.
pub fn run_stdin(dir: &Path, args: &[&str], input: &[u8]) -> Run {
    to_run(output(osprey().args(args).current_dir(dir), input))
}

/// A child process that is killed (SIGKILL) and reaped when dropped, so that
/// a test that fails half way leaves no process behind (nor one holding the
/// test's pipes open); it derefs to the [`Child`].
#[derive(Debug)]
pub struct Proc(Child);

impl Proc {
    /// Starts `cmd`.
    ///
    /// # Panics
    /// When it cannot start.
    #[track_caller]
    pub fn spawn(cmd: &mut Command) -> Proc {
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", cmd.get_program()));
        Proc(child)
    }

    /// True while the process runs.
    pub fn alive(&mut self) -> bool {
        self.0.try_wait().unwrap().is_none()
    }

    /// Kills the process with SIGKILL, if it still runs, and reaps it.
    pub fn kill_now(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// Waits for the process to end by itself within [`PATIENCE`].
    ///
    /// # Panics
    /// When it still runs then (it is killed first), naming `what`.
    #[track_caller]
    pub fn wait_exit(&mut self, what: &str) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            if Instant::now() >= deadline {
                self.kill_now();
                panic!("{what}: still running after {PATIENCE:?}; killed");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// The lines of the process's piped stdout, read by a thread of their own.
    pub fn stdout_lines(&mut self) -> Lines {
        Lines::of(self.0.stdout.take().expect("stdout is piped"))
    }

    /// The lines of the process's piped stderr, read by a thread of their own
    /// (which drains it to the end, so that logging never blocks the child).
    pub fn stderr_lines(&mut self) -> Lines {
        Lines::of(self.0.stderr.take().expect("stderr is piped"))
    }
}

impl Deref for Proc {
    type Target = Child;

    fn deref(&self) -> &Child {
        &self.0
    }
}

impl DerefMut for Proc {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill_now();
    }
}

/// The lines of a pipe or socket, read by a thread of their own so that a
/// test waits on them with a time limit instead of blocking for ever. The
/// thread reads to the end even when no one takes the lines any more.
#[derive(Debug)]
pub struct Lines(Receiver<String>);

impl Lines {
    /// Starts reading `from`.
    pub fn of(from: impl Read + Send + 'static) -> Lines {
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut from = BufReader::new(from);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match from.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buf);
                        // Past a receiver's drop, go on draining.
                        let _ = tx.send(line.trim_end_matches(['\n', '\r']).to_owned());
                    }
                }
            }
        });
        Lines(rx)
    }

    /// The next line, waiting at most `within`: `Err(Timeout)` when none
    /// came, `Err(Disconnected)` at the end of the input.
    pub fn next_within(&self, within: Duration) -> Result<String, RecvTimeoutError> {
        self.0.recv_timeout(within)
    }

    /// The next line, or `None` at the end of the input.
    ///
    /// # Panics
    /// When none comes within [`PATIENCE`], naming `what`.
    #[track_caller]
    pub fn next(&self, what: &str) -> Option<String> {
        match self.0.recv_timeout(PATIENCE) {
            Ok(line) => Some(line),
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => panic!("{what}: no line in {PATIENCE:?}"),
        }
    }

    /// The next `n` lines as JSON, waiting at most [`PATIENCE`] in all.
    ///
    /// # Panics
    /// When fewer come, or one is not JSON, naming `what`.
    #[track_caller]
    pub fn json(&self, n: usize, what: &str) -> Vec<Value> {
        let deadline = Instant::now() + PATIENCE;
        let mut out = Vec::new();
        while out.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.0.recv_timeout(left) {
                Ok(line) => out.push(
                    serde_json::from_str(&line)
                        .unwrap_or_else(|e| panic!("{what}: bad JSON line {line:?}: {e}")),
                ),
                Err(e) => panic!("{what}: {} of {n} lines came ({e:?})", out.len()),
            }
        }
        out
    }

    /// Every line to the end of the input.
    ///
    /// # Panics
    /// When the input does not end within [`PATIENCE`], naming `what`.
    #[track_caller]
    pub fn to_end(&self, what: &str) -> Vec<String> {
        let deadline = Instant::now() + PATIENCE;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.0.recv_timeout(left) {
                Ok(line) => out.push(line),
                Err(RecvTimeoutError::Disconnected) => return out,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("{what}: the output did not end in {PATIENCE:?}")
                }
            }
        }
    }

    /// Reads up to the line that starts with `prefix` (log lines may come
    /// first) and returns the rest of that line.
    ///
    /// # Panics
    /// When the input ends first or the line does not come within
    /// [`PATIENCE`], naming `what`.
    #[track_caller]
    pub fn announced(&self, prefix: &str, what: &str) -> String {
        loop {
            let Some(line) = self.next(what) else {
                panic!("{what} ended before saying {prefix:?}")
            };
            if let Some(rest) = line.trim().strip_prefix(prefix) {
                return rest.to_owned();
            }
        }
    }

    /// The port of the `osprey: listening on tcp://127.0.0.1:PORT ...` line
    /// a TCP listener (`put --listen`, `aggregate tcp://`) prints on stderr.
    #[track_caller]
    pub fn listening_port(&self, what: &str) -> u16 {
        let rest = self.announced("osprey: listening on tcp://127.0.0.1:", what);
        let port = rest.split(' ').next().unwrap_or_default();
        port.parse()
            .unwrap_or_else(|_| panic!("{what} announced no port: {rest:?}"))
    }
}

/// Waits until `check()` is `Ok`, checking every 10 ms: a test waits on a
/// condition, not on a sleep.
///
/// # Panics
/// When it is not within [`PATIENCE`], with the last `Err`'s message.
#[track_caller]
pub fn wait_until(mut check: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match check() {
            Ok(()) => return,
            Err(why) => assert!(Instant::now() < deadline, "after {PATIENCE:?}: {why}"),
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `Ok` when `ready`, else `Err` with `why()`: for [`wait_until`].
pub fn ready_or(ready: bool, why: impl FnOnce() -> String) -> Result<(), String> {
    if ready { Ok(()) } else { Err(why()) }
}

/// What one run did, from its [`Output`].
pub fn to_run(out: Output) -> Run {
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
/// The listing is asked for once a test binary (a process that opens every
/// adapter); a failed look-up fails every test that asks.
#[track_caller]
pub fn require_gpu() -> Value {
    static LISTING: OnceLock<Value> = OnceLock::new();
    let listing = LISTING.get_or_init(|| {
        let run = run(&["devices", "--json"]).success();
        serde_json::from_str(run.stdout.trim())
            .unwrap_or_else(|e| panic!("devices --json printed {:?}: {e}", run.stdout))
    });
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

/// Something worked out once per clip in a test binary and shared by every
/// test that asks for it: an oracle's figures, or the CPU backend's records
/// that the GPU's are compared with. A `make` that panics fails its test and
/// leaves nothing behind, so the next test to ask makes it again (and fails
/// the same way).
pub struct PerClip<T: 'static>(Mutex<Vec<(PathBuf, &'static OnceLock<T>)>>);

impl<T: Send + Sync + 'static> PerClip<T> {
    /// Nothing made yet.
    pub const fn new() -> Self {
        PerClip(Mutex::new(Vec::new()))
    }

    /// The value for `clip`, made by `make` the first time.
    pub fn get(&'static self, clip: &Path, make: impl FnOnce() -> T) -> &'static T {
        let cell = {
            let mut cells = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            match cells.iter().find(|(path, _)| path == clip) {
                Some((_, cell)) => *cell,
                None => {
                    // One cell a clip, a handful a binary: leaked on purpose.
                    let cell: &'static OnceLock<T> = Box::leak(Box::new(OnceLock::new()));
                    cells.push((clip.to_owned(), cell));
                    cell
                }
            }
        };
        cell.get_or_init(make)
    }
}

/// Path as `&str` for an argument list.
pub fn arg(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}
