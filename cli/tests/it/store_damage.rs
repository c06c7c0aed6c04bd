//! The store on its worst day, through the real binary: bytes flipped,
//! ranges zeroed, files cut short or deleted, metadata damaged, a full disk,
//! thousands of shards under the default limit on open files. After each,
//! every intact record stays readable by every reader (`read`, `aggregate
//! stream:`, `deliver`, GetRecords), `osprey stream verify` reports the damage with its
//! range, writers never shrink a file except at a real torn tail, and
//! sequence numbers keep growing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::{osprey, parse_ndjson};
use crate::stream::{os, os_env};

/// `n` records `{"k":..,"n":i,"ts":..,"pad":..}` from `start`, one line each.
fn lines(start: u64, n: u64, pad: usize) -> String {
    let pad = "x".repeat(pad);
    (start..start + n)
        .map(|i| {
            format!(
                "{{\"k\":\"key{}\",\"n\":{i},\"ts\":\"2026-01-01T00:00:00Z\",\"pad\":\"{pad}\"}}\n",
                i % 7
            )
        })
        .collect()
}

const SMALL: &[(&str, &str)] = &[("OSPREY_SEGMENT_BYTES", "65536")];

fn shard_dir(dir: &Path, stream: &str) -> PathBuf {
    dir.join("data/streams")
        .join(stream)
        .join("shards/shardId-000000000000")
}

/// The segment files of a one-shard stream, in order.
fn segments(dir: &Path, stream: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(shard_dir(dir, stream))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    out.sort();
    out
}

fn patch(path: &Path, offset: u64, bytes: &[u8]) {
    use std::os::unix::fs::FileExt as _;
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(bytes, offset).unwrap();
}

/// The `n` field of every record `read` returns, checked to be in `seq` order.
fn read_ns(dir: &Path, stream: &str, extra: &[&str]) -> (Vec<u64>, String) {
    let mut args = vec!["read", stream];
    args.extend_from_slice(extra);
    let run = os(dir, &args, "").success();
    let recs = parse_ndjson(&run.stdout);
    let seqs: Vec<u64> = recs.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "seqs in order");
    (
        recs.iter()
            .map(|r| r["data"]["n"].as_u64().unwrap())
            .collect(),
        run.stderr,
    )
}

/// `osprey stream verify`: its exit code and findings.
fn verify(dir: &Path, stream: &str) -> (i32, Vec<Value>) {
    let run = os(dir, &["stream", "verify", stream], "");
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    (run.code, parse_ndjson(&run.stdout))
}

/// The sequence numbers the damage findings hide.
fn hidden(findings: &[Value]) -> BTreeSet<u64> {
    findings
        .iter()
        .filter(|f| f["damage"] == true)
        .flat_map(|f| f["first_seq"].as_u64().unwrap()..f["end_seq"].as_u64().unwrap())
        .collect()
}

/// `count(*)` of the stream through `aggregate stream:`.
fn aggregate_count(dir: &Path, stream: &str) -> u64 {
    let source = format!("stream:{stream}");
    let run = os(
        dir,
        &[
            "aggregate",
            &source,
            "--window",
            "tumbling:1h",
            "--agg",
            "count(*)",
        ],
        "",
    )
    .success();
    let rows = parse_ndjson(&run.stdout);
    rows.iter()
        .map(|r| {
            r.as_object()
                .unwrap()
                .iter()
                .find(|(k, _)| k.starts_with("count"))
                .and_then(|(_, v)| v.as_u64())
                .unwrap()
        })
        .sum()
}

