//! The test server against a real `rtspsrc` client: frames flow, stop looks
//! like a dead server, restart serves again, credentials, stall and resize.
#![expect(clippy::unwrap_used, reason = "tests")]

use std::net::TcpStream;
use std::time::{Duration, Instant};

use gstreamer_app::AppSink;
use gstreamer_rtsp_server::gst;
use gstreamer_rtsp_server::gst::prelude::*;
use osprey_rtsp_server::{Mount, TestServer};

/// An `rtspsrc` client decoding the video track into an appsink.
struct Client {
    pipeline: gst::Pipeline,
    sink: AppSink,
}

impl Client {
    fn open(url: &str) -> Client {
        let line = format!(
            "rtspsrc location={url} protocols=tcp latency=0 tcp-timeout=2000000 \
             ! application/x-rtp,media=video ! rtph264depay ! avdec_h264 \
             ! appsink name=sink sync=false max-buffers=4 drop=true"
        );
        let pipeline = gst::parse::launch(&line)
            .unwrap()
            .downcast::<gst::Pipeline>()
            .unwrap();
        let sink = pipeline
            .by_name("sink")
            .unwrap()
            .downcast::<AppSink>()
            .unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        Client { pipeline, sink }
    }

    /// The size of the next decoded frame, or None when none came in time.
    fn frame(&self, timeout: Duration) -> Option<(i32, i32)> {
        let sample = self.sink.try_pull_sample(gst::ClockTime::from_nseconds(
            u64::try_from(timeout.as_nanos()).unwrap(),
        ))?;
        let caps = sample.caps()?;
        let s = caps.structure(0)?;
        Some((s.get("width").ok()?, s.get("height").ok()?))
    }

