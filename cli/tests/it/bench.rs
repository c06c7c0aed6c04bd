//! `osprey bench`: each workload with `--quick` on tiny inputs; the report's
//! schema (the library's own structs and the keys as JSON), figures that
//! came from runs that happened, a missing peer skipped with a note, the
//! SVG plots parsed as XML, and `osprey bench compare`.

use std::path::Path;
use std::time::Instant;

use osprey_benches::report::Report;
use serde_json::Value;

use crate::common::{osprey, run_cmd};

/// What one `osprey bench` run left: its report and its wall time.
struct Bench {
    report: Report,
    json: Value,
    elapsed: f64,
    stdout: String,
}

/// Runs `osprey bench ARGS --quick --out DIR`, optionally with `PATH`
/// replaced; checks the files every run writes.
fn bench(dir: &Path, args: &[&str], path: Option<&Path>) -> Bench {
    let out = dir.join("out");
    let mut cmd = osprey();
    cmd.arg("bench")
        .args(args)
        .arg("--quick")
        .arg("--out")
        .arg(&out);
    if let Some(path) = path {
        cmd.env("PATH", path);
    }
    let t0 = Instant::now();
    let run = run_cmd(&mut cmd).success();
    let elapsed = t0.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(out.join("report.json")).expect("report.json");
    let json: Value = serde_json::from_str(&text).expect("report.json is JSON");
    let report =
        osprey_benches::read_report(&out.join("report.json")).expect("the library reads it");
    let md = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    for m in &report.results {
        assert!(md.contains(&m.case), "report.md lacks {}", m.case);
    }
    svgs_parse(&out);
    Bench {
        report,
        json,
        elapsed,
        stdout: run.stdout,
    }
}

/// Every SVG in `dir` is well-formed XML with an <svg> root that draws
/// rectangles or paths and text.
fn svgs_parse(dir: &Path) {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("the out folder") {
        let path = entry.expect("an entry").path();
        if path.extension().is_none_or(|e| e != "svg") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("an SVG");
        let doc = roxmltree::Document::parse(&text)
            .unwrap_or_else(|e| panic!("{} is not well-formed: {e}", path.display()));
        assert_eq!(
            doc.root_element().tag_name().name(),
            "svg",
            "{}",
            path.display()
        );
        let count = |tag: &str| {
            doc.descendants()
                .filter(|n| n.tag_name().name() == tag)
                .count()
        };
        assert!(
            count("rect") + count("polyline") + count("path") > 1,
            "{}",
            path.display()
        );
        assert!(count("text") > 1, "{}", path.display());
        n += 1;
    }
    assert!(n > 0, "no SVG in {}", dir.display());
}

const SPREAD: [&str; 3] = ["median", "min", "max"];

