//! `osprey serve --config` seen from outside: the dashboard in headless
//! Chromium (driven by `dashboard.py` with selenium), and `/api` with
//! curl, against the real binary. The camera is a live RTSP test source
//! (320x240 at 10 fps) from the RTSP server in the test process that cuts
//! from white to black and back every second: its `pattern` is a
//! launch-line fragment, `blink` (a white and a black frame in turn) at
//! 1 fps, repeated to 10 fps by `videorate`, so it keeps writing scene
//! cuts while the tests look.
//!
//! The camera records into video stream `rec` (2 s fragments): the page's
//! live player and an event's clip play in Chromium, and the playlists and
//! clips of `/api/videos/` are read by ffprobe.
//!
//! The dashboard test saves its screenshot to
//! `target/test-artifacts/dashboard.png` (next to the build's `target/`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use osprey_rtsp_server::{Mount, TestServer};

use crate::common::{Lines, Proc, osprey};

/// A running `osprey serve --config`, its address and its camera.
struct Server {
    _proc: Proc,
    _stderr: Lines,
    base: String,
    rtsp: TestServer,
    _dir: tempfile::TempDir,
}

/// Starts a server on port 0 with one camera `cam1` (the blinking RTSP
/// source) and `token` in `[http]`, and waits for its address.
fn start(token: Option<&str>) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let rtsp = TestServer::start(&[Mount::new("cam")
        .size(320, 240)
        .fps(10)
        .pattern("blink ! video/x-raw,framerate=1/1 ! videorate")])
    .unwrap();
    let token = token.map_or(String::new(), |t| format!("token = \"{t}\"\n"));
    let config = format!(
        "data_dir = \"data\"\nbackend = \"cpu\"\n[http]\nlisten = \"127.0.0.1:0\"\n{token}\
         [[cameras]]\nname = \"cam1\"\nuri = \"{}\"\nkernels = [\"scene\"]\n\
         record = \"rec\"\n",
        rtsp.url("cam")
    );
    std::fs::write(dir.path().join("osprey.toml"), config).unwrap();
    let mut proc = Proc::spawn(
        osprey()
            .current_dir(dir.path())
            .args(["serve", "--config", "osprey.toml"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    );
    let stderr = proc.stderr_lines();
    let base = loop {
        let line = stderr.next("serve's address").expect("serve ended early");
        if let Some(addr) = line.strip_prefix("osprey: serving on ") {
            break addr.trim().to_owned();
        }
    };
    Server {
        _proc: proc,
        _stderr: stderr,
        base,
        rtsp,
        _dir: dir,
    }
}

/// `curl` with `args` against `server`: (status, body).
fn curl(server: &Server, token: Option<&str>, args: &[&str], path: &str) -> (u16, Vec<u8>) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "--max-time", "10", "-w", "\n%{http_code}"]);
    if let Some(t) = token {
        cmd.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    let out = cmd
        .args(args)
        .arg(format!("{}{path}", server.base))
        .output()
        .unwrap();
    let mut body = out.stdout;
    let split = body.iter().rposition(|&b| b == b'\n').unwrap();
    let status = std::str::from_utf8(&body[split + 1..])
        .unwrap()
        .parse()
        .unwrap();
    body.truncate(split);
    (status, body)
}

