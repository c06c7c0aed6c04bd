//! Delivery to an HTTP webhook: each batch one POST of NDJSON through
//! [`crate::sink::Webhook`], which retries connection errors,
//! timeouts, 408, 429 and 5xx with backoff for its retry time.
//!
//! What is not acknowledged with 2xx is never counted as delivered:
//! - the retry time runs out: the run stops with exit 1 and the checkpoint
//!   stays before the batch, so the next run sends it again;
//! - the endpoint refuses the batch's content (400, 413, 415, 422): with
//!   `--errors-to DIR`, its records are written there with the status and
//!   the start of the answer as their reason, and delivery goes on; without
//!   it, the run stops as above;
//! - any other refusal (401, 403, 404, a redirect, ...) means the endpoint
//!   or credentials are wrong and every batch would fare alike: the run
//!   stops as above, whatever `--errors-to` says;
//! - a record that is not one line of JSON cannot be sent: with
//!   `--errors-to` it goes there; without it, the run stops before posting
//!   its batch.

use std::path::PathBuf;

use super::{Batch, BatchName, DeliverError, Destination, Result, Tally, ndjson_lines, set_aside};
use crate::sink::Webhook;

/// Batches to a webhook.
#[derive(Debug)]
pub struct ToWebhook {
    sink: Webhook,
    errors_dir: Option<PathBuf>,
    stream: String,
}

impl ToWebhook {
    /// Batches of `stream` POSTed through `sink`; with `errors_dir`,
    /// records that cannot be sent and batches refused for their content
    /// are set aside there. Nothing is sent yet.
    pub fn new(stream: &str, sink: Webhook, errors_dir: Option<PathBuf>) -> Self {
        ToWebhook {
            sink,
            errors_dir,
            stream: stream.to_owned(),
        }
    }
}

impl Destination for ToWebhook {
    fn deliver(&mut self, batch: &Batch, tally: &mut Tally) -> Result<()> {
        let name = BatchName::of(&self.stream, batch);
        let mut bad: Vec<(usize, String)> = Vec::new();
        let body = ndjson_lines(batch, &mut bad);
        let held = || {
            let Some((shard, first)) = batch.first() else {
                return "no records".to_owned();
            };
            format!(
                "{} records from {shard} seq {} not delivered; the consumer's checkpoint \
                 stays before them, so the next run sends them again",
                batch.len(),
                first.seq
            )
        };
        if let (Some((i, reason)), None) = (bad.first(), &self.errors_dir) {
            let (shard, r) = &batch[*i];
            return Err(DeliverError::NotDelivered(format!(
                "record {shard} seq {} cannot be sent: {reason} (give --errors-to DIR to set \
                 such records aside); {}",
                r.seq,
                held()
            )));
        }
        let sent = batch.len() - bad.len();
        if sent > 0 {
            match self.sink.post(&body) {
                Ok(receipt) => {
                    tally.records += sent as u64;
                    tally.batches += 1;
                    tally.retries += u64::from(receipt.attempts.saturating_sub(1));
                }
                Err(e) if e.refused_content() && self.errors_dir.is_some() => {
                    tracing::warn!(error = %e, records = sent, "Batch refused; set aside.");
                    let reason = e.to_string();
                    let mut aside = vec![false; batch.len()];
                    for (i, _) in &bad {
                        aside[*i] = true;
                    }
                    for (i, _) in aside.iter().enumerate().filter(|(_, a)| !**a) {
                        bad.push((i, reason.clone()));
                    }
                }
                Err(e) => {
                    let hint = if e.refused_content() {
                        " (give --errors-to DIR to set refused batches aside)"
                    } else {
                        ""
                    };
                    return Err(DeliverError::NotDelivered(format!("{e}{hint}; {}", held())));
                }
            }
        }
        if let Some(dir) = &self.errors_dir {
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
            "delivered {} records in {} requests to {} ({} retries){errors}",
            tally.records,
            tally.batches,
            self.sink.config().url,
            tally.retries
        )
    }
}
