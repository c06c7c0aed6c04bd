//! Delivery's checkpoint: after each batch, per shard, at the first record
//! not yet in a delivered batch, also when batches close in the middle of a
//! poll, mix shards, and span a split; a run that stops on a failed batch
//! leaves the rest to the next run, which delivers each record once.

use std::collections::BTreeSet;
use std::time::Duration;

use super::*;
use crate::store::{PutRecord, StoreConfig, StreamOptions, StreamReader};

/// A record's place: shard and sequence number.
type Place = (String, u64);

/// Records each batch it is handed, after checking that the checkpoint
/// saved so far covers exactly the batches before it; fails the batch
/// numbered `fail_at` as a destination that is down would.
struct Recorder<'s> {
    store: &'s Store,
    batches: Vec<Vec<Place>>,
    fail_at: Option<usize>,
    /// Every record of the stream, to tell which lie before a checkpoint.
    all: &'s [Place],
}

impl Recorder<'_> {
    /// The records before the consumer's saved checkpoint.
    fn before_checkpoint(&self) -> BTreeSet<Place> {
        let checkpoint = self.store.checkpoint("s", "deliver").unwrap();
        self.all
            .iter()
            .filter(|(shard, seq)| checkpoint.get(shard).is_some_and(|c| seq < c))
            .cloned()
            .collect()
    }

    fn delivered(&self) -> BTreeSet<Place> {
        self.batches.iter().flatten().cloned().collect()
    }
}

impl Destination for Recorder<'_> {
    fn deliver(&mut self, batch: &Batch, tally: &mut Tally) -> Result<()> {
        // A kill now, before this batch is written, would deliver it again
        // and nothing else: the checkpoint is just past the ones before.
        assert_eq!(
            self.before_checkpoint(),
            self.delivered(),
            "the checkpoint before batch {}",
            self.batches.len()
        );
        if self.fail_at == Some(self.batches.len()) {
            return Err(DeliverError::NotDelivered("down".into()));
        }
        self.batches
            .push(batch.iter().map(|(s, r)| (s.clone(), r.seq)).collect());
        tally.records += batch.len() as u64;
        tally.batches += 1;
        Ok(())
    }

    fn summary(&self, _: &Tally) -> String {
        String::new()
    }
}

/// A stream of two shards, the first split half way, so that records of a
/// parent and of its children, and of two shards, share batches.
fn stream(dir: &Path) -> (Store, Vec<Place>) {
    let store = Store::open(dir, StoreConfig::default()).unwrap();
    let options = StreamOptions {
        shards: 2,
        ..Default::default()
    };
    store.create_stream("s", options).unwrap();
    let put = |from: usize| {
        let records: Vec<PutRecord> = (from..from + 150)
            .map(|i| PutRecord::new(format!("k{i}"), format!("{{\"i\":{i}}}")))
            .collect();
        for ack in store.put_records("s", &records).unwrap() {
            ack.unwrap();
        }
    };
    put(0);
    store
        .split_shard("s", "shardId-000000000000", u128::MAX / 4)
        .unwrap();
    put(150);
    let mut reader = StreamReader::new(&store, "s", StartingPosition::TrimHorizon, None).unwrap();
    let mut all = Vec::new();
    loop {
        let got = reader.poll(&store, 1000, 1 << 20).unwrap();
        if got.is_empty() {
            break;
        }
        all.extend(got.into_iter().map(|(s, r)| (s, r.seq)));
    }
    assert_eq!(all.len(), 300);
    (store, all)
}

/// Batches of about ten records close inside each poll (which reads up to
/// 1000), so the checkpoint must lie inside what a poll read.
fn config() -> DeliverConfig {
    DeliverConfig {
        stream: "s".into(),
        from: StartingPosition::TrimHorizon,
        consumer: "deliver".into(),
        follow: false,
        max_bytes: 100,
        max_age: Duration::from_secs(3600),
    }
}

#[test]
fn the_checkpoint_follows_each_batch_that_closes_mid_poll() {
    let dir = tempfile::tempdir().unwrap();
    let (store, all) = stream(dir.path());
    let mut to = Recorder {
        store: &store,
        batches: Vec::new(),
        fail_at: None,
        all: &all,
    };
    let tally = run(&store, &config(), &mut to).unwrap();
    assert_eq!(tally.records, 300);
    assert!(to.batches.len() >= 20, "{} batches", to.batches.len());
    assert!(
        to.batches
            .iter()
            .any(|b| b.iter().map(|(s, _)| s).collect::<BTreeSet<_>>().len() > 1),
        "no batch mixes shards"
    );
    // After the last batch the checkpoint is past everything.
    assert_eq!(to.before_checkpoint().len(), 300);
}

#[test]
fn a_run_stopped_by_a_failed_batch_leaves_exactly_the_rest_to_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let (store, all) = stream(dir.path());
    // Batch 7 closes mid-poll, as they all do here.
    let mut first = Recorder {
        store: &store,
        batches: Vec::new(),
        fail_at: Some(7),
        all: &all,
    };
    let err = run(&store, &config(), &mut first).unwrap_err();
    assert!(matches!(err, DeliverError::NotDelivered(_)), "{err}");
    assert_eq!(first.batches.len(), 7);
    let mut second = Recorder {
        store: &store,
        batches: Vec::new(),
        fail_at: None,
        all: &all,
    };
    // Its first check: the checkpoint the failed run left covers exactly
    // its seven batches.
    second.batches = first.batches.clone();
    run(&store, &config(), &mut second).unwrap();
    let again = second.batches.split_off(7);
    let (one, two) = (first.delivered(), again.iter().flatten().cloned().collect());
    assert!(one.is_disjoint(&two), "delivered twice");
    let every: BTreeSet<Place> = all.iter().cloned().collect();
    assert_eq!(one.union(&two).cloned().collect::<BTreeSet<_>>(), every);
    assert_eq!(one.len() + two.len(), 300);
}
