//! Where records go, as a command line names it: `-` (stdout), a webhook
//! (`http://HOST[:PORT][/PATH]`, `https://...` refused later with a clear
//! error), a message broker (`mqtt://`, `nats://`, `jetstream://`:
//! [`crate::broker`]), a stream of the store (`stream:NAME`), or a file path. One parser
//! for every command that writes records, so `stream:` and the rest mean
//! the same everywhere.

use std::path::{Path, PathBuf};

use crate::broker::Broker;
use crate::sink::webhook::is_webhook_url;

/// The prefix of a stream named as an input or output, `stream:NAME`.
pub const STREAM_PREFIX: &str = "stream:";

/// An output as a command line names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputSpec {
    /// `-`: standard output.
    Stdout,
    /// `http://...` or `https://...`: a webhook.
    Webhook(String),
    /// `stream:NAME`: a stream of the store.
    Stream(String),
    /// `mqtt://...`, `nats://...`, `jetstream://...`: a message broker.
    Broker(Broker),
    /// Anything else: a file (or, for delivery, a folder).
    File(PathBuf),
}

/// An output spec that names nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OutputSpecError {
    /// `stream:` without a name; `what` is the argument (`--output`).
    #[error("{what} {STREAM_PREFIX} needs a stream name ({STREAM_PREFIX}NAME)")]
    NoStreamName {
        /// The argument, as the user knows it.
        what: String,
    },
    /// An empty path.
    #[error("{what} is empty: give a path, or - for stdout")]
    Empty {
        /// The argument, as the user knows it.
        what: String,
    },
}

impl OutputSpec {
    /// Reads `spec`, given as argument `what` (named in errors).
    ///
    /// # Errors
    /// [`OutputSpecError`] for `stream:` without a name or an empty path.
    pub fn parse(spec: &Path, what: &str) -> Result<OutputSpec, OutputSpecError> {
        if spec == Path::new("-") {
            return Ok(OutputSpec::Stdout);
        }
        if let Some(text) = spec.to_str() {
            if let Some(broker) = Broker::parse(text) {
                return Ok(OutputSpec::Broker(broker));
            }
            if is_webhook_url(text) {
                return Ok(OutputSpec::Webhook(text.to_owned()));
            }
            if let Some(name) = text.strip_prefix(STREAM_PREFIX) {
                return stream_name(name, what).map(OutputSpec::Stream);
            }
        }
        if spec.as_os_str().is_empty() {
            return Err(OutputSpecError::Empty {
                what: what.to_owned(),
            });
        }
        Ok(OutputSpec::File(spec.to_owned()))
    }
}

/// The stream of `stream:NAME` (`name` after the prefix), given as argument
/// `what`.
///
/// # Errors
/// [`OutputSpecError::NoStreamName`] when `name` is empty.
pub fn stream_name(name: &str, what: &str) -> Result<String, OutputSpecError> {
    if name.is_empty() {
        return Err(OutputSpecError::NoStreamName {
            what: what.to_owned(),
        });
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(spec: &str) -> Result<OutputSpec, String> {
        OutputSpec::parse(Path::new(spec), "--output").map_err(|e| e.to_string())
    }

    #[test]
    fn specs() {
        assert_eq!(parse("-"), Ok(OutputSpec::Stdout));
        assert_eq!(parse("stream:t"), Ok(OutputSpec::Stream("t".into())));
        assert_eq!(
            parse("http://h:1/p"),
            Ok(OutputSpec::Webhook("http://h:1/p".into()))
        );
        assert_eq!(
            parse("HTTPS://h"),
            Ok(OutputSpec::Webhook("HTTPS://h".into()))
        );
        assert_eq!(
            parse("mqtt://h:1883/osprey"),
            Ok(OutputSpec::Broker(Broker::Mqtt(
                "mqtt://h:1883/osprey".into()
            )))
        );
        assert_eq!(
            parse("out/a.ndjson"),
            Ok(OutputSpec::File("out/a.ndjson".into()))
        );
        assert_eq!(
            parse("./stream:x"),
            Ok(OutputSpec::File("./stream:x".into()))
        );
        assert_eq!(
            parse("stream:"),
            Err("--output stream: needs a stream name (stream:NAME)".into())
        );
        assert_eq!(
            parse(""),
            Err("--output is empty: give a path, or - for stdout".into())
        );
    }
}
