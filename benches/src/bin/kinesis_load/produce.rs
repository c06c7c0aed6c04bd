//! The producers: threads that share one schedule of PutRecords calls
//! (`batch` records every `batch / rate` seconds), each on its own
//! connection, so that a slow answer delays only its own thread's calls
//! while the others keep to the schedule.

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use osprey_ingest::codec::base64;

use crate::histogram::Histogram;
use crate::ledger::Ledger;
use osprey_benches::kinesis::Client;

/// The shared schedule of calls.
pub struct Schedule {
    /// Time zero of the run (records carry their send time from it).
    pub epoch: Instant,
    /// When the first call is due.
    pub start: Instant,
    /// Time between two calls.
    pub interval: Duration,
    /// No call is started at or after this.
    pub end: Instant,
    next_call: AtomicU64,
}

impl Schedule {
    /// Calls every `interval` from `start` to `end`.
    pub fn new(epoch: Instant, start: Instant, interval: Duration, end: Instant) -> Self {
        Schedule {
            epoch,
            start,
            interval,
            end,
            next_call: AtomicU64::new(0),
        }
    }

    /// When the next call is due, or `None` once the run is over.
    fn take(&self) -> Option<Instant> {
        let k = self.next_call.fetch_add(1, Ordering::Relaxed);
        let due = self.start + self.interval.mul_f64(k as f64);
        (due < self.end && Instant::now() < self.end).then_some(due)
    }
}

/// What one producer did.
pub struct Produced {
    /// The time of each PutRecords call, send to answer.
    pub calls: Histogram,
    /// Calls that failed as a whole (their records count as refused).
    pub failed_calls: u64,
    /// The first failure's message.
    pub first_error: Option<String>,
    /// The most a call started after it was due.
    pub max_behind: Duration,
}

/// What the records are made of.
pub struct Shape<'a> {
    /// The stream put to.
    pub stream: &'a str,
    /// Records a call.
    pub batch: u64,
    /// Distinct partition keys (devices).
    pub devices: u64,
    /// Bytes of padding in each record's data.
    pub pad: usize,
}

/// Runs one producer until the schedule ends or the ledger is full.
pub fn produce(
    client: &Client,
    schedule: &Schedule,
    ledger: &Ledger,
    shape: &Shape<'_>,
) -> Produced {
    let mut done = Produced {
        calls: Histogram::new(),
        failed_calls: 0,
        first_error: None,
        max_behind: Duration::ZERO,
    };
    let pad = "x".repeat(shape.pad);
    let (mut body, mut data) = (Vec::new(), Vec::new());
    while let Some(due) = schedule.take() {
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        } else {
            done.max_behind = done.max_behind.max(now - due);
        }
        let Some(first) = ledger.take_ids(shape.batch) else {
            break;
        };
        let sent_us = schedule.epoch.elapsed().as_micros();
        body.clear();
        body.extend_from_slice(br#"{"StreamName":""#);
        body.extend_from_slice(shape.stream.as_bytes());
        body.extend_from_slice(br#"","Records":["#);
        for id in first..first + shape.batch {
            let device = id % shape.devices;
            data.clear();
            let temp = 15.0 + (id % 200) as f64 / 10.0;
            let _ = write!(
                data,
                r#"{{"id":{id},"sent_us":{sent_us},"device":"dev-{device}","temp":{temp:.1},"pad":"{pad}"}}"#
            );
            if id > first {
                body.push(b',');
            }
            body.extend_from_slice(br#"{"Data":""#);
            base64::encode_into(&mut body, &data);
            let _ = write!(body, r#"","PartitionKey":"dev-{device}"}}"#);
        }
        body.extend_from_slice(b"]}");
        let t0 = Instant::now();
        let answer = client.put_records(&body);
        done.calls.add(t0.elapsed(), 1);
        match answer {
            Ok(mut outcomes) => {
                outcomes.resize(shape.batch as usize, false);
                ledger.answer(first, &outcomes);
            }
            Err(e) => {
                ledger.answer(first, &vec![false; shape.batch as usize]);
                done.failed_calls += 1;
                done.first_error.get_or_insert(e.0);
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    done
}
