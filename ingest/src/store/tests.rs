//! Store-level tests: streams, routing, every iterator type, checkpoints,
//! split and merge, overload, oversized records, retention, reopening.

use std::sync::atomic::{AtomicI64, Ordering};

use super::*;

fn store(dir: &Path) -> Store {
    Store::open(dir, StoreConfig::default()).unwrap()
}

fn records(n: usize, prefix: &str) -> Vec<PutRecord> {
    (0..n)
        .map(|i| PutRecord::new(format!("{prefix}{i}"), format!("{{\"i\":{i}}}")))
        .collect()
}

fn put_ok(store: &Store, name: &str, recs: &[PutRecord]) -> Vec<PutAck> {
    store
        .put_records(name, recs)
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

fn read_all(store: &Store, name: &str, from: StartingPosition) -> Vec<(String, Record)> {
    let mut reader = StreamReader::new(store, name, from, None).unwrap();
    let mut out = Vec::new();
    loop {
        let batch = reader.poll(store, 7, 1 << 20).unwrap();
        if batch.is_empty() {
            return out;
        }
        out.extend(batch);
    }
}

#[test]
fn create_list_describe_delete() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let d = s
        .create_stream(
            "a",
            StreamOptions {
                shards: 3,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        (d.open_shards, d.shards.len(), d.retention_hours),
        (3, 3, 24)
    );
    assert_eq!(d.shards[0].id, "shardId-000000000000");
    assert_eq!(d.shards[2].hash_end, u128::MAX.to_string());
    s.create_stream("b", StreamOptions::default()).unwrap();
    assert_eq!(s.list_streams().unwrap(), ["a", "b"]);
    let e = s.create_stream("a", StreamOptions::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot create stream \"a\": it exists already"
    );
    assert!(
        s.create_stream(
            "x",
            StreamOptions {
                shards: 0,
                ..Default::default()
            }
        )
        .is_err()
    );
    assert!(s.create_stream("../x", StreamOptions::default()).is_err());
    s.delete_stream("b").unwrap();
    let e = s.delete_stream("b").unwrap_err();
    assert_eq!(e.to_string(), "cannot open stream \"b\": no such stream");
    let e = s.put_records("nope", &records(1, "k")).unwrap_err();
    assert_eq!(e.to_string(), "cannot open stream \"nope\": no such stream");
    drop(s);
    let s = store(dir.path());
    assert_eq!(s.list_streams().unwrap(), ["a"]);
    // One writer at a time.
    let e = Store::open(dir.path(), StoreConfig::default()).unwrap_err();
    assert!(matches!(e, IngestError::Locked { .. }), "{e}");
}

#[test]
fn md5_routing_and_sequence_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    s.create_stream(
        "s",
        StreamOptions {
            shards: 4,
            ..Default::default()
        },
    )
    .unwrap();
    let recs = records(200, "key-");
    let acks = put_ok(&s, "s", &recs);
    let meta = s.stream_meta("s").unwrap();
    let mut last: HashMap<Arc<str>, u64> = HashMap::new();
    for (r, a) in recs.iter().zip(&acks) {
        let shard = meta.shard(&a.shard).unwrap();
        let h = hash_key_of(&r.partition_key);
        assert!(shard.hash_start <= h && h <= shard.hash_end);
        if let Some(prev) = last.insert(Arc::clone(&a.shard), a.seq) {
            assert_eq!(a.seq, prev + 1);
        }
    }
    assert_eq!(last.len(), 4, "200 keys reach all four shards");
    // An explicit hash key wins over the partition key.
    let mut r = PutRecord::new("whatever", b"x".to_vec());
    r.explicit_hash_key = Some(u128::MAX);
    r.id = Some("r-1".into());
    let a = &put_ok(&s, "s", &[r])[0];
    assert_eq!(&*a.shard, "shardId-000000000003");
    let all = read_all(&s, "s", StartingPosition::TrimHorizon);
    assert_eq!(all.len(), 201);
    let last = all
        .iter()
        .find(|(_, r)| r.partition_key == "whatever")
        .unwrap();
    assert_eq!(last.1.id.as_deref(), Some("r-1"));
    assert_eq!(last.1.explicit_hash_key, Some(u128::MAX));
}

