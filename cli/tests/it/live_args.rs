//! `osprey analyze`'s options for live and many sources, checked before any
//! work: each bad value fails with one line naming its option (exit 2), the
//! sources file names an unknown key and its line, no password is ever
//! printed; and the output options on a file: `--records`, `--append`.

use std::path::Path;

use serde_json::Value;

use crate::common::{frame_records, run_in, small_clip};

/// A password that must never appear in any output.
const SECRET: &str = "hunter2-never-printed";

#[test]
fn bad_live_values_name_their_option() {
    let dir = tempfile::tempdir().unwrap();
    let cam = format!("cam=rtsp://admin:{SECRET}@127.0.0.1:9/x");
    let clip = small_clip().to_str().unwrap();
    for (args, option) in [
        (vec![&cam[..], "--stall-timeout", "5x"], "--stall-timeout"),
        (vec![&cam[..], "--stall-timeout", "10ms"], "--stall-timeout"),
        (vec![&cam[..], "--retry-for", "always"], "--retry-for"),
        (vec![&cam[..], "--max-latency", "0s"], "--max-latency"),
        (vec![&cam[..], "--records", "every:0"], "--records"),
        (vec![&cam[..], "--fps", "0"], "--fps"),
        (vec![&cam[..], "--fps", "NaN"], "--fps"),
        (vec![&cam[..], "--detect-size", "640"], "--detect-size"),
        (vec![&cam[..], "--detect-size", "641x360"], "--detect-size"),
        (
            vec![&cam[..], "--start-time", "2026-12-06T18:00:00Z"],
            "--start-time",
        ),
        (vec![clip, "--start-time", "yesterday"], "--start-time"),
        (vec![clip, "--append"], "--append"),
        (vec![clip, &cam[..], "--source", "x"], "--source"),
    ] {
        let mut argv = vec!["analyze", "--backend", "cpu"];
        argv.extend(args.iter().copied());
        let run = run_in(dir.path(), &argv);
        let line = run.fails_with(2);
        assert!(
            line.starts_with(&format!("osprey: {option} ")),
            "{argv:?}: {line}"
        );
        assert!(
            !run.stderr.contains(SECRET) && run.stdout.is_empty(),
            "{line}"
        );
    }
    // A detect size larger than the frame is refused once the frame size
    // is known, naming both; one that fits is the size the records report.
    let line = run_in(
        dir.path(),
        &[
            "analyze",
            "--backend",
            "cpu",
            "--detect-size",
            "640x360",
            clip,
        ],
    )
    .fails_with(2);
    assert!(
        line.contains("detect size 640x360 is larger than the 64x48 frame"),
        "{line}"
    );
    let run = run_in(
        dir.path(),
        &[
            "analyze",
            "--backend",
            "cpu",
            "--kernels",
            "stats",
            "--detect-size",
            "32x24",
            clip,
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let sizes: Vec<(u64, u64)> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["kind"] == "frame")
        .map(|r| (r["width"].as_u64().unwrap(), r["height"].as_u64().unwrap()))
        .collect();
    assert_eq!(sizes.len(), 12);
    assert!(sizes.iter().all(|&s| s == (32, 24)), "{sizes:?}");
    // Two sources of one name.
    let line = run_in(
        dir.path(),
        &["analyze", &format!("a={clip}"), &format!("a={clip}")],
    )
    .fails_with(2);
    assert!(line.contains("two sources are named \"a\""), "{line}");
}

/// Writes `text` as a sources file in `dir`.
fn sources_file(dir: &Path, text: &str) -> String {
    let path = dir.join("sources.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn sources_file_errors_name_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let clip = small_clip().to_str().unwrap();
    let file = sources_file(
        dir.path(),
        &format!(
            "[[sources]]\nname = \"a\"\nuri = {clip:?}\n\n[sources.health]\nblur_margin = 0.2\nblured = true\n"
        ),
    );
    let line = run_in(dir.path(), &["analyze", "--sources", &file]).fails_with(2);
    assert!(
        line.contains("sources.toml\": line 7: unknown field `blured`"),
        "{line}"
    );

    let file = sources_file(
        dir.path(),
        "[[sources]]\nname = \"cam\"\nuri = \"rtsp://127.0.0.1:9/x\"\nuser = \"admin\"\npassword_env = \"OSPREY_TEST_UNSET_PW\"\n",
    );
    let line = run_in(dir.path(), &["analyze", "--sources", &file]).fails_with(2);
    assert!(line.contains("source \"cam\": password_env"), "{line}");
    assert!(line.contains("OSPREY_TEST_UNSET_PW"), "{line}");

    // A value checked as its option is named as that option, in its source.
    let file = sources_file(
        dir.path(),
        &format!("[[sources]]\nname = \"a\"\nuri = {clip:?}\nrecords = \"some\"\n"),
    );
    let line = run_in(dir.path(), &["analyze", "--sources", &file]).fails_with(2);
    assert!(line.contains("source \"a\": --records \"some\""), "{line}");

    // A health value no detector can use is refused before any work.
    let file = sources_file(
        dir.path(),
        &format!(
            "[[sources]]\nname = \"a\"\nuri = {clip:?}\n\n[sources.health]\nblur_margin = -1.0\n"
        ),
    );
    let line = run_in(dir.path(), &["analyze", "--sources", &file]).fails_with(2);
    assert!(
        line.contains("source \"a\": health option blur_margin is -1; it must be a number above 0"),
        "{line}"
    );
}

#[test]
fn records_volume_and_append_on_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let clip = small_clip().to_str().unwrap();
    let base = ["analyze", "--backend", "cpu", "--kernels", "stats,scene"];
    let run_with = |extra: &[&str]| {
        let mut argv = base.to_vec();
        argv.extend_from_slice(extra);
        argv.push(clip);
        run_in(dir.path(), &argv).success()
    };
    let all = run_with(&[]).records();
    let frames = frame_records(&all).len();
    assert!(frames >= 10, "{frames} frames");
    let every = run_with(&["--records", "every:5"]).records();
    let kept: Vec<u64> = frame_records(&every)
        .iter()
        .map(|r| r["frame"].as_u64().unwrap())
        .collect();
    assert_eq!(kept, (0..frames as u64).step_by(5).collect::<Vec<_>>());
    let others = |rs: &[Value]| rs.iter().filter(|r| r["kind"] != "frame").count();
    assert_eq!(others(&every), others(&all));
    let events = run_with(&["--records", "events"]).records();
    assert!(frame_records(&events).is_empty());
    assert_eq!(events.len(), others(&all));

    // --append adds a run's records after an earlier run's.
    let out = dir.path().join("out.ndjson");
    let out = out.to_str().unwrap();
    run_with(&["-o", out]);
    let once = std::fs::read_to_string(out).unwrap();
    run_with(&["-o", out, "--append"]);
    let twice = std::fs::read_to_string(out).unwrap();
    assert_eq!(twice, format!("{once}{once}"));
    run_with(&["-o", out]);
    assert_eq!(std::fs::read_to_string(out).unwrap(), once);
}

#[test]
fn start_time_stamps_a_file_and_without_it_there_is_no_ts() {
    let dir = tempfile::tempdir().unwrap();
    let clip = small_clip().to_str().unwrap();
    let argv = ["analyze", "--backend", "cpu", "--kernels", "stats", clip];
    let plain = run_in(dir.path(), &argv).success().records();
    assert!(plain.iter().all(|r| r.get("ts").is_none()), "{plain:?}");
    let mut with = argv.to_vec();
    with.extend(["--start-time", "2026-12-06T19:00:00.250+01:00"]);
    let records = run_in(dir.path(), &with).success().records();
    let start = 1_796_580_000.25;
    let frames = frame_records(&records);
    assert_eq!(frames.len(), frame_records(&plain).len());
    for r in frames {
        let ts = chrono::DateTime::parse_from_rfc3339(r["ts"].as_str().unwrap()).unwrap();
        let ts = ts.timestamp_millis() as f64 / 1000.0;
        let pts = r["pts"].as_f64().unwrap();
        assert!((ts - (start + pts)).abs() < 0.0015, "{r}");
        assert!(r["ts"].as_str().unwrap().ends_with('Z'), "{r}");
    }
}

#[test]
fn several_sources_into_one_stream_each_under_its_own_key() {
    let dir = tempfile::tempdir().unwrap();
    let clip = small_clip().to_str().unwrap();
    run_in(dir.path(), &["stream", "create", "cams", "--shards", "2"]).success();
    let (a, b) = (format!("a={clip}"), format!("b={clip}"));
    let run = run_in(
        dir.path(),
        &[
            "analyze",
            "--backend",
            "cpu",
            "--kernels",
            "stats",
            &a,
            &b,
            "-o",
            "stream:cams",
        ],
    )
    .success();
    // One summary line a source.
    for name in ["a", "b"] {
        assert!(
            run.stderr
                .lines()
                .any(|l| l.starts_with(&format!("osprey: {name}: 12 frames"))),
            "{}",
            run.stderr
        );
    }
    let read = run_in(dir.path(), &["read", "cams"]).success().records();
    let frames = |name: &str| {
        read.iter()
            .filter(|r| r["data"]["source"] == name && r["data"]["kind"] == "frame")
            .count()
    };
    assert_eq!((frames("a"), frames("b")), (12, 12));
    for r in &read {
        assert_eq!(r["partition_key"], r["data"]["source"], "{r}");
    }
}