/// Records GetRecords returns from the stream's one shard, through boto3.
fn get_records_count(dir: &Path, stream: &str) -> u64 {
    let (_server, url) = crate::kinesis::serve(dir, &[]);
    let script = format!(
        r#"
import sys, boto3
k = boto3.client("kinesis", endpoint_url=sys.argv[1], region_name="us-east-1",
                 aws_access_key_id="x", aws_secret_access_key="y")
it = k.get_shard_iterator(StreamName="{stream}", ShardId="shardId-000000000000",
                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
n = 0
while it:
    r = k.get_records(ShardIterator=it, Limit=10000)
    n += len(r["Records"])
    if not r["Records"] and r["MillisBehindLatest"] == 0:
        break
    it = r.get("NextShardIterator")
print(n)
"#
    );
    let out = crate::common::output(Command::new("python3").args(["-c", &script, &url]), b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn damage_in_the_middle_of_a_segment_costs_only_its_records() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    os(d, &["stream", "create", "s"], "").success();
    os(
        d,
        &["put", "s", "--partition-key-field", "k"],
        &lines(0, 20_000, 180),
    )
    .success();
    let seg = segments(d, "s").pop().unwrap();
    let len = std::fs::metadata(&seg).unwrap().len();
    assert!(len > 4_000_000, "{len}");
    patch(&seg, len / 2, &[0xde, 0xad, 0xbe, 0xef]);

    let (ns, stderr) = read_ns(d, "s", &[]);
    assert_eq!(ns.len(), 19_999, "one record lost, not half the stream");
    assert!(stderr.contains("Damaged bytes"), "a warning: {stderr}");
    let (code, findings) = verify(d, "s");
    assert_eq!(code, 6);
    assert_eq!(findings.len(), 1, "{findings:?}");
    let f = &findings[0];
    let (off, flen) = (f["offset"].as_u64().unwrap(), f["len"].as_u64().unwrap());
    assert!(off <= len / 2 && len / 2 + 4 <= off + flen, "{f}");
    assert!(flen < 400, "only the damaged frame: {f}");
    let lost = hidden(&findings);
    assert_eq!(lost.len(), 1);
    let all: BTreeSet<u64> = ns.iter().copied().chain(lost.iter().copied()).collect();
    assert_eq!(all, (0..20_000).collect::<BTreeSet<u64>>());
    assert_eq!(f["shard"], "shardId-000000000000");
    assert!(f["segment"].as_str().unwrap().ends_with(".seg"));

    assert_eq!(aggregate_count(d, "s"), 19_999);
    assert_eq!(get_records_count(d, "s"), 19_999);
    let out = d.join("delivered");
    let run = os(d, &["deliver", "s", "--to", out.to_str().unwrap()], "").success();
    assert!(
        run.stderr.contains("delivered 19999 records"),
        "{}",
        run.stderr
    );
    // The next writer (put, then a server) keeps every byte and goes on.
    os(
        d,
        &["put", "s", "--partition-key-field", "k"],
        &lines(20_000, 2, 10),
    )
    .success();
    assert!(std::fs::metadata(&seg).unwrap().len() >= len);
    let (ns, _) = read_ns(d, "s", &["--from", "seq:20000"]);
    assert_eq!(ns, [20_000, 20_001]);
    assert_eq!(read_ns(d, "s", &[]).0.len(), 20_001);
}

#[test]
fn damage_in_sealed_and_active_segments_and_frame_headers() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    os(d, &["stream", "create", "s"], "").success();
    os_env(
        d,
        SMALL,
        &["put", "s", "--partition-key-field", "k"],
        &lines(0, 3000, 100),
    )
    .success();
    // The active segment holds records too.
    os_env(d, SMALL, &["put", "s"], &lines(3000, 10, 100)).success();
    let segs = segments(d, "s");
    assert!(segs.len() >= 4, "{}", segs.len());
    let sizes: Vec<u64> = segs
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .collect();
    // The first frame header of the first (sealed) segment, a zeroed range
    // in the middle of a middle one, one byte in the active one.
    patch(&segs[0], 2, b"??");
    patch(&segs[2], sizes[2] / 3, &[0; 300]);
    let last = segs.len() - 1;
    patch(&segs[last], sizes[last] / 2, &[0xff]);

    let (code, findings) = verify(d, "s");
    assert_eq!(code, 6, "{findings:?}");
    let damaged: Vec<&Value> = findings.iter().filter(|f| f["damage"] == true).collect();
    assert_eq!(damaged.len(), 3, "{findings:?}");
    let lost = hidden(&findings);
    assert!(lost.contains(&0), "the first record: {lost:?}");
    let (ns, _) = read_ns(d, "s", &[]);
    let all: BTreeSet<u64> = ns.iter().copied().chain(lost.iter().copied()).collect();
    assert_eq!(
        all,
        (0..3010).collect::<BTreeSet<u64>>(),
        "every intact record is read"
    );
    assert_eq!(ns.len() + lost.len(), 3010);
    assert_eq!(aggregate_count(d, "s"), ns.len() as u64);

    // A writer appends after the damage and never cuts a file.
    os_env(
        d,
        SMALL,
        &["put", "s", "--partition-key-field", "k"],
        &lines(3010, 5, 10),
    )
    .success();
    for (p, size) in segs.iter().zip(&sizes) {
        assert!(
            std::fs::metadata(p).unwrap().len() >= *size,
            "{} shrank",
            p.display()
        );
    }
    let (after, _) = read_ns(d, "s", &[]);
    assert_eq!(after.len(), ns.len() + 5);
    assert_eq!(&after[after.len() - 5..], [3010, 3011, 3012, 3013, 3014]);
    let (code, again) = verify(d, "s");
    assert_eq!((code, hidden(&again)), (6, lost));
}

#[test]
fn a_torn_tail_is_moved_aside_then_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    os(d, &["stream", "create", "s"], "").success();
    os(d, &["put", "s"], &lines(0, 100, 20)).success();
    let seg = segments(d, "s").pop().unwrap();
    let len = std::fs::metadata(&seg).unwrap().len();
    // Half a frame, as a crash in the middle of a write leaves it.
    let head = std::fs::read(&seg).unwrap()[..40].to_vec();
    patch(&seg, len, &head);
    let (code, findings) = verify(d, "s");
    assert_eq!(code, 0, "a torn tail is no damage: {findings:?}");
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0]["kind"], "torn_tail");
    assert_eq!(findings[0]["len"], 40);
    os(d, &["put", "s"], &lines(100, 1, 20)).success();
    assert!(std::fs::metadata(&seg).unwrap().len() > len);
    let quarantine: Vec<_> = std::fs::read_dir(shard_dir(d, "s").join("quarantine"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(quarantine.len(), 1);
    assert_eq!(std::fs::read(&quarantine[0]).unwrap(), head);
    assert_eq!(read_ns(d, "s", &[]).0, (0..101).collect::<Vec<u64>>());
    assert_eq!(verify(d, "s").0, 0);
}

#[test]
fn sequence_numbers_never_go_back_whatever_happens_to_the_segments() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    os(d, &["stream", "create", "s"], "").success();
    os_env(d, SMALL, &["put", "s"], &lines(0, 3000, 100)).success();
    os(d, &["put", "s"], &lines(3000, 10, 100)).success();
    // A consumer reads everything.
    assert_eq!(read_ns(d, "s", &["--consumer", "c"]).0.len(), 3010);
    let segs = segments(d, "s");
    // A middle segment deleted: reported, the rest read.
    std::fs::remove_file(&segs[1]).unwrap();
    let (code, findings) = verify(d, "s");
    assert_eq!(code, 6);
    assert_eq!(findings[0]["kind"], "missing_segment", "{findings:?}");
    let lost = hidden(&findings);
    let (ns, _) = read_ns(d, "s", &[]);
    assert_eq!(ns.len() + lost.len(), 3010);
    // The last segment cut in half: new records still come after every
    // number the consumer has seen, and it reads them.
    let last = segs.last().unwrap();
    let len = std::fs::metadata(last).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(last)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let put = os(d, &["put", "s"], &lines(3010, 2, 10)).success();
    assert!(put.stderr.contains("were stored but"), "{}", put.stderr);
    let run = os(d, &["read", "s", "--consumer", "c"], "").success();
    let recs = parse_ndjson(&run.stdout);
    assert_eq!(recs.len(), 2, "the consumer gets the new records");
    assert!(recs.iter().all(|r| r["seq"].as_u64().unwrap() >= 3010));
    // Every segment deleted: the shard does not restart at 0.
    for p in segments(d, "s") {
        std::fs::remove_file(p).unwrap();
    }
    os(d, &["put", "s"], &lines(5000, 1, 10)).success();
    let run = os(d, &["read", "s", "--consumer", "c"], "").success();
    let recs = parse_ndjson(&run.stdout);
    assert_eq!(recs.len(), 1);
    assert!(recs[0]["seq"].as_u64().unwrap() >= 3012);
}