#[test]
fn bad_records_fail_alone() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    s.create_stream("s", StreamOptions::default()).unwrap();
    let recs = vec![
        PutRecord::new("a", b"1".to_vec()),
        PutRecord::new("b", vec![0; MAX_DATA_BYTES + 1]),
        PutRecord::new("", b"3".to_vec()),
        PutRecord::new("d", vec![0; MAX_DATA_BYTES]),
    ];
    let out = s.put_records("s", &recs).unwrap();
    assert_eq!(out[0].as_ref().unwrap().seq, 0);
    let e = out[1].as_ref().unwrap_err().to_string();
    assert!(
        e.contains("record of 1048577 bytes, more than the limit"),
        "{e}"
    );
    assert!(out[2].is_err());
    assert_eq!(out[3].as_ref().unwrap().seq, 1);
    assert_eq!(read_all(&s, "s", StartingPosition::TrimHorizon).len(), 2);
}

#[test]
fn every_iterator_type() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    s.create_stream("s", StreamOptions::default()).unwrap();
    let shard = "shardId-000000000000";
    let before = time::now_ms();
    put_ok(&s, "s", &records(10, "k"));
    let t_mid = time::now_ms() + 5;
    std::thread::sleep(Duration::from_millis(20));
    put_ok(&s, "s", &records(5, "m"));
    let seqs = |p: StartingPosition| -> Vec<u64> {
        let it = s.shard_iterator("s", shard, p).unwrap();
        s.get_records(&it, 100, 1 << 20)
            .unwrap()
            .records
            .iter()
            .map(|r| r.seq)
            .collect()
    };
    assert_eq!(
        seqs(StartingPosition::TrimHorizon),
        (0..15).collect::<Vec<_>>()
    );
    assert!(seqs(StartingPosition::Latest).is_empty());
    assert_eq!(seqs(StartingPosition::AtSequence(12)), [12, 13, 14]);
    assert_eq!(seqs(StartingPosition::AfterSequence(12)), [13, 14]);
    assert_eq!(
        seqs(StartingPosition::AtTimestamp(t_mid)),
        [10, 11, 12, 13, 14]
    );
    assert_eq!(seqs(StartingPosition::AtTimestamp(0)).len(), 15);
    assert!(seqs(StartingPosition::AtTimestamp(i64::MAX)).is_empty());
    // LATEST then a put: the put shows.
    let it = s
        .shard_iterator("s", shard, StartingPosition::Latest)
        .unwrap();
    put_ok(&s, "s", &records(2, "n"));
    let got = s.get_records(&it, 100, 1 << 20).unwrap();
    assert_eq!(
        got.records.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [15, 16]
    );
    assert_eq!(got.next.unwrap().next_seq, 17);
    assert_eq!(got.millis_behind_latest, 0);
    // Bounded batches, and lag while behind.
    let it = s
        .shard_iterator("s", shard, StartingPosition::TrimHorizon)
        .unwrap();
    let got = s.get_records(&it, 4, 1 << 20).unwrap();
    let after = time::now_ms();
    assert_eq!(got.records.len(), 4);
    // The last record read (seq 3) was put before the 20 ms sleep, at or
    // after `before`: the lag is the time since then.
    let lag = got.millis_behind_latest;
    assert!(lag >= 20 && lag <= after - before, "{lag} ms behind");
    let got = s.get_records(&it, 100, 20).unwrap();
    assert!(got.records.len() == 1, "{}", got.records.len());
    let e = s
        .shard_iterator("s", "shardId-000000000009", StartingPosition::Latest)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "stream \"s\" has no shard \"shardId-000000000009\""
    );
}

