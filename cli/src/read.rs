//! `osprey read <stream>`: records as NDJSON on stdout, every shard from
//! `--from` (or a named consumer's checkpoint), parents before the children
//! of a split or merge; with `--follow`, on as records arrive (a
//! [`Consumer`] wakes when the stream's files change; `--poll-ms` is the
//! longest it waits before looking again).
//!
//! It opens the store read-only, so it runs alongside the process that
//! writes it (`osprey put --listen`). With `--consumer`, the checkpoint is
//! saved after each batch is written to stdout, so a restarted reader goes
//! on where the last one stopped: no record is skipped, and at most the last
//! batch is printed again after a crash.

use std::io::Write as _;
use std::time::Duration;

use anyhow::Result;
use osprey_ingest::codec::record_line::write_record;
use osprey_ingest::consume::Consumer;
use osprey_ingest::store::Store;

use crate::args::stream::ReadArgs;

/// Records printed per batch at most.
const BATCH: usize = 1000;

/// Runs `osprey read`.
pub fn run(args: &ReadArgs) -> Result<()> {
    let from = args.start.position()?;
    let store = Store::open_read_only(&args.data.data_dir)?;
    let mut consumer = Consumer::new(&store, &args.stream, from, args.start.consumer.as_deref())?;
    consumer.drop_duplicates(args.drop_duplicates);
    let mut stdout = std::io::stdout().lock();
    let mut line = Vec::with_capacity(1 << 16);
    let mut left = args.limit.unwrap_or(u64::MAX);
    while left > 0 {
        let max = usize::try_from(left).unwrap_or(usize::MAX).min(BATCH);
        let batch = consumer.poll(max, 4 << 20)?;
        if batch.is_empty() {
            if !args.start.follow {
                break;
            }
            // Wakes as soon as the stream's files change.
            consumer.wait(Duration::from_millis(args.poll_ms.max(1)));
            continue;
        }
        line.clear();
        for (shard, record) in &batch {
            write_record(&mut line, shard, record);
        }
        stdout.write_all(&line)?;
        stdout.flush()?;
        consumer.checkpoint()?;
        left -= batch.len() as u64;
    }
    Ok(())
}
