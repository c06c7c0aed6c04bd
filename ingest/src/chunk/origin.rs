//! Where a record came from: a line of a file or stdin, a line of a TCP
//! connection, or a record of a stream. The chunker hands each row's origin
//! on with its batch, and each refused record's with its reason, so a
//! consumer can checkpoint by row and an error output can name the record.

use std::net::SocketAddr;

/// Where a record came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Its 1-based line (NDJSON) or record (CSV) number in a file or stdin.
    Line(u64),
    /// A line of a TCP connection.
    Tcp {
        /// The connection's peer.
        peer: SocketAddr,
        /// The 1-based line number within the connection.
        line: u64,
    },
    /// A record of a stream.
    Stream {
        /// Its shard.
        shard: String,
        /// Its sequence number.
        seq: u64,
    },
}