#[test]
fn consumer_checkpoints_resume() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    s.create_stream(
        "s",
        StreamOptions {
            shards: 2,
            ..Default::default()
        },
    )
    .unwrap();
    put_ok(&s, "s", &records(30, "k"));
    let mut r = StreamReader::new(&s, "s", StartingPosition::TrimHorizon, Some("app")).unwrap();
    let first = r.poll(&s, 10, 1 << 20).unwrap();
    assert_eq!(first.len(), 10);
    r.checkpoint(&s).unwrap();
    drop(r);
    put_ok(&s, "s", &records(5, "x"));
    drop(s);
    // A restart: the consumer resumes where it checkpointed, whatever --from says.
    let s = store(dir.path());
    let mut r = StreamReader::new(&s, "s", StartingPosition::Latest, Some("app")).unwrap();
    let mut rest = Vec::new();
    loop {
        let b = r.poll(&s, 100, 1 << 20).unwrap();
        if b.is_empty() {
            break;
        }
        rest.extend(b);
    }
    assert_eq!(rest.len(), 25);
    let mut seen: Vec<(String, u64)> = first
        .iter()
        .chain(&rest)
        .map(|(sh, r)| (sh.clone(), r.seq))
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 35, "every record once");
    // Another consumer starts on its own.
    let mut other = StreamReader::new(&s, "s", StartingPosition::Latest, Some("other")).unwrap();
    assert!(other.poll(&s, 100, 1 << 20).unwrap().is_empty());
    assert!(StreamReader::new(&s, "s", StartingPosition::Latest, Some("a/b")).is_err());
}

#[test]
fn split_then_merge_keeps_parents_readable_until_drained() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    s.create_stream("s", StreamOptions::default()).unwrap();
    let before = put_ok(&s, "s", &records(20, "k"));
    assert!(before.iter().all(|a| &*a.shard == "shardId-000000000000"));
    let mid = u128::MAX / 2 + 1;
    let e = s.split_shard("s", "shardId-000000000000", 0).unwrap_err();
    assert!(e.to_string().starts_with("cannot split shard"), "{e}");
    let (lo, hi) = s.split_shard("s", "shardId-000000000000", mid).unwrap();
    assert_eq!(
        (lo.as_str(), hi.as_str()),
        ("shardId-000000000001", "shardId-000000000002")
    );
    let e = s.split_shard("s", "shardId-000000000000", mid).unwrap_err();
    assert!(e.to_string().contains("is closed"), "{e}");
    let after = put_ok(&s, "s", &records(20, "k"));
    for a in &after {
        assert!(*a.shard == lo || *a.shard == hi);
        assert!(
            a.seq >= 20,
            "children's sequence numbers come after the parent's"
        );
    }
    let d = s.describe_stream("s").unwrap();
    assert_eq!(d.shards[0].state, "closed");
    assert_eq!(d.shards[0].ending_seq, Some(20));
    assert_eq!(d.shards[1].parent.as_deref(), Some("shardId-000000000000"));
    assert_eq!(d.open_shards, 2);
    // Parent first, then children; the same key keeps its order.
    let all = read_all(&s, "s", StartingPosition::TrimHorizon);
    assert_eq!(all.len(), 40);
    assert!(all[..20].iter().all(|(sh, _)| sh == "shardId-000000000000"));
    // The drained parent ends its iterator.
    let it = s
        .shard_iterator(
            "s",
            "shardId-000000000000",
            StartingPosition::AtSequence(15),
        )
        .unwrap();
    let got = s.get_records(&it, 100, 1 << 20).unwrap();
    assert_eq!(got.records.len(), 5);
    assert!(got.next.is_none());
    // Merge the children back.
    let e = s
        .merge_shards("s", &lo, "shardId-000000000000")
        .unwrap_err();
    assert!(e.to_string().contains("is closed"), "{e}");
    let child = s.merge_shards("s", &hi, &lo).unwrap();
    let d = s.describe_stream("s").unwrap();
    let c = d.shards.iter().find(|x| x.id == child).unwrap();
    assert_eq!(
        (c.hash_start.as_str(), c.hash_end.clone()),
        ("0", u128::MAX.to_string())
    );
    assert_eq!(c.parent.as_deref(), Some(hi.as_str()));
    assert_eq!(c.adjacent_parent.as_deref(), Some(lo.as_str()));
    let last = put_ok(&s, "s", &records(3, "z"));
    assert!(last.iter().all(|a| *a.shard == *child));
    assert_eq!(read_all(&s, "s", StartingPosition::TrimHorizon).len(), 43);
    drop(s);
    let s = store(dir.path());
    assert_eq!(read_all(&s, "s", StartingPosition::TrimHorizon).len(), 43);
    // Shards two apart do not merge.
    s.create_stream(
        "t",
        StreamOptions {
            shards: 3,
            ..Default::default()
        },
    )
    .unwrap();
    let e = s
        .merge_shards("t", "shardId-000000000000", "shardId-000000000002")
        .unwrap_err();
    assert!(e.to_string().contains("not adjacent"), "{e}");
}