#[test]
fn a_checkpoint_past_the_end_of_a_shard_is_an_error_not_silence() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    os(d, &["stream", "create", "s"], "").success();
    os(d, &["put", "s"], &lines(0, 10, 10)).success();
    let consumers = d.join("data/streams/s/consumers");
    std::fs::create_dir_all(&consumers).unwrap();
    std::fs::write(
        consumers.join("c.json"),
        r#"{"shardId-000000000000": 1000000}"#,
    )
    .unwrap();
    let line = os(d, &["read", "s", "--consumer", "c"], "").fails_with(2);
    assert!(line.contains("past the shard's end"), "{line}");
}

#[test]
fn one_damaged_stream_leaves_the_others_working() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for s in ["a", "b", "c"] {
        os(d, &["stream", "create", s], "").success();
        os(d, &["put", s], &lines(0, 5, 10)).success();
    }
    std::fs::write(d.join("data/streams/a/stream.json"), b"{\"name\":").unwrap();
    std::fs::remove_file(d.join("data/streams/c/stream.json")).unwrap();
    let list = os(d, &["stream", "list"], "").success().stdout;
    let rows: Vec<&str> = list.lines().collect();
    assert_eq!(rows.len(), 3, "{list}");
    assert!(rows[0].starts_with("a\tdamaged: "), "{list}");
    assert_eq!(rows[1], "b");
    assert!(rows[2].starts_with("c\tdamaged: "), "{list}");
    // Every other stream works: put, read, create, delete.
    os(d, &["put", "b"], &lines(5, 5, 10)).success();
    assert_eq!(read_ns(d, "b", &[]).0.len(), 10);
    os(d, &["stream", "create", "e"], "").success();
    os(d, &["stream", "delete", "e"], "").success();
    // Every command warns of the damaged streams; using one is an error.
    for args in [
        &["read", "a"][..],
        &["put", "a"],
        &["stream", "describe", "a"],
    ] {
        let run = os(d, args, &lines(0, 1, 1));
        assert_eq!(run.code, 3, "{}", run.stderr);
        let last = run.stderr.lines().last().unwrap();
        assert!(
            last.starts_with("osprey: stream \"a\" is damaged: "),
            "{last}"
        );
        assert!(!run.stderr.contains("panicked"));
    }
    // The damaged ones can be deleted.
    os(d, &["stream", "delete", "a"], "").success();
    os(d, &["stream", "delete", "c"], "").success();
    assert_eq!(os(d, &["stream", "list"], "").success().stdout, "b\n");
}

