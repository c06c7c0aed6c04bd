//! What the Kinesis API keeps of a stream besides the store's shard map:
//! its tags, its registered consumers and its enhanced-monitoring metrics,
//! in `kinesis.json` in the stream's folder: replaced atomically on every
//! change (a crash keeps the old or the new), gone with the stream. A
//! stream without the file (made by `osprey stream create`) has none.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::IngestError;
use crate::store::Store;
use crate::store::fsutil::write_atomic;

/// The file, in the stream's folder.
pub const FILE: &str = "kinesis.json";

/// A stream's tags, consumers and metrics.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamAttrs {
    /// Tag keys and their values.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Registered consumers, in registration order.
    #[serde(default)]
    pub consumers: Vec<Consumer>,
    /// The shard-level metrics enabled (`IncomingBytes`, ...).
    #[serde(default)]
    pub shard_level_metrics: BTreeSet<String>,
}

/// A registered (enhanced fan-out) consumer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consumer {
    /// Its name, unique in the stream.
    pub name: String,
    /// When it was registered, in milliseconds since the epoch.
    pub created_ms: i64,
}

/// Serializes changes, so that two calls changing one stream's file do not
/// lose either's change.
static CHANGES: Mutex<()> = Mutex::new(());

/// The attributes of stream `stream`, none when it has no file.
///
/// # Errors
/// [`IngestError::NoSuchStream`], or the file cannot be read.
pub fn load(store: &Store, stream: &str) -> Result<StreamAttrs, IngestError> {
    store.stream_meta(stream)?;
    let path = store.stream_dir(stream).join(FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| IngestError::Corrupt {
            path,
            reason: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(StreamAttrs::default()),
        Err(source) => Err(IngestError::Storage {
            action: "cannot read",
            path,
            source,
        }),
    }
}

/// Changes the attributes of stream `stream` with `change` and saves them
/// (not when `change` fails); returns what `change` did.
///
/// # Errors
/// [`load`]'s, `change`'s, or the file cannot be written.
pub fn change<T, E: From<IngestError>>(
    store: &Store,
    stream: &str,
    change: impl FnOnce(&mut StreamAttrs) -> Result<T, E>,
) -> Result<T, E> {
    let _one_at_a_time = CHANGES.lock().unwrap_or_else(PoisonError::into_inner);
    let mut attrs = load(store, stream)?;
    let done = change(&mut attrs)?;
    let bytes = serde_json::to_vec_pretty(&attrs).map_err(IngestError::Encode)?;
    write_atomic(&store.stream_dir(stream).join(FILE), &bytes)?;
    Ok(done)
}