#[test]
fn reader_in_another_process_follows_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    s.create_stream("s", StreamOptions::default()).unwrap();
    put_ok(&s, "s", &records(3, "k"));
    let ro = Store::open_read_only(dir.path()).unwrap();
    assert!(matches!(
        ro.put_records("s", &records(1, "k")),
        Err(IngestError::ReadOnly)
    ));
    let mut r = StreamReader::new(&ro, "s", StartingPosition::TrimHorizon, None).unwrap();
    assert_eq!(r.poll(&ro, 100, 1 << 20).unwrap().len(), 3);
    assert!(r.poll(&ro, 100, 1 << 20).unwrap().is_empty());
    put_ok(&s, "s", &records(2, "k"));
    s.split_shard("s", "shardId-000000000000", 1 << 100)
        .unwrap();
    put_ok(&s, "s", &records(4, "k"));
    s.create_stream("later", StreamOptions::default()).unwrap();
    let mut got = 0;
    for _ in 0..3 {
        got += r.poll(&ro, 100, 1 << 20).unwrap().len();
    }
    assert_eq!(got, 6);
    assert_eq!(ro.list_streams().unwrap(), ["later", "s"]);
}

#[test]
fn overload_is_refused_and_retryable() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        max_inflight_bytes: 1000,
        ..Default::default()
    };
    let s = Store::open(dir.path(), config).unwrap();
    s.create_stream("s", StreamOptions::default()).unwrap();
    // Alone, a call larger than the limit goes through (it cannot wait for itself).
    assert!(s.put_records("s", &records(100, "k")).is_ok());
    let held = s.admit(900).unwrap();
    let e = s.put_records("s", &records(10, "k")).unwrap_err();
    assert!(e.is_retryable(), "{e}");
    assert!(e.to_string().starts_with("store overloaded: "), "{e}");
    drop(held);
    assert!(s.put_records("s", &records(10, "k")).is_ok());
}

static CLOCK: AtomicI64 = AtomicI64::new(1_000_000_000_000);

fn fake_now() -> i64 {
    CLOCK.load(Ordering::Relaxed)
}

