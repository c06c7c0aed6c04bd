//! Where reads start ([`StartingPosition`], the five Kinesis iterator types),
//! shard iterators, and what one read returns ([`GetRecords`]).

use std::str::FromStr;

use super::record::Record;
use super::time;
use crate::error::IngestError;

/// Where a read of a shard starts, as Kinesis' shard iterator types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartingPosition {
    /// The oldest record still held.
    TrimHorizon,
    /// After the newest record: only records put from now on.
    Latest,
    /// At the record with this sequence number (or the first after it).
    AtSequence(u64),
    /// After the record with this sequence number.
    AfterSequence(u64),
    /// At the first record that arrived at or after this time (ms since the epoch).
    AtTimestamp(i64),
}

impl FromStr for StartingPosition {
    type Err = IngestError;

    /// `trim-horizon`, `latest`, `seq:N`, `after-seq:N`, or `time:T` with T
    /// in milliseconds since the epoch or RFC 3339 UTC.
    fn from_str(s: &str) -> Result<Self, IngestError> {
        let bad = || {
            IngestError::InvalidArgument(format!(
                "invalid position {s:?}: use trim-horizon, latest, seq:N, after-seq:N or time:T \
                 (T in ms since the epoch or RFC 3339 UTC)"
            ))
        };
        let seq = |n: &str| n.parse::<u64>().map_err(|_| bad());
        match s {
            "trim-horizon" | "TRIM_HORIZON" => Ok(Self::TrimHorizon),
            "latest" | "LATEST" => Ok(Self::Latest),
            _ => {
                if let Some(n) = s.strip_prefix("seq:") {
                    Ok(Self::AtSequence(seq(n)?))
                } else if let Some(n) = s.strip_prefix("after-seq:") {
                    Ok(Self::AfterSequence(seq(n)?))
                } else if let Some(t) = s.strip_prefix("time:") {
                    time::parse(t).map(Self::AtTimestamp).ok_or_else(bad)
                } else {
                    Err(bad())
                }
            }
        }
    }
}

/// A position in one shard: the next record a read returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardIterator {
    /// The stream.
    pub stream: String,
    /// The shard's id.
    pub shard: String,
    /// The sequence number the next read starts at.
    pub next_seq: u64,
}

/// What one read of a shard returned.
#[derive(Debug)]
pub struct GetRecords {
    /// The records, in order.
    pub records: Vec<Record>,
    /// Where to read next; `None` once a closed shard (split or merged) is
    /// drained: its children follow.
    pub next: Option<ShardIterator>,
    /// How far the read is behind the newest record, in milliseconds (0 when
    /// caught up).
    pub millis_behind_latest: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_parse() {
        use StartingPosition as P;
        assert_eq!("trim-horizon".parse::<P>().ok(), Some(P::TrimHorizon));
        assert_eq!("LATEST".parse::<P>().ok(), Some(P::Latest));
        assert_eq!("seq:7".parse::<P>().ok(), Some(P::AtSequence(7)));
        assert_eq!("after-seq:7".parse::<P>().ok(), Some(P::AfterSequence(7)));
        assert_eq!("time:1000".parse::<P>().ok(), Some(P::AtTimestamp(1000)));
        assert_eq!(
            "time:1970-01-01T00:00:01Z".parse::<P>().ok(),
            Some(P::AtTimestamp(1000))
        );
        for bad in ["", "seq:", "seq:-1", "time:soon", "middle"] {
            assert!(bad.parse::<P>().is_err(), "{bad}");
        }
    }
}
