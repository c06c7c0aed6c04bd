//! The readers: a thread a shard, from the end of the shard as it was
//! before the first put, GetRecords in a loop (again at once after a
//! non-empty answer, after `poll` after an empty one), timing each record
//! from its send to its arrival here.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::histogram::Histogram;
use crate::ledger::Ledger;
use osprey_benches::kinesis::Client;

/// The fields of a record's data a reader needs.
#[derive(Deserialize)]
struct Payload {
    id: u64,
    sent_us: u64,
}

/// What one reader did.
pub struct ReadBack {
    /// Put-to-read time of every record read.
    pub latency: Histogram,
    /// GetRecords calls that failed (retried).
    pub failed_calls: u64,
    /// Records whose data is not this generator's, or whose id was never
    /// handed out.
    pub foreign: u64,
    /// The first failure's message.
    pub first_error: Option<String>,
}

/// Reads one shard from `iterator` until `stop` is set.
pub fn read(
    client: &Client,
    mut iterator: String,
    epoch: Instant,
    poll: Duration,
    ledger: &Ledger,
    stop: &AtomicBool,
) -> ReadBack {
    let mut back = ReadBack {
        latency: Histogram::new(),
        failed_calls: 0,
        foreign: 0,
        first_error: None,
    };
    let mut ids = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let got = match client.get_records(&iterator, 10_000) {
            Ok(got) => got,
            Err(e) => {
                back.failed_calls += 1;
                back.first_error.get_or_insert(e.0);
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let now_us = epoch.elapsed().as_micros() as u64;
        ids.clear();
        for r in &got.records {
            let payload = osprey_ingest::codec::base64::decode(&r.data)
                .and_then(|d| serde_json::from_slice::<Payload>(&d).ok());
            match payload {
                Some(p) => {
                    back.latency
                        .add(Duration::from_micros(now_us.saturating_sub(p.sent_us)), 1);
                    ids.push(p.id);
                }
                None => back.foreign += 1,
            }
        }
        back.foreign += ledger.read(&ids) as u64;
        match got.next_shard_iterator {
            Some(next) => iterator = next,
            None => break,
        }
        if got.records.is_empty() {
            std::thread::sleep(poll);
        }
    }
    back
}
