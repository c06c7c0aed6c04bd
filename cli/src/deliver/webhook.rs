//! Delivery to an HTTP webhook: each batch one POST of NDJSON through
//! [`osprey_ingest::sink::Webhook`], which retries connection errors,
//! timeouts, 408, 429 and 5xx with backoff for `--retry-seconds`.
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
use std::time::Duration;

use anyhow::{Result, anyhow};
use osprey_ingest::sink::webhook::parse_header;
use osprey_ingest::sink::{Webhook, WebhookConfig};

use super::{Batch, BatchName, Destination, Tally, ndjson_lines, set_aside};
use crate::args::stream::{DeliverArgs, DeliverFormat};
use crate::exit::UsageError;

/// Batches to a webhook.
#[derive(Debug)]
pub struct ToWebhook {
    sink: Webhook,
    errors_dir: Option<PathBuf>,
    stream: String,
}

impl ToWebhook {
    /// The webhook at `url` with `args`'s headers, compression and times,
    /// checked; nothing is sent yet.
    ///
    /// # Errors
    /// A usage error for a bad URL (https among them), header, time or format.
    pub fn new(args: &DeliverArgs, url: &str) -> Result<Self> {
        if args.format != DeliverFormat::Ndjson {
            return Err(UsageError(
                "a webhook takes --format ndjson only (one POST of NDJSON a batch)".into(),
            )
            .into());
        }
        let mut config = WebhookConfig::new(url);
        config.encoding = args.compression.encoding();
        for header in &args.headers {
            config
                .headers
                .push(parse_header(header).map_err(|e| UsageError(e.to_string()))?);
        }
        if let Some(t) = args.timeout_seconds {
            config.timeout = seconds(t, "--timeout-seconds", false)?;
        }
        if let Some(t) = args.retry_seconds {
            config.retry_for = seconds(t, "--retry-seconds", true)?;
        }
        let sink = Webhook::new(config).map_err(|e| UsageError(e.to_string()))?;
        Ok(ToWebhook {
            sink,
            errors_dir: args.errors_to.clone(),
            stream: args.stream.clone(),
        })
    }
}

/// `value` seconds as a duration: finite, above 0 (or 0 too with `zero_ok`).
fn seconds(value: f64, flag: &str, zero_ok: bool) -> Result<Duration> {
    let fine = value.is_finite() && (value > 0.0 || (zero_ok && value == 0.0));
    match Duration::try_from_secs_f64(value) {
        Ok(d) if fine => Ok(d),
        _ => {
            let range = if zero_ok { "0 or more" } else { "above 0" };
            Err(UsageError(format!("{flag} must be {range} seconds, not {value}")).into())
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
            return Err(anyhow!(
                "record {shard} seq {} cannot be sent: {reason} (give --errors-to DIR to set \
                 such records aside); {}",
                r.seq,
                held()
            ));
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
                    return Err(anyhow!("{e}{hint}; {}", held()));
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
