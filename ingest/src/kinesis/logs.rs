//! Which log a Kinesis data call goes to. On one machine every stream is
//! the store's. On a cluster worker (`osprey serve --cluster`), a stream
//! the cluster holds has its records put to and read from JetStream, and
//! its shards described from there: PutRecord(s), GetShardIterator,
//! GetRecords, ListShards and DescribeStream(Summary) go through the
//! [`Log`] the cluster implements, so a record acknowledged is one
//! JetStream acknowledged. What a stream keeps besides its records (tags,
//! consumers, monitoring) stays in the store, where the worker made the
//! stream too.

use crate::log::Log;
use crate::store::Store;

use super::api::ApiError;

/// The store, and the cluster's log when the API serves a cluster worker.
#[derive(Clone, Copy)]
pub struct Logs<'a> {
    /// The store: every stream the cluster does not hold.
    pub(crate) store: &'a Store,
    /// The cluster's log, if any.
    pub(crate) cluster: Option<&'a dyn Log>,
}

impl std::fmt::Debug for Logs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logs")
            .field("cluster", &self.cluster.is_some())
            .finish_non_exhaustive()
    }
}

impl<'a> Logs<'a> {
    /// The store alone, or with `cluster` for the streams it holds.
    pub fn new(store: &'a Store, cluster: Option<&'a dyn Log>) -> Logs<'a> {
        Logs { store, cluster }
    }

    /// The log that holds `stream`: the cluster's when it holds it, else
    /// the store.
    ///
    /// # Errors
    /// The cluster cannot be reached (answered as `InternalFailure`, which
    /// clients retry: no record goes to the store instead).
    pub(crate) fn of(&self, stream: &str) -> Result<&'a dyn Log, ApiError> {
        if let Some(cluster) = self.cluster
            && cluster.has_stream(stream)?
        {
            return Ok(cluster);
        }
        Ok(self.store)
    }
}