#[test]
fn a_thousand_shards_under_the_default_limit_on_open_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bin = env!("CARGO_BIN_EXE_osprey");
    let data = d.join("data");
    let sh = |cmd: &str, stdin: &str| {
        let out = crate::common::output(
            Command::new("sh")
                .args(["-c", &format!("ulimit -n 256 && exec {cmd}")])
                .env("OSPREY_BIN", bin)
                .env("DATA", &data),
            stdin.as_bytes(),
        );
        assert!(
            out.status.success(),
            "{cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    sh(
        r#""$OSPREY_BIN" stream create big --shards 1000 --data-dir "$DATA""#,
        "",
    );
    let input: String = (0..4000)
        .map(|i| format!("{{\"k\":\"device-{i}\",\"n\":{i}}}\n"))
        .collect();
    sh(
        r#""$OSPREY_BIN" put big --partition-key-field k --data-dir "$DATA""#,
        &input,
    );
    let out = sh(r#""$OSPREY_BIN" read big --data-dir "$DATA""#, "");
    let recs = parse_ndjson(&out);
    assert_eq!(recs.len(), 4000);
    let shards: BTreeSet<&str> = recs.iter().map(|r| r["shard"].as_str().unwrap()).collect();
    assert!(shards.len() > 900, "{}", shards.len());
}

#[test]
fn a_full_disk_is_a_retryable_error_and_the_store_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mount = d.join("data");
    std::fs::create_dir_all(&mount).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(&mount)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "this test mounts a 4 MiB tmpfs (root, as in CI)");
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mount.clone());
    os(d, &["stream", "create", "s"], "").success();
    // Fill all but about 100 KiB.
    let filler = mount.join("filler");
    let avail = {
        let out = Command::new("df")
            .args(["-B1", "--output=avail"])
            .arg(&mount)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .unwrap()
            .trim()
            .parse::<u64>()
            .unwrap()
    };
    std::fs::write(&filler, vec![0u8; (avail - 100_000) as usize]).unwrap();
    os(d, &["put", "s"], &lines(0, 200, 100)).success();
    let run = os(d, &["put", "s"], &lines(200, 3000, 100));
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(
        run.stderr
            .to_lowercase()
            .contains("no space left on device"),
        "{}",
        run.stderr
    );
    let stored = read_ns(d, "s", &[]).0;
    assert!(
        !stored.is_empty() && stored.len() < 3000,
        "{}",
        stored.len()
    );
    // Over TCP the refusal says why, and that a retry may succeed.
    let (mut server, port) = crate::stream::listen(d, "s", &[]);
    let mut sock = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(crate::common::PATIENCE))
        .unwrap();
    std::io::Write::write_all(&mut sock, lines(9000, 2000, 100).as_bytes()).unwrap();
    sock.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answers = String::new();
    std::io::Read::read_to_string(&mut sock, &mut answers).unwrap();
    let refusal = answers
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|a| a.get("error").is_some())
        .expect("some records are refused");
    assert_eq!(refusal["retryable"], true, "{refusal}");
    assert!(
        refusal["error"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("no space left on device"),
        "{refusal}"
    );
    // Space freed: the same server stores again, by itself.
    std::fs::remove_file(&filler).unwrap();
    let mut sock = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(crate::common::PATIENCE))
        .unwrap();
    std::io::Write::write_all(&mut sock, lines(20_000, 10, 10).as_bytes()).unwrap();
    sock.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answers = String::new();
    std::io::Read::read_to_string(&mut sock, &mut answers).unwrap();
    assert_eq!(answers.lines().count(), 10);
    assert!(!answers.contains("error"), "{answers}");
    server.kill_now();
    let (ns, _) = read_ns(d, "s", &[]);
    assert!(ns.ends_with(&(20_000..20_010).collect::<Vec<u64>>()));
    assert_eq!(verify(d, "s").0, 0);
}