    /// The first error message (or "EOS") on the bus within `timeout`.
    fn error(&self, timeout: Duration) -> Option<String> {
        let bus = self.pipeline.bus().unwrap();
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let msg = bus.timed_pop_filtered(
                gst::ClockTime::from_mseconds(u64::try_from(left.as_millis()).unwrap()),
                &[gst::MessageType::Error, gst::MessageType::Eos],
            )?;
            match msg.view() {
                gst::MessageView::Error(e) => {
                    return Some(format!("{} ({:?})", e.error(), e.debug()));
                }
                gst::MessageView::Eos(_) => return Some("EOS".to_owned()),
                _ => {}
            }
        }
        None
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// How long a client waits for a frame or an error: generous, for a loaded machine.
const WAIT: Duration = Duration::from_secs(30);

#[test]
fn serves_frames_and_dies_and_comes_back() {
    let server =
        TestServer::start(&[Mount::new("cam0"), Mount::new("cam1").size(160, 120)]).unwrap();
    assert_ne!(server.port(), 0);
    assert_eq!(
        server.url("cam0"),
        format!("rtsp://127.0.0.1:{}/cam0", server.port())
    );
    let client = Client::open(&server.url("cam0"));
    assert_eq!(client.frame(WAIT), Some((320, 240)));
    let other = Client::open(&server.url("/cam1"));
    assert_eq!(other.frame(WAIT), Some((160, 120)));

    server.stop().unwrap();
    assert!(
        TcpStream::connect(("127.0.0.1", server.port())).is_err(),
        "still listening"
    );
    // The open connection is gone too: the client runs dry and ends (rtspsrc
    // reads a closed connection as the end of the stream).
    let started = Instant::now();
    while client.frame(Duration::from_millis(200)).is_some() {
        assert!(started.elapsed() < WAIT, "frames keep coming after stop");
    }
    assert!(
        client.error(WAIT).is_some(),
        "the client saw no end after stop"
    );

    server.restart().unwrap();
    TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    let again = Client::open(&server.url("cam0"));
    assert_eq!(again.frame(WAIT), Some((320, 240)));
}

#[test]
fn credentials_are_required_where_set() {
    let server = TestServer::start(&[
        Mount::new("open"),
        Mount::new("locked").credentials("admin", "s3cret"),
        Mount::new("locked2").credentials("admin", "s3cret"),
        Mount::new("other").credentials("viewer", "pw"),
    ])
    .unwrap();
    // One user on two mounts gets into both; another user's mount stays shut
    // to them.
    let second = Client::open(&server.url_with("locked2", "admin", "s3cret"));
    assert_eq!(second.frame(WAIT), Some((320, 240)));
    let crossed = Client::open(&server.url_with("other", "admin", "s3cret"));
    let error = crossed.error(WAIT).unwrap();
    assert!(error.contains("Unauthorized"), "{error}");
    let refused = Client::open(&server.url("locked"));
    let error = refused.error(WAIT).unwrap();
    assert!(error.contains("Unauthorized"), "{error}");
    let wrong = Client::open(&server.url_with("locked", "admin", "wrong"));
    let error = wrong.error(WAIT).unwrap();
    assert!(error.contains("Unauthorized"), "{error}");
    let signed_in = Client::open(&server.url_with("locked", "admin", "s3cret"));
    assert_eq!(signed_in.frame(WAIT), Some((320, 240)));
    let open = Client::open(&server.url("open"));
    assert_eq!(open.frame(WAIT), Some((320, 240)));
}

#[test]
fn stall_resume_and_resize() {
    let server = TestServer::start(&[Mount::new("cam0").fps(10)]).unwrap();
    let client = Client::open(&server.url("cam0"));
    assert_eq!(client.frame(WAIT), Some((320, 240)));

    server.stall("cam0").unwrap();
    // Frames already on their way drain, then none come.
    let started = Instant::now();
    while client.frame(Duration::from_millis(500)).is_some() {
        assert!(started.elapsed() < WAIT, "frames keep coming while stalled");
    }
    assert!(client.error(Duration::from_millis(100)).is_none());
    server.resume("cam0").unwrap();
    assert_eq!(client.frame(WAIT), Some((320, 240)));

    server.set_size("cam0", 160, 96).unwrap();
    let started = Instant::now();
    let mut client = client;
    loop {
        match client.frame(WAIT / 4) {
            Some((160, 96)) => break,
            Some((320, 240)) => assert!(started.elapsed() < WAIT, "the size never changed"),
            Some(other) => panic!("unexpected frame size {other:?}"),
            None => {
                // A client whose decoder does not follow the new parameter
                // sets (it happened under load) connects again, as a camera
                // client does; the new size must then come.
                let why = client.error(Duration::from_millis(100));
                assert!(
                    started.elapsed() < WAIT,
                    "no frame after the resize ({why:?})"
                );
                client = Client::open(&server.url("cam0"));
            }
        }
    }
    assert!(matches!(
        server.stall("nope"),
        Err(osprey_rtsp_server::ServerError::UnknownPath(p)) if p == "/nope"
    ));
}

/// Writes a one-second 160x120 H.264 elementary stream (25 frames, one key
/// frame, no B-frames) to `path` with GStreamer's x264.
fn write_clip(path: &std::path::Path) {
    gst::init().unwrap();
    let line = format!(
        "videotestsrc num-buffers=25 pattern=ball ! video/x-raw,width=160,height=120,framerate=25/1 \
         ! x264enc key-int-max=25 bframes=0 ! video/x-h264,stream-format=byte-stream \
         ! filesink location=\"{}\"",
        path.display()
    );
    let pipeline = gst::parse::launch(&line).unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    let msg = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(60),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("the clip was not written in time");
    pipeline.set_state(gst::State::Null).unwrap();
    assert!(
        matches!(msg.view(), gst::MessageView::Eos(_)),
        "writing the clip failed: {msg:?}"
    );
}

#[test]
fn a_clip_is_served_in_a_loop_at_its_frame_rate() {
    let dir = std::env::temp_dir().join(format!("osprey-rtsp-clip-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let clip = dir.join("clip.h264");
    write_clip(&clip);
    let server = TestServer::start(&[Mount::new("clip").clip(&clip).fps(25)]).unwrap();
    let client = Client::open(&server.url("clip"));
    assert_eq!(client.frame(WAIT), Some((160, 120)));
    // 60 more frames cross the end of the 25-frame clip twice; sent at
    // 25 fps they take 2.4 s. Without pacing the server would send the
    // loops as fast as it reads them (hundreds of frames a second).
    let started = Instant::now();
    for i in 0..60 {
        assert_eq!(
            client.frame(WAIT),
            Some((160, 120)),
            "frame {i} after the first did not come"
        );
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1800),
        "60 frames in {took:?}: not paced at 25 fps"
    );
    assert!(client.error(Duration::from_millis(10)).is_none());

    let missing = TestServer::start(&[Mount::new("c").clip(dir.join("nope.h264"))]);
    assert!(
        matches!(&missing, Err(osprey_rtsp_server::ServerError::Clip { path, .. }) if path.ends_with("nope.h264")),
        "{missing:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
