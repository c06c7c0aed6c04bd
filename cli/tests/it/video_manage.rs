//! Video streams through the real binary: `osprey video create`, `list`,
//! `describe`, `fragments`, `verify` and `delete`, alongside a writer (this
//! test process, through the store's library) and after it, with the
//! errors and exit codes.

use std::path::Path;

use osprey_ingest::video::{Codec, FragmentIn, Frame, Track, VideoStore};
use serde_json::Value;

use crate::stream::os;

/// A fragment of 25 synthetic frames of 40 ms from `start_ns` (the store
/// does not decode).
fn fragment(start_ns: u64) -> FragmentIn {
    FragmentIn {
        track: Track {
            codec: Codec::H264,
            codec_data: vec![1, 0x42, 0, 0x1e],
            width: 320,
            height: 240,
        },
        frames: (0..25u64)
            .map(|i| Frame {
                pts_ns: start_ns + i * 40_000_000,
                dts_ns: start_ns + i * 40_000_000,
                duration_ns: 40_000_000,
                key: i == 0,
                data: vec![i as u8; 100].into(),
            })
            .collect(),
    }
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn numbers(stdout: &str) -> Vec<u64> {
    crate::common::parse_ndjson(stdout)
        .iter()
        .map(|v| v["number"].as_u64().unwrap())
        .collect()
}

#[test]
fn video_streams_lifecycle_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("data");
    let created = json(
        &os(d, &["video", "create", "cam", "--retention-mib", "1"], "")
            .success()
            .stdout,
    );
    assert_eq!(created["name"], "cam");
    assert_eq!(created["retention"]["max_bytes"], 1 << 20);
    assert_eq!(created["retention"]["max_age"], Value::Null);
    assert_eq!(created["fragments"], 0);
    let line = os(d, &["video", "create", "cam"], "").fails_with(1);
    assert_eq!(line, "osprey: video stream \"cam\" exists already");
    let line = os(d, &["video", "create", "a/b"], "").fails_with(2);
    assert!(line.contains("invalid video stream name"), "{line}");
    os(d, &["video", "create", "x", "--retention-mib", "0"], "").fails_with(2);
    let line = os(d, &["video", "describe", "nope"], "").fails_with(3);
    assert_eq!(line, "osprey: video stream \"nope\" does not exist");
    os(d, &["video", "fragments", "nope"], "").fails_with(3);
    let other = json(
        &os(
            d,
            &["video", "create", "other", "--retention-hours", "2"],
            "",
        )
        .success()
        .stdout,
    );
    assert_eq!(other["retention"]["max_age"]["secs"], 7200);
    assert_eq!(
        os(d, &["video", "list"], "").success().stdout,
        "cam\nother\n"
    );

    // A writer in this process: the read-only commands see its fragments,
    // the writing ones are refused while it holds the store.
    let t0 = 1_796_551_200_000_000_000u64; // 2026-12-06T10:00:00Z
    let writer = VideoStore::open(&data).unwrap();
    for i in 0..3 {
        writer
            .append("cam", fragment(t0 + i * 2_000_000_000))
            .unwrap();
    }
    let all = os(d, &["video", "fragments", "cam"], "").success().stdout;
    assert_eq!(numbers(&all), [1, 2, 3]);
    let first = &crate::common::parse_ndjson(&all)[0];
    assert_eq!(first["producer_time"], "2026-12-06T10:00:00.000000000Z");
    assert_eq!(first["producer_ns"], t0);
    assert_eq!(first["duration_ns"], 1_000_000_000u64);
    assert_eq!(
        (first["size"].as_u64(), first["frames"].as_u64()),
        (Some(2500), Some(25))
    );
    assert_eq!(first["codec"], "h264");
    // Fragments span [10:00:00, :01), [:02, :03), [:04, :05): the range
    // [10:00:02.5, 10:00:05) overlaps the second and the third.
    let some = os(
        d,
        &[
            "video",
            "fragments",
            "cam",
            "--start",
            "2026-12-06T10:00:02.5Z",
            "--end",
            "1796551205",
        ],
        "",
    )
    .success()
    .stdout;
    assert_eq!(numbers(&some), [2, 3]);
    os(d, &["video", "fragments", "cam", "--start", "soon"], "").fails_with(2);
    let described = json(&os(d, &["video", "describe", "cam"], "").success().stdout);
    assert_eq!(described["fragments"], 3);
    assert_eq!(described["last"]["number"], 3);
    let line = os(d, &["video", "delete", "cam"], "").fails_with(1);
    assert!(
        line.contains("open for writing by another process"),
        "{line}"
    );
    drop(writer);

    // A damaged fragment: verify names it (exit 6), the others stay.
    os(d, &["video", "verify", "cam"], "").success();
    let f2 = data.join(format!("video/streams/cam/fragments/{:020}.frag", 2));
    let mut bytes = std::fs::read(&f2).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&f2, bytes).unwrap();
    let run = os(d, &["video", "verify", "cam"], "");
    assert_eq!(run.code, 6, "{}", run.stderr);
    let found = crate::common::parse_ndjson(&run.stdout);
    assert_eq!(found.len(), 1, "{}", run.stdout);
    assert_eq!(found[0]["number"], 2);
    assert_eq!(found[0]["stream"], "cam");
    assert!(
        found[0]["detail"].as_str().unwrap().contains("CRC"),
        "{}",
        found[0]
    );
    assert!(
        run.stderr.contains("1 damaged fragment(s)"),
        "{}",
        run.stderr
    );

    os(d, &["video", "delete", "cam"], "").success();
    assert_eq!(os(d, &["video", "list"], "").success().stdout, "other\n");
    os(d, &["video", "describe", "cam"], "").fails_with(3);
    assert!(!Path::new(&data.join("video/streams/cam")).exists());
}