#[test]
fn readers_beside_a_busy_writer_never_take_a_write_in_progress_for_damage() {
    // A reader in another process can catch a frame the writer is still
    // copying while a later page is whole already; it must wait for it, not
    // skip it as damage.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    os(d, &["stream", "create", "s"], "").success();
    let (_server, port) = crate::stream::listen(d, "s", &[]);
    const N: u64 = 200_000;
    let follower = {
        let data = d.join("data");
        std::thread::spawn(move || {
            let out = crate::common::output(
                osprey()
                    .args([
                        "read",
                        "s",
                        "--follow",
                        "--limit",
                        &N.to_string(),
                        "--data-dir",
                    ])
                    .arg(&data),
                b"",
            );
            (
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
    };
    let producer = std::thread::spawn(move || {
        let mut sock = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        sock.set_read_timeout(Some(crate::common::PATIENCE))
            .unwrap();
        let mut answers = sock.try_clone().unwrap();
        let reader = std::thread::spawn(move || {
            let mut all = String::new();
            std::io::Read::read_to_string(&mut answers, &mut all).unwrap();
            all.lines().count()
        });
        for chunk in 0..(N / 1000) {
            std::io::Write::write_all(&mut sock, lines(chunk * 1000, 1000, 60).as_bytes()).unwrap();
        }
        sock.shutdown(std::net::Shutdown::Write).unwrap();
        reader.join().unwrap()
    });
    // Verify runs while the writer writes: no false damage either.
    for _ in 0..3 {
        let (code, findings) = verify(d, "s");
        assert!(hidden(&findings).is_empty() && code == 0, "{findings:?}");
    }
    assert_eq!(producer.join().unwrap() as u64, N);
    let (stdout, stderr) = follower.join().unwrap();
    assert!(!stderr.contains("Damaged"), "{stderr}");
    let ns: Vec<u64> = parse_ndjson(&stdout)
        .iter()
        .map(|r| r["data"]["n"].as_u64().unwrap())
        .collect();
    assert_eq!(ns, (0..N).collect::<Vec<u64>>());
}