#[test]
fn retention_by_age_through_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        log: LogConfig {
            segment_bytes: 2048,
            durability: Durability::Fsync,
        },
        clock: fake_now,
        ..Default::default()
    };
    let s = Arc::new(Store::open(dir.path(), config).unwrap());
    s.create_stream(
        "s",
        StreamOptions {
            retention_hours: 1,
            ..Default::default()
        },
    )
    .unwrap();
    for _ in 0..5 {
        put_ok(&s, "s", &records(30, "old"));
    }
    CLOCK.fetch_add(2 * 3_600_000, Ordering::Relaxed);
    put_ok(&s, "s", &records(30, "new"));
    let removed = s.enforce_retention().unwrap();
    assert!(removed >= 2, "{removed}");
    let d = s.describe_stream("s").unwrap();
    assert!(d.shards[0].trim_horizon_seq > 0, "{d:?}");
    let left = read_all(&s, "s", StartingPosition::TrimHorizon);
    assert!(left.len() < 180 && left.len() >= 30, "{}", left.len());
    assert!(
        left.iter()
            .rev()
            .take(30)
            .all(|(_, r)| r.partition_key.starts_with("new"))
    );
    s.set_retention("s", 48).unwrap();
    assert_eq!(s.describe_stream("s").unwrap().retention_hours, 48);
    assert!(s.set_retention("s", 0).is_err());
    // The background thread does the same, by itself: once records put now
    // (seq 180 on) and all before them are older than the new 48 h, every
    // segment of the 180 before goes.
    assert_eq!(s.describe_stream("s").unwrap().shards[0].next_seq, 180);
    for _ in 0..5 {
        put_ok(&s, "s", &records(30, "older"));
    }
    CLOCK.fetch_add(49 * 3_600_000, Ordering::Relaxed);
    put_ok(&s, "s", &records(30, "newest"));
    let handle = s.spawn_retention(Duration::from_millis(10));
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let moved = loop {
        let now = s.describe_stream("s").unwrap().shards[0].trim_horizon_seq;
        if now >= 180 || std::time::Instant::now() > deadline {
            break now;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(moved >= 180, "the thread kept records below {moved}");
    let left = read_all(&s, "s", StartingPosition::TrimHorizon);
    assert!(left.len() < 180, "{}", left.len());
    assert!(
        left.iter()
            .rev()
            .take(30)
            .all(|(_, r)| r.partition_key.starts_with("newest"))
    );
    // It ends with the store.
    drop(s);
    handle.join().unwrap();
}

#[test]
fn duplicates_by_record_id_are_dropped_within_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    s.create_stream("s", StreamOptions::default()).unwrap();
    let with_id = |id: &str| PutRecord {
        id: Some(id.into()),
        ..PutRecord::new("k", id.as_bytes().to_vec())
    };
    // a, b, a retried, no id, c, then a again after two other ids.
    let recs = [
        with_id("a"),
        with_id("b"),
        with_id("a"),
        PutRecord::new("k", b"-".to_vec()),
        with_id("c"),
        with_id("d"),
        with_id("a"),
    ];
    put_ok(&s, "s", &recs);
    let mut r = StreamReader::new(&s, "s", StartingPosition::TrimHorizon, None).unwrap();
    r.drop_duplicates(3);
    let got: Vec<Vec<u8>> = r
        .poll(&s, 100, 1 << 20)
        .unwrap()
        .into_iter()
        .map(|(_, r)| r.data)
        .collect();
    assert_eq!(got, [&b"a"[..], b"b", b"-", b"c", b"d", b"a"]);
    assert_eq!(r.duplicates_dropped(), 1);
}

/// The value of the sample `name{labels}` (or `name` alone) in `text`.
fn sample(text: &str, name: &str, labels: &str) -> Option<f64> {
    let prefix = if labels.is_empty() {
        format!("{name} ")
    } else {
        format!("{name}{{{labels}}} ")
    };
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix).and_then(|v| v.parse().ok()))
}

#[test]
fn puts_reads_fsyncs_and_refusals_move_their_metrics() {
    use crate::metrics as m;
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        max_inflight_bytes: 1000,
        ..Default::default()
    };
    metrics::with_local_recorder(&recorder, || {
        let s = Store::open(dir.path(), config).unwrap();
        s.create_stream("s", StreamOptions::default()).unwrap();
        // 3 records of key "kN" (2 bytes) and data {"i":N} (7 bytes); one
        // invalid (an empty key) is not counted.
        let mut batch = records(3, "k");
        batch.push(PutRecord::new("", "x"));
        let answers = s.put_records("s", &batch).unwrap();
        assert!(answers[3].is_err());
        let held = s.admit(900).unwrap();
        assert!(s.put_records("s", &records(10, "k")).is_err());
        drop(held);
        assert_eq!(read_all(&s, "s", StartingPosition::TrimHorizon).len(), 3);
    });
    let text = handle.render();
    let stream = r#"stream="s""#;
    assert_eq!(sample(&text, m::STORE_RECORDS_PUT, stream), Some(3.0));
    assert_eq!(sample(&text, m::STORE_BYTES_PUT, stream), Some(27.0));
    assert_eq!(sample(&text, m::STORE_RECORDS_READ, stream), Some(3.0));
    assert_eq!(sample(&text, m::STORE_BYTES_READ, stream), Some(27.0));
    assert_eq!(sample(&text, m::STORE_PUT_REFUSED, stream), Some(1.0));
    let fsyncs = sample(&text, &format!("{}_count", m::STORE_FSYNC_SECONDS), "");
    assert!(fsyncs.is_some_and(|n| n >= 1.0), "{text}");
}
