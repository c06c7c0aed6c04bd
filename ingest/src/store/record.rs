//! Records: what a producer puts ([`PutRecord`]), what a consumer reads
//! ([`Record`]), the limits Kinesis sets on them, and how a record's hash key
//! is found (the MD5 of its partition key as a 128-bit number, unless it
//! carries an explicit one).

use md5::{Digest as _, Md5};

use crate::error::{IngestError, Result};

/// The most data one record may carry: 1 MiB, as in Kinesis.
pub const MAX_DATA_BYTES: usize = 1 << 20;

/// The longest partition key, in characters.
pub const MAX_PARTITION_KEY_CHARS: usize = 256;

/// The longest record id, in characters.
pub const MAX_ID_CHARS: usize = 256;

/// A record as a producer hands it to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutRecord {
    /// Picks the shard (through its MD5) unless `explicit_hash_key` is set;
    /// 1 to 256 characters.
    pub partition_key: String,
    /// The payload, at most [`MAX_DATA_BYTES`].
    pub data: Vec<u8>,
    /// A hash key that picks the shard instead of the partition key's MD5.
    pub explicit_hash_key: Option<u128>,
    /// An id a producer gives so that consumers can drop duplicates of a
    /// retried record.
    pub id: Option<String>,
}

impl PutRecord {
    /// A record with a partition key and data, and no options.
    pub fn new(partition_key: impl Into<String>, data: impl Into<Vec<u8>>) -> PutRecord {
        PutRecord {
            partition_key: partition_key.into(),
            data: data.into(),
            explicit_hash_key: None,
            id: None,
        }
    }

    /// Checks the record against the limits.
    ///
    /// # Errors
    /// [`IngestError::InvalidRecord`] naming the limit it breaks.
    pub fn validate(&self) -> Result<()> {
        let chars = self.partition_key.chars().count();
        if chars == 0 {
            return Err(IngestError::InvalidRecord("empty partition key".into()));
        }
        if chars > MAX_PARTITION_KEY_CHARS {
            return Err(IngestError::InvalidRecord(format!(
                "partition key of {chars} characters, more than {MAX_PARTITION_KEY_CHARS}"
            )));
        }
        if self.data.len() > MAX_DATA_BYTES {
            return Err(too_large(self.data.len()));
        }
        if let Some(id) = &self.id {
            let chars = id.chars().count();
            if chars == 0 || chars > MAX_ID_CHARS {
                return Err(IngestError::InvalidRecord(format!(
                    "record id of {chars} characters, not 1 to {MAX_ID_CHARS}"
                )));
            }
        }
        Ok(())
    }

    /// The hash key that picks this record's shard.
    pub fn hash_key(&self) -> u128 {
        self.explicit_hash_key
            .unwrap_or_else(|| hash_key_of(&self.partition_key))
    }

    /// Bytes the record takes in memory and on disk, roughly.
    pub fn size(&self) -> usize {
        self.data.len() + self.partition_key.len() + self.id.as_ref().map_or(0, String::len) + 48
    }
}

/// The error for a record of `bytes` bytes of data, over [`MAX_DATA_BYTES`]
/// (also for sources that find it out before building the record).
pub fn too_large(bytes: usize) -> IngestError {
    IngestError::InvalidRecord(format!(
        "record of {bytes} bytes, more than the limit of {MAX_DATA_BYTES} (1 MiB)"
    ))
}

/// The MD5 of a partition key as a big-endian 128-bit number, as Kinesis maps
/// partition keys to hash keys.
pub fn hash_key_of(partition_key: &str) -> u128 {
    u128::from_be_bytes(Md5::digest(partition_key.as_bytes()).into())
}

/// A stored record, as a consumer reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its sequence number, unique and growing within its shard.
    pub seq: u64,
    /// When the store took it, in milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// The partition key it was put with.
    pub partition_key: String,
    /// The explicit hash key it was put with, if any.
    pub explicit_hash_key: Option<u128>,
    /// The record id it was put with, if any.
    pub id: Option<String>,
    /// The payload.
    pub data: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_hash_keys_match_kinesis() {
        // md5("") = d41d8cd98f00b204e9800998ecf8427e, md5("a") = 0cc175b9c0f1b6a831c399e269772661
        assert_eq!(hash_key_of(""), 0xd41d8cd98f00b204e9800998ecf8427e);
        assert_eq!(hash_key_of("a"), 0x0cc175b9c0f1b6a831c399e269772661);
        let mut r = PutRecord::new("a", b"x".to_vec());
        assert_eq!(r.hash_key(), 0x0cc175b9c0f1b6a831c399e269772661);
        r.explicit_hash_key = Some(5);
        assert_eq!(r.hash_key(), 5);
    }

    #[test]
    fn limits_are_enforced() {
        assert!(
            PutRecord::new("k", vec![0; MAX_DATA_BYTES])
                .validate()
                .is_ok()
        );
        let err = PutRecord::new("k", vec![0; MAX_DATA_BYTES + 1])
            .validate()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid record: record of 1048577 bytes, more than the limit of 1048576 (1 MiB)"
        );
        assert!(PutRecord::new("", b"x".to_vec()).validate().is_err());
        assert!(
            PutRecord::new("é".repeat(256), b"x".to_vec())
                .validate()
                .is_ok()
        );
        assert!(
            PutRecord::new("é".repeat(257), b"x".to_vec())
                .validate()
                .is_err()
        );
        let mut r = PutRecord::new("k", b"x".to_vec());
        r.id = Some(String::new());
        assert!(r.validate().is_err());
    }
}