/// Polls `ok` every 100 ms for at most 20 s.
#[track_caller]
fn within_20s<T>(what: &str, mut ok: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(t) = ok() {
            return t;
        }
        assert!(Instant::now() < deadline, "{what}: not within 20 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `target/test-artifacts/NAME`, its folder made.
fn artifact(name: &str) -> PathBuf {
    let target = Path::new(env!("CARGO_BIN_EXE_osprey"))
        .ancestors()
        .nth(2)
        .unwrap()
        .join("test-artifacts");
    std::fs::create_dir_all(&target).unwrap();
    target.join(name)
}

#[test]
fn dashboard_lists_the_camera_and_shows_a_scene_cut_in_chromium() {
    let server = start(None);
    let screenshot = artifact("dashboard.png");
    let _ = std::fs::remove_file(&screenshot);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/dashboard.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(format!("{}/", server.base))
        .arg("cam1")
        .arg(&screenshot)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dashboard.py: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Debian's Chromium plays H.264 in MSE; where one does not, the page
    // is only seen to fetch the playlist, and this says so.
    assert!(
        (stdout.contains("mse-h264: True")
            && stdout.contains("live video plays")
            && stdout.contains("clip plays"))
            || stdout.contains("mse-h264: False"),
        "{stdout}"
    );
    println!("{stdout}");
    let png = std::fs::read(&screenshot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{}",
        png.len()
    );
}

#[test]
fn api_lists_serves_frames_filters_events_and_streams_them_behind_a_token() {
    let t = Some("t0ken");
    let server = start(t);
    let (status, body) = curl(&server, None, &[], "/api/sources");
    assert_eq!(status, 401);
    assert!(!String::from_utf8_lossy(&body).contains("t0ken"));
    assert_eq!(curl(&server, Some("wrong"), &[], "/api/sources").0, 401);
    assert_eq!(curl(&server, None, &[], "/healthz").0, 200);
    // The recording's video is the token's too (404: nothing recorded yet
    // or the playlist; never 401 with the token).
    for path in [
        "/api/videos/rec/live.m3u8",
        "/api/videos/rec/clip.mp4?start=1&end=2",
    ] {
        assert_eq!(curl(&server, None, &[], path).0, 401, "{path}");
        assert_ne!(curl(&server, t, &[], path).0, 401, "{path}");
    }

    let (status, body) = curl(&server, t, &[], "/api/sources");
    assert_eq!(status, 200);
    let sources: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(sources[0]["name"], "cam1");
    assert!(["up", "down"].contains(&sources[0]["state"].as_str().unwrap()));

    assert_eq!(curl(&server, t, &[], "/api/sources/nope/latest.jpg").0, 404);

    let cuts = within_20s("stored scene cuts", || {
        let (status, body) = curl(
            &server,
            t,
            &[],
            "/api/events?source=cam1&type=scene_cut&limit=5",
        );
        assert_eq!(status, 200);
        let events: Vec<Value> = serde_json::from_slice(&body).unwrap();
        (events.len() >= 2).then_some(events)
    });
    assert!(cuts.len() <= 5);
    assert!(
        cuts.iter()
            .all(|e| e["event"]["type"] == "scene_cut" && e["event"]["source"] == "cam1")
    );
    assert!(
        cuts[0]["time"].as_str() >= cuts[1]["time"].as_str(),
        "newest first"
    );
    let (_, body) = curl(&server, t, &[], "/api/events?type=no_such_type");
    assert_eq!(body, b"[]");
    assert_eq!(curl(&server, t, &[], "/api/events?limit=0").0, 400);

    // The live feed: curl holds it open until its --max-time.
    let (status, body) = curl(
        &server,
        t,
        &["-N", "--max-time", "4"],
        "/api/events/live?type=scene_cut",
    );
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    let first = text
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap_or_else(|| panic!("no event in 4 s: {text:?}"));
    let event: Value = serde_json::from_str(first).unwrap();
    assert_eq!(
        (&event["type"], &event["source"]),
        (&"scene_cut".into(), &"cam1".into())
    );
}

#[test]
fn latest_jpg_is_a_jpeg_at_most_the_width_asked() {
    let server = start(None);
    let jpeg = within_20s("a latest.jpg", || {
        let (status, body) = curl(&server, None, &[], "/api/sources/cam1/latest.jpg?width=160");
        (status == 200).then_some(body)
    });
    let image = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg).unwrap();
    assert!(
        image.width() <= 160 && image.width() > 0,
        "{}",
        image.width()
    );
}

#[test]
fn api_adds_and_removes_a_camera() {
    let server = start(None);
    let camera = format!(
        r#"{{"name":"cam2","uri":"{}","kernels":["scene"]}}"#,
        server.rtsp.url("cam")
    );
    let (status, body) = curl(
        &server,
        None,
        &["-X", "POST", "-d", &camera],
        "/api/sources",
    );
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let (_, body) = curl(&server, None, &[], "/api/sources");
    let sources: Vec<Value> = serde_json::from_slice(&body).unwrap();
    let names: Vec<_> = sources
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cam1", "cam2"]);
    assert_eq!(
        curl(&server, None, &["-X", "DELETE"], "/api/sources/cam2").0,
        204
    );
    assert_eq!(
        curl(&server, None, &["-X", "DELETE"], "/api/sources/cam2").0,
        404
    );
    let (_, body) = curl(&server, None, &[], "/api/sources");
    assert!(!String::from_utf8_lossy(&body).contains("cam2"));
}

/// Frame times ffprobe reads from `url` (a playlist or a file).
fn frame_times(url: &str) -> Vec<f64> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0"])
        .args(["-show_entries", "frame=pts_time", "-of", "csv=p=0", url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffprobe {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse().ok())
        .collect()
}

/// True when `times` are at least `n` frames, rising, about 10 fps apart
/// but at `gaps` places at most (the playlist's discontinuities).
fn continuous(times: &[f64], n: usize, gaps: usize) -> bool {
    times.len() >= n
        && times.windows(2).all(|w| w[1] > w[0])
        && times.windows(2).filter(|w| w[1] - w[0] > 0.3).count() <= gaps
}

#[test]
fn a_recording_camera_serves_its_live_playlist_and_clips_to_ffprobe() {
    let server = start(None);
    let sources: Value = within_20s("cam1 listed", || {
        let (status, body) = curl(&server, None, &[], "/api/sources");
        (status == 200).then(|| serde_json::from_slice(&body).unwrap())
    });
    assert_eq!(sources[0]["record"], "rec", "{sources}");
    // Three fragments recorded: the live media playlist lists them.
    let playlist = within_20s("three segments in the live playlist", || {
        let (status, body) = curl(
            &server,
            None,
            &[],
            "/api/videos/rec/getHLSMediaPlaylist.m3u8",
        );
        let text = String::from_utf8(body).unwrap();
        (status == 200
            && text
                .matches("getMP4MediaFragment.mp4?FragmentNumber=")
                .count()
                >= 2)
            .then_some(text)
    });
    assert!(
        playlist.contains("#EXT-X-MAP:URI=\"getMP4InitFragment.mp4?FragmentNumber=")
            && !playlist.contains("#EXT-X-ENDLIST"),
        "{playlist}"
    );
    let (status, master) = curl(&server, None, &[], "/api/videos/rec/live.m3u8");
    let master = String::from_utf8(master).unwrap();
    assert!(
        status == 200 && master.contains("CODECS=\"avc1.") && master.contains("RESOLUTION=320x240"),
        "{status} {master}"
    );
    // The same presentation on demand (ended, so ffprobe reads it to its
    // end) from the live window's second segment on (the camera's first
    // fragment may end in a stall as its pipeline starts): frames 10 a
    // second, a gap only where the playlist marks a discontinuity.
    let second = playlist
        .lines()
        .filter_map(|l| l.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:"))
        .nth(1)
        .unwrap();
    let start = chrono::DateTime::parse_from_rfc3339(second)
        .unwrap()
        .timestamp_millis() as f64
        / 1000.0
        + 0.01;
    let range = format!("start={start:.3}&end={:.3}", start + 60.0);
    let demand = format!("{}/api/videos/rec/live.m3u8?{range}", server.base);
    let (status, ended) = curl(
        &server,
        None,
        &[],
        &format!("/api/videos/rec/getHLSMediaPlaylist.m3u8?{range}"),
    );
    let ended = String::from_utf8(ended).unwrap();
    assert!(status == 200 && ended.contains("#EXT-X-ENDLIST"), "{ended}");
    let gaps = ended.matches("#EXT-X-DISCONTINUITY").count();
    let times = frame_times(&demand);
    assert!(continuous(&times, 20, gaps), "{gaps} {times:?}");
    // A clip of the same range: an MP4 ffprobe reads.
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("clip.mp4");
    let clip_arg = clip.to_str().unwrap();
    let (status, _) = curl(
        &server,
        None,
        &["-o", clip_arg],
        &format!("/api/videos/rec/clip.mp4?{range}"),
    );
    assert_eq!(status, 200);
    let times = frame_times(clip_arg);
    assert!(continuous(&times, 20, gaps), "{gaps} {times:?}");
    // Refusals: a missing stream, a range with no media, a bad time.
    for (path, want, says) in [
        ("/api/videos/nope/live.m3u8", 404, "nope"),
        ("/api/videos/nope/clip.mp4?start=1&end=2", 404, "nope"),
        ("/api/videos/rec/clip.mp4?start=1&end=2", 404, "no media"),
        (
            "/api/videos/rec/clip.mp4?start=yesterday&end=2",
            400,
            "start",
        ),
        ("/api/videos/rec/clip.mp4", 400, "start and end"),
    ] {
        let (status, body) = curl(&server, None, &[], path);
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert!(
            status == want && body["error"].as_str().unwrap().contains(says),
            "{path}: {status} {body}"
        );
    }
}
