//! The names of the metrics osprey-ingest records through the [`metrics`]
//! facade, in one place, each with what it measures.
//!
//! The library only records; the binary installs a recorder (the server's
//! Prometheus exporter) and, with [`describe`], their help texts. Without
//! a recorder every call is a no-op. The store counts once a call (a put,
//! a read), never once a record; the only label is the stream's name.

/// Counter, `{broker}`: messages a broker output dropped because the
/// broker stayed away past its queue's bound.
pub const BROKER_MESSAGES_DROPPED: &str = "osprey_broker_messages_dropped_total";

/// Counter, `{stream}`: records appended by puts (acknowledged once
/// durable).
pub const STORE_RECORDS_PUT: &str = "osprey_store_records_put_total";

/// Counter, `{stream}`: bytes (data and partition keys) of the records
/// appended by puts.
pub const STORE_BYTES_PUT: &str = "osprey_store_bytes_put_total";

/// Counter, `{stream}`: records read (`GetRecords`, stream readers).
pub const STORE_RECORDS_READ: &str = "osprey_store_records_read_total";

/// Counter, `{stream}`: data bytes of the records read.
pub const STORE_BYTES_READ: &str = "osprey_store_bytes_read_total";

/// Histogram: seconds an fsync of a shard's segment takes (group commits
/// and segment seals).
pub const STORE_FSYNC_SECONDS: &str = "osprey_store_fsync_seconds";

/// Counter, `{stream}`: put calls refused whole because too many bytes
/// were in flight (retryable).
pub const STORE_PUT_REFUSED: &str = "osprey_store_put_refused_total";

/// Counter, `{route,status}`: HTTP requests answered (the route is the
/// router's matched path, or `other`).
pub const HTTP_REQUESTS: &str = "osprey_http_requests_total";

/// Histogram, `{route}`: seconds from a request's arrival at the router to
/// its answer.
pub const HTTP_REQUEST_SECONDS: &str = "osprey_http_request_duration_seconds";

/// Counter, `{stream}`: video fragments appended (acknowledged once
/// durable).
pub const VIDEO_FRAGMENTS: &str = "osprey_video_fragments_total";

/// Counter, `{stream}`: bytes of media in the video fragments appended.
pub const VIDEO_BYTES: &str = "osprey_video_bytes_total";

/// Counter, `{stream}`: video fragments removed by retention.
pub const VIDEO_FRAGMENTS_EXPIRED: &str = "osprey_video_fragments_expired_total";

/// Histogram: seconds a video fragment's append takes (written, synced,
/// renamed, its folder synced).
pub const VIDEO_APPEND_SECONDS: &str = "osprey_video_append_seconds";

/// Registers the help text of every metric above with the installed
/// recorder (call once, after installing it).
pub fn describe() {
    use ::metrics::{Unit, describe_counter, describe_histogram};
    describe_counter!(
        BROKER_MESSAGES_DROPPED,
        Unit::Count,
        "Messages a broker output dropped: the broker stayed away past the queue's bound."
    );
    describe_counter!(
        STORE_RECORDS_PUT,
        Unit::Count,
        "Records appended to the store by puts."
    );
    describe_counter!(
        STORE_BYTES_PUT,
        Unit::Bytes,
        "Bytes of the records appended by puts."
    );
    describe_counter!(
        STORE_RECORDS_READ,
        Unit::Count,
        "Records read from the store."
    );
    describe_counter!(
        STORE_BYTES_READ,
        Unit::Bytes,
        "Data bytes of the records read from the store."
    );
    describe_histogram!(
        STORE_FSYNC_SECONDS,
        Unit::Seconds,
        "Seconds an fsync of a shard's segment takes."
    );
    describe_counter!(
        STORE_PUT_REFUSED,
        Unit::Count,
        "Puts refused whole because too many bytes were in flight."
    );
    describe_counter!(
        HTTP_REQUESTS,
        Unit::Count,
        "HTTP requests answered, by route and status."
    );
    describe_histogram!(
        HTTP_REQUEST_SECONDS,
        Unit::Seconds,
        "Seconds from a request's arrival to its answer, by route."
    );
    describe_counter!(
        VIDEO_FRAGMENTS,
        Unit::Count,
        "Video fragments appended to the store."
    );
    describe_counter!(
        VIDEO_BYTES,
        Unit::Bytes,
        "Bytes of media in the video fragments appended."
    );
    describe_counter!(
        VIDEO_FRAGMENTS_EXPIRED,
        Unit::Count,
        "Video fragments removed by retention."
    );
    describe_histogram!(
        VIDEO_APPEND_SECONDS,
        Unit::Seconds,
        "Seconds a video fragment's append takes, until durable."
    );
}