/// The report's keys as JSON, and every figure positive and consistent
/// with runs that happened: `runs` runs each, walls that differ between
/// runs, spreads that are those of the runs, and all of it within the
/// command's own wall time.
fn check_figures(b: &Bench, runs: usize) {
    let j = &b.json;
    for key in [
        "schema_version",
        "osprey",
        "command",
        "started_at",
        "finished_at",
        "quick",
        "runs",
        "workloads",
        "machine",
        "results",
        "notes",
    ] {
        assert!(j.get(key).is_some(), "report.json lacks {key}");
    }
    for key in [
        "cpu_model",
        "logical_cores",
        "memory_bytes",
        "os",
        "kernel",
        "adapters",
        "gstreamer",
        "ffmpeg",
        "duckdb",
    ] {
        assert!(j["machine"].get(key).is_some(), "machine lacks {key}");
    }
    assert_eq!(j["runs"], runs);
    assert!(j["machine"]["logical_cores"].as_u64() > Some(0));
    assert!(!b.report.results.is_empty(), "no results");
    let mut total_wall = 0.0;
    for (m, jm) in b
        .report
        .results
        .iter()
        .zip(j["results"].as_array().expect("results"))
    {
        for key in [
            "workload",
            "case",
            "subject",
            "input",
            "unit",
            "items",
            "runs",
            "wall_s",
            "cpu_s",
            "peak_rss_bytes",
            "per_second",
            "ratios",
        ] {
            assert!(jm.get(key).is_some(), "a result lacks {key}: {jm}");
        }
        // The server's CPU time of a Kinesis or TCP put is read from /proc
        // in 10 ms steps: a quick run can take less than one.
        let cpu_steps = m.case.starts_with("kinesis/") || m.case == "put/tcp";
        for key in ["wall_s", "cpu_s", "peak_rss_bytes", "per_second"] {
            if key == "cpu_s" && cpu_steps {
                continue;
            }
            for s in SPREAD {
                assert!(
                    jm[key][s].as_f64().is_some_and(|v| v > 0.0),
                    "{key}.{s} of {} {}: {jm}",
                    m.case,
                    m.subject
                );
            }
        }
        let what = format!("{} {} {}", m.workload, m.case, m.subject);
        assert_eq!(m.runs.len(), runs, "{what}");
        assert!(m.items > 0, "{what}");
        let walls: Vec<f64> = m.runs.iter().map(|r| r.wall_s).collect();
        if runs > 1 {
            assert!(
                walls.windows(2).any(|w| w[0] != w[1]),
                "identical walls: {what} {walls:?}"
            );
        }
        let min = walls.iter().copied().fold(f64::INFINITY, f64::min);
        let max = walls.iter().copied().fold(0.0, f64::max);
        assert_eq!((m.wall_s.min, m.wall_s.max), (min, max), "{what}");
        assert!(
            m.wall_s.min <= m.wall_s.median && m.wall_s.median <= m.wall_s.max,
            "{what}"
        );
        let fastest = m
            .runs
            .iter()
            .map(|r| r.items as f64 / r.wall_s)
            .fold(0.0, f64::max);
        assert!(
            (m.per_second.max - fastest).abs() <= fastest * 1e-9,
            "{what}"
        );
        for r in &m.runs {
            // A child's peak is its `VmHWM` read every 5 ms while it runs
            // (benches' `rusage::Watch`): on a loaded machine a child of a
            // few tens of ms can end before a read after the one just
            // after `exec`, which sees less than a MiB. So only "measured".
            assert!(r.wall_s > 0.0 && r.peak_rss_bytes > 0, "{what}: {r:?}");
            assert!(
                r.cpu_s > 0.0 || (cpu_steps && r.cpu_s == 0.0),
                "{what}: {r:?}"
            );
        }
        for r in &m.ratios {
            assert!(r.speedup > 0.0 && r.speedup.is_finite(), "{what}: {r:?}");
            let other = b
                .report
                .results
                .iter()
                .find(|o| o.case == m.case && o.subject == r.to)
                .expect("a ratio names a subject of its case");
            let want = other.wall_s.median / m.wall_s.median;
            assert!((r.speedup - want).abs() <= want * 1e-9, "{what}");
        }
        total_wall += walls.iter().sum::<f64>();
    }
    assert!(
        total_wall < b.elapsed,
        "runs of {total_wall} s in a command of {} s",
        b.elapsed
    );
}

/// The subjects of `case`.
fn subjects<'a>(r: &'a Report, case: &str) -> Vec<&'a str> {
    r.results
        .iter()
        .filter(|m| m.case == case)
        .map(|m| m.subject.as_str())
        .collect()
}

#[test]
fn frames_kernel_only_and_end_to_end_against_ffmpeg_and_gstreamer() {
    let dir = tempfile::tempdir().expect("temp dir");
    let b = bench(dir.path(), &["frames", "--runs", "2"], None);
    check_figures(&b, 2);
    let r = &b.report;
    assert_eq!(r.workloads, ["frames"]);
    assert!(subjects(r, "kernels/all/160x96-synthetic").contains(&"osprey-cpu"));
    assert!(subjects(r, "kernels/stats/160x96-camera").contains(&"osprey-cpu"));
    let e2e = subjects(r, "analyze/all/160x96-pattern");
    for s in ["osprey-cpu", "gstreamer-decode", "ffmpeg"] {
        assert!(e2e.contains(&s), "{s} in {e2e:?}");
    }
    let osprey = r
        .results
        .iter()
        .find(|m| m.case == "analyze/all/160x96-pattern" && m.subject == "osprey-cpu")
        .expect("osprey end to end");
    assert_eq!(osprey.items, 24);
    assert!(osprey.ratios.iter().any(|x| x.to == "ffmpeg"));
    // A GPU run in process has its stages apart.
    for m in r.results.iter().filter(|m| m.subject == "osprey-gpu") {
        let s = m.stages.expect("GPU stages");
        assert!(
            s.upload_ms > 0.0 && s.dispatch_ms > 0.0 && s.readback_ms > 0.0,
            "{s:?}"
        );
    }
    assert!(b.stdout.contains("## frames"), "{}", b.stdout);
}

