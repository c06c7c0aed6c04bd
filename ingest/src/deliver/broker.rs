//! Delivery to a message broker (`--to mqtt://HOST/PREFIX`, `nats://`,
//! `jetstream://`): each batch's records published through the broker's
//! output ([`crate::broker::lines`]), MQTT's under
//! `PREFIX/<stream>/records` unless a record names its `kind` and
//! `source` (then the layout of `crate::broker::mqtt`).
//!
//! A record that is not one line of JSON goes to `--errors-to DIR` when
//! given, else stops the run before its batch, as for a webhook. The
//! output queues what the broker has not taken yet (bounded; see the
//! broker's module), and the run ends once the queue is delivered or the
//! broker stayed away past its close wait: a batch counts as delivered once
//! queued, so a delivery killed while the broker is away loses what was
//! queued then (the checkpoint had moved past it).

use std::path::PathBuf;

use crate::broker::{self, Broker, OutputOptions};
use crate::deliver::{Batch, BatchName, DeliverError, Destination, Tally, ndjson_lines, set_aside};
use crate::sink::LineBatches;

/// Batches to a broker.
pub struct ToBroker {
    lines: Box<dyn LineBatches + Send>,
    url: String,
    errors_dir: Option<PathBuf>,
    stream: String,
}

impl ToBroker {
    /// Batches of `stream` published to `broker` (connected in the
    /// background); with `errors_dir`, records that are not JSON lines are
    /// set aside there.
    ///
    /// # Errors
    /// A URL osprey cannot use.
    pub fn new(
        stream: &str,
        broker: &Broker,
        errors_dir: Option<PathBuf>,
    ) -> Result<Self, broker::BrokerError> {
        let options = OutputOptions {
            other_topic: format!("{}/records", broker::mqtt::topics::level(stream)),
            ..OutputOptions::default()
        };
        Ok(ToBroker {
            lines: broker::lines(broker, &options)?,
            url: broker.redacted(),
            errors_dir,
            stream: stream.to_owned(),
        })
    }
}

impl Destination for ToBroker {
    fn deliver(&mut self, batch: &Batch, tally: &mut Tally) -> crate::deliver::Result<()> {
        let mut bad: Vec<(usize, String)> = Vec::new();
        let body = ndjson_lines(batch, &mut bad);
        if let (Some((i, reason)), None) = (bad.first(), &self.errors_dir) {
            let (shard, r) = &batch[*i];
            return Err(DeliverError::NotDelivered(format!(
                "record {shard} seq {} cannot be sent: {reason} (give --errors-to DIR to set \
                 such records aside); the consumer's checkpoint stays before it",
                r.seq
            )));
        }
        if !body.is_empty() {
            let sent = self.lines.send(&body).map_err(|e| {
                DeliverError::NotDelivered(format!(
                    "{}: {e}; the batch is sent again next run",
                    self.url
                ))
            })?;
            tally.records += sent;
            tally.batches += 1;
        }
        if let Some(dir) = &self.errors_dir {
            let name = BatchName::of(&self.stream, batch);
            tally.errors += set_aside(dir, &name, batch, &mut bad)?;
        }
        Ok(())
    }

    fn summary(&self, tally: &Tally) -> String {
        let errors = match &self.errors_dir {
            Some(dir) => format!(", {} to {}", tally.errors, dir.display()),
            None => String::new(),
        };
        format!(
            "delivered {} records in {} batches to {}{errors}",
            tally.records, tally.batches, self.url
        )
    }
}
