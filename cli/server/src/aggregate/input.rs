//! Where `osprey aggregate` reads records, as `INPUT` names it: a file,
//! stdin, Parquet files (a directory, a glob, a Hive-style tree), a stream of the store (`stream:NAME`), NDJSON lines over TCP
//! (`tcp://HOST:PORT`), or the messages of a broker (`mqtt://HOST/TOPIC/#`,
//! `nats://`, `jetstream://`: [`crate::broker`]). Reading them is
//! `osprey_query::source`'s.

use anyhow::Result;
use osprey_ingest::broker::Broker;
use osprey_ingest::output_spec::{STREAM_PREFIX, stream_name};
use osprey_ingest::tcp::parse_url;

/// An input, as `INPUT` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// `-`: standard input.
    Stdin,
    /// A file.
    File(String),
    /// Parquet files: a directory (a Hive-style tree among them) or a glob
    /// (`data/**/*.parquet`).
    Files(String),
    /// `stream:NAME`: a stream of the store.
    Stream(String),
    /// `tcp://HOST:PORT`: NDJSON lines from the connections to this address.
    Tcp(String),
    /// `mqtt://...`, `nats://...`, `jetstream://...`: a broker's messages.
    Broker(Broker),
}

impl Input {
    /// Reads `INPUT`.
    ///
    /// # Errors
    /// [`OutputSpecError`](osprey_ingest::output_spec::OutputSpecError) for
    /// `stream:` without a name, [`ListenError`](osprey_ingest::listen::ListenError)
    /// for a bad `tcp://` address.
    pub fn parse(input: &str) -> Result<Input> {
        if input == "-" {
            return Ok(Input::Stdin);
        }
        if let Some(name) = input.strip_prefix(STREAM_PREFIX) {
            return Ok(Input::Stream(stream_name(name, "INPUT")?));
        }
        if let Some(broker) = Broker::parse(input) {
            return Ok(Input::Broker(broker));
        }
        if input.starts_with("tcp://") {
            return Ok(Input::Tcp(parse_url(input)?.to_owned()));
        }
        if osprey_query::source::files::names_many(input) {
            return Ok(Input::Files(input.to_owned()));
        }
        Ok(Input::File(input.to_owned()))
    }

    /// True for inputs read as they arrive, whose end is a signal or
    /// `--until-idle` rather than the end of a file.
    pub fn is_live(&self, follow: bool) -> bool {
        match self {
            Input::Tcp(_) | Input::Broker(_) => true,
            Input::Stream(_) => follow,
            Input::Stdin | Input::File(_) | Input::Files(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_by_their_form() {
        assert_eq!(Input::parse("-").unwrap(), Input::Stdin);
        assert_eq!(Input::parse("stream:t").unwrap(), Input::Stream("t".into()));
        assert_eq!(
            Input::parse("tcp://127.0.0.1:0").unwrap(),
            Input::Tcp("127.0.0.1:0".into())
        );
        assert!(matches!(
            Input::parse("mqtt://h/t/#").unwrap(),
            Input::Broker(Broker::Mqtt(_))
        ));
        assert_eq!(
            Input::parse("a.ndjson").unwrap(),
            Input::File("a.ndjson".into())
        );
        assert_eq!(
            Input::parse("d/**/*.parquet").unwrap(),
            Input::Files("d/**/*.parquet".into())
        );
        let err = Input::parse("stream:").unwrap_err().to_string();
        assert!(err.contains("needs a stream name"), "{err}");
        assert!(Input::parse("tcp://").is_err());
    }
}
