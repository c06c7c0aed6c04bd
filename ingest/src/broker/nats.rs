//! NATS out and in, core NATS (`nats://`, `tls://`) and JetStream
//! (`jetstream://`), on [`async_nats`].
//!
//! # URLs
//!
//! `nats://[USER:PASSWORD@|TOKEN@]HOST[:PORT]/SUBJECT[?OPTIONS]`, the port
//! 4222 when left out; `tls://` is the same over TLS (rustls, the system's
//! roots), `jetstream://` publishes and consumes through JetStream
//! (`?tls=1` for TLS there). The password or token never appears in a
//! message ([`super::redact_url`]). Options, `&`-separated:
//!
//! - `queue=N`: records kept while the server is away (default
//!   [`super::OutputOptions::queue_records`]);
//! - `window=N`: publishes in flight at once: JetStream acks awaited
//!   together, or core messages between two flushes (default 256);
//! - `create=0|1`: JetStream only, whether a stream is created when none
//!   captures SUBJECT (default 1: a stream named `stream=NAME`, or SUBJECT
//!   with every character other than letters, digits, `-` and `_` made `_`,
//!   with `subjects=[SUBJECT]` and the server's defaults otherwise); with
//!   `create=0` a missing stream is an error said once and retried, the
//!   records queued meanwhile as while the server is away;
//! - `stream=NAME`: the name of the stream created;
//! - `max_ack_pending=N`: input only, JetStream messages handed out but not
//!   acknowledged yet, at most (default 1000).
//!
//! # Output ([`NatsLines`])
//!
//! Every non-blank record line is one message on SUBJECT, in order. Lines
//! go into a bounded queue that a background task empties; while the server
//! answers, a full queue makes [`crate::sink::LineBatches::send`] wait (it
//! never drops records a reachable server would take); while the server is
//! away (disconnected, or no ack for 5 s) the oldest queued records are
//! dropped past the bound, counted, and said in a warning and again when
//! the output closes. Closing waits up to 10 s for the queue to drain.
//!
//! Core NATS is at most once: a window of records is handed to the
//! connection and flushed. JetStream is at least once: a window of
//! publishes is awaited together, and from the first publish without an
//! ack on, the records go again after a backoff, with the same
//! `Nats-Msg-Id`, so that JetStream's duplicate window (2 minutes by
//! default) stores each once. The order per subject holds across a lost
//! connection too, where the stream holds the output's subject alone (the
//! stream osprey makes does): within a window each publish names the one
//! before it as the stream's expected last message
//! (`Nats-Expected-Last-Msg-Id`), so a publish the client kept and sent on
//! reconnect after lost ones is refused, not stored ahead of them, and
//! goes again in order. Where other subjects share the stream (other
//! publishers), windows are not chained and the order can break across a
//! lost connection (each record still stored once). The id of a record line ([`msg_id()`]):
//!
//! - its `id` field, when it has one (a record put with an id);
//! - `SHARD/SEQ/HASH` for a stored record as `osprey read` writes it
//!   (`shard` and `seq` fields);
//! - `SOURCE/KIND[/TYPE][/FRAME]/HASH` for an analysis record (`source` and
//!   `kind` fields);
//! - `HASH` otherwise;
//!
//! where HASH is the first 16 hex digits of the line's SHA-256: the same
//! line sent twice has the same id, and two records that share the rest
//! (two osprey streams published on one subject) differ. So two lines
//! without an `id` that are byte for byte the same count as one within the
//! duplicate window.
//!
//! # Input ([`NatsInput`])
//!
//! Core NATS subscribes to SUBJECT (wildcards allowed) and hands out what
//! arrives while connected; [`super::BrokerInput::ack`] does nothing. With
//! JetStream, a durable pull consumer named `durable` (explicit acks,
//! `max_ack_pending` bound) on the stream that captures SUBJECT (created as
//! for the output) hands out messages until they are acked, so a restarted
//! osprey goes on after the last acknowledged one; a message not acked
//! within 30 s is delivered again.

mod connect;
mod input;
mod msg_id;
mod output;
mod url;

pub use input::NatsInput;
pub use msg_id::msg_id;
pub use output::{NatsLines, NatsStats};

#[cfg(test)]
mod tests;