#[test]
fn aggregate_against_duckdb_and_compare() {
    let dir = tempfile::tempdir().expect("temp dir");
    let b = bench(
        dir.path(),
        &["aggregate", "--runs", "2", "--backend", "cpu"],
        None,
    );
    check_figures(&b, 2);
    let r = &b.report;
    for case in [
        "window/1-keys/parquet",
        "window/100-keys/parquet",
        "percentiles/100-keys/parquet",
        "window/100-keys/ndjson",
    ] {
        assert_eq!(subjects(r, case), ["osprey-cpu", "duckdb"], "{case}");
    }
    assert!(dir.path().join("out/aggregate-keys.svg").is_file());
    let report = dir.path().join("out/report.json");
    let report = report.to_str().expect("a UTF-8 path");
    let same = run_cmd(osprey().args(["bench", "compare", report, report])).success();
    assert!(
        same.stdout.contains("window/100-keys/ndjson"),
        "{}",
        same.stdout
    );
    assert!(
        same.stdout
            .lines()
            .filter(|l| l.contains("osprey-cpu"))
            .all(|l| l.ends_with("1.00")),
        "{}",
        same.stdout
    );
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, r#"{"schema_version": 99}"#).expect("write");
    let run = run_cmd(osprey().args(["bench", "compare", report]).arg(&broken));
    let line = run.fails_with(3);
    assert!(line.contains("schema version 99"), "{line}");
}

#[test]
fn streams_put_read_and_latency() {
    let dir = tempfile::tempdir().expect("temp dir");
    let b = bench(dir.path(), &["streams", "--runs", "2"], None);
    check_figures(&b, 2);
    let r = &b.report;
    for case in [
        "put/file",
        "put/tcp",
        "read/all",
        "latency/put-to-read",
        "kinesis/put-records",
        "kinesis/get-records",
    ] {
        assert_eq!(subjects(r, case), ["osprey"], "{case}");
    }
    let lat = r
        .results
        .iter()
        .find_map(|m| m.latency.as_ref())
        .expect("latencies");
    assert_eq!(lat.samples, 200);
    assert!(
        lat.p50_ms > 0.0 && lat.p50_ms <= lat.p99_ms && lat.p99_ms <= lat.max_ms,
        "{lat:?}"
    );
    assert_eq!(lat.histogram.iter().map(|b| b.count).sum::<u64>(), 200);
    assert!(dir.path().join("out/latency-1.svg").is_file());
}

#[test]
fn live_cameras_in_real_time() {
    let dir = tempfile::tempdir().expect("temp dir");
    let b = bench(dir.path(), &["live", "--backend", "cpu"], None);
    check_figures(&b, 1);
    let m = &b.report.results[0];
    let rt = m.realtime.expect("real-time figures");
    assert_eq!((rt.sources, rt.target_fps), (1, 25.0));
    assert!(rt.slowest_fps > 5.0 && rt.slowest_fps < 40.0, "{rt:?}");
    assert!(
        b.report
            .notes
            .iter()
            .any(|n| n.text.contains("real-time camera count")),
        "{:?}",
        b.report.notes
    );
}

#[test]
fn video_without_ffmpeg_skips_it_with_a_note() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A PATH with python3 and GStreamer's tools but no ffmpeg.
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).expect("bin");
    for tool in ["python3", "gst-launch-1.0"] {
        let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("{tool} on PATH"));
        std::os::unix::fs::symlink(found, bin.join(tool)).expect("link");
    }
    let b = bench(dir.path(), &["video", "--runs", "2"], Some(&bin));
    check_figures(&b, 2);
    let r = &b.report;
    assert!(r.machine.ffmpeg.is_none());
    assert!(
        r.results.iter().all(|m| m.subject == "osprey"),
        "{:?}",
        subjects(r, "")
    );
    assert!(
        r.notes
            .iter()
            .any(|n| n.subject == "ffmpeg" && n.text.contains("not found")),
        "{:?}",
        r.notes
    );
    assert_eq!(r.results.len(), 3);
}
