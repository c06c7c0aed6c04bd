//! The on-disk frame of one record in a segment file.
//!
//! A frame is a 16-byte header and a body:
//!
//! ```text
//! [magic "OSP\xf5"][body length: u32 LE][crc32 of the body: u32 LE][crc32 of the 12 bytes before: u32 LE][body]
//! ```
//!
//! The body holds the sequence number, the arrival time, the partition key,
//! the optional explicit hash key and record id, and the data.
//!
//! Why a magic and a header checksum: damage in the middle of a segment (a
//! bad sector, a stray write) must cost only the records it covers, not
//! everything after it. After a frame that fails its checks, a reader finds
//! the next frame again by looking for the magic and accepting a candidate
//! only when its header checksum and then its body checksum hold, so a
//! false sync point needs two 32-bit checksums to match by chance. The header
//! checksum also keeps a damaged length from sending a reader megabytes
//! ahead. A footer or a per-segment index alone would not do: the active
//! segment has neither until it is sealed, and an index can be damaged too.
//!
//! Segments written before this format ("v1": `[length][crc32][body]`, no
//! magic) are still read ([`peek_v1`]); they are never appended to.

use super::record::{PutRecord, Record};

/// The four bytes every frame starts with. Its last byte is not zero, so a
/// v1 frame (whose first four bytes are a length below 2^24) never starts
/// with it.
pub(super) const MAGIC: [u8; 4] = *b"OSP\xf5";

/// Bytes before the body: magic, length, body checksum, header checksum.
pub(super) const HEADER: usize = 16;

/// Bytes before the body of a v1 frame: its length and its checksum.
pub(super) const HEADER_V1: usize = 8;

/// The largest body a valid frame can have (1 MiB of data plus the keys, with
/// room to spare); a length above it is garbage, not a record.
pub(super) const MAX_BODY: usize = 2 << 20;

/// The smallest body: sequence number, time, flags.
const MIN_BODY: usize = 17;

const HAS_HASH_KEY: u8 = 1;
const HAS_ID: u8 = 2;

/// Appends the frame of `record`, stored as sequence number `seq` at
/// `timestamp_ms`, to `out`.
pub(super) fn encode(out: &mut Vec<u8>, seq: u64, timestamp_ms: i64, record: &PutRecord) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&timestamp_ms.to_le_bytes());
    let mut flags = 0;
    if record.explicit_hash_key.is_some() {
        flags |= HAS_HASH_KEY;
    }
    if record.id.is_some() {
        flags |= HAS_ID;
    }
    out.push(flags);
    put_str(out, &record.partition_key);
    if let Some(key) = record.explicit_hash_key {
        out.extend_from_slice(&key.to_be_bytes());
    }
    if let Some(id) = &record.id {
        put_str(out, id);
    }
    out.extend_from_slice(&record.data);
    let body = &out[start + HEADER..];
    let len = u32::try_from(body.len()).expect("a validated record is far below 4 GiB");
    let crc = crc32fast::hash(body);
    let header = &mut out[start..start + HEADER];
    header[0..4].copy_from_slice(&MAGIC);
    header[4..8].copy_from_slice(&len.to_le_bytes());
    header[8..12].copy_from_slice(&crc.to_le_bytes());
    let header_crc = crc32fast::hash(&header[0..12]);
    header[12..16].copy_from_slice(&header_crc.to_le_bytes());
}

/// Strings are at most 1 KiB (256 characters of UTF-8), so a u16 length holds them.
fn put_str(out: &mut Vec<u8>, s: &str) {
    let len = u16::try_from(s.len()).expect("keys and ids are validated to 256 characters");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// What the bytes at a position hold.
#[derive(Debug)]
pub(super) enum Decoded {
    /// A whole, valid frame of `len` bytes.
    Frame {
        /// The frame's length, header included.
        len: usize,
        /// The sequence number, read without decoding the rest.
        seq: u64,
        /// The arrival time in milliseconds since the Unix epoch.
        timestamp_ms: i64,
    },
    /// Fewer bytes than the frame needs: the end of the log, or a torn tail.
    Short {
        /// Bytes the whole frame would take, when the header could be read.
        need: Option<usize>,
    },
    /// Bytes that are no frame (a bad magic, length or checksum).
    Invalid,
}

fn u32_at(buf: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(buf[at..at + 4].try_into().expect("4 bytes"))
}

/// Looks at the frame at the start of `buf`, checking its checksums.
pub(super) fn peek(buf: &[u8]) -> Decoded {
    if buf.len() < HEADER {
        // A prefix that cannot start a frame is garbage even when short.
        let n = buf.len().min(4);
        if buf[..n] != MAGIC[..n] {
            return Decoded::Invalid;
        }
        return Decoded::Short { need: None };
    }
    if buf[0..4] != MAGIC || crc32fast::hash(&buf[0..12]) != u32_at(buf, 12) {
        return Decoded::Invalid;
    }
    let len = u32_at(buf, 4) as usize;
    if !(MIN_BODY..=MAX_BODY).contains(&len) {
        return Decoded::Invalid;
    }
    body_at(buf, HEADER, len, u32_at(buf, 8))
}

/// Looks at a v1 frame (no magic, no header checksum) at the start of `buf`.
pub(super) fn peek_v1(buf: &[u8]) -> Decoded {
    if buf.len() < HEADER_V1 {
        return Decoded::Short { need: None };
    }
    let len = u32_at(buf, 0) as usize;
    if !(MIN_BODY..=MAX_BODY).contains(&len) {
        return Decoded::Invalid;
    }
    body_at(buf, HEADER_V1, len, u32_at(buf, 4))
}

fn body_at(buf: &[u8], header: usize, len: usize, crc: u32) -> Decoded {
    let total = header + len;
    if buf.len() < total {
        return Decoded::Short { need: Some(total) };
    }
    let body = &buf[header..total];
    if crc32fast::hash(body) != crc {
        return Decoded::Invalid;
    }
    Decoded::Frame {
        len: total,
        seq: u64::from_le_bytes(body[0..8].try_into().expect("8 bytes")),
        timestamp_ms: i64::from_le_bytes(body[8..16].try_into().expect("8 bytes")),
    }
}

/// Decodes a whole frame that [`peek`] (or, with `v1`, [`peek_v1`]) found
/// valid; `None` when its body is malformed despite a good checksum (a bug,
/// or a file from elsewhere).
pub(super) fn decode(frame: &[u8], v1: bool) -> Option<Record> {
    let body = frame.get(if v1 { HEADER_V1 } else { HEADER }..)?;
    let seq = u64::from_le_bytes(body.get(0..8)?.try_into().ok()?);
    let timestamp_ms = i64::from_le_bytes(body.get(8..16)?.try_into().ok()?);
    let flags = *body.get(16)?;
    let mut rest = body.get(17..)?;
    let partition_key = take_str(&mut rest)?;
    let explicit_hash_key = if flags & HAS_HASH_KEY != 0 {
        let key = u128::from_be_bytes(rest.get(..16)?.try_into().ok()?);
        rest = &rest[16..];
        Some(key)
    } else {
        None
    };
    let id = if flags & HAS_ID != 0 {
        Some(take_str(&mut rest)?)
    } else {
        None
    };
    Some(Record {
        seq,
        timestamp_ms,
        partition_key,
        explicit_hash_key,
        id,
        data: rest.to_vec(),
    })
}

fn take_str(rest: &mut &[u8]) -> Option<String> {
    let len = u16::from_le_bytes(rest.get(..2)?.try_into().ok()?) as usize;
    let s = std::str::from_utf8(rest.get(2..2 + len)?).ok()?.to_owned();
    *rest = &rest[2 + len..];
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(data: &[u8]) -> PutRecord {
        PutRecord {
            partition_key: "käse".into(),
            data: data.to_vec(),
            explicit_hash_key: Some(u128::MAX - 3),
            id: Some("id-1".into()),
        }
    }

    #[test]
    fn round_trip_with_and_without_options() {
        let mut buf = Vec::new();
        encode(&mut buf, 7, 1_700_000_000_123, &record(b"{\"a\":1}"));
        let plain = PutRecord::new("k", Vec::new());
        encode(&mut buf, 8, -5, &plain);
        let Decoded::Frame {
            len,
            seq,
            timestamp_ms,
        } = peek(&buf)
        else {
            panic!("not a frame")
        };
        assert_eq!((seq, timestamp_ms), (7, 1_700_000_000_123));
        let r = decode(&buf[..len], false).unwrap();
        assert_eq!(r.partition_key, "käse");
        assert_eq!(r.explicit_hash_key, Some(u128::MAX - 3));
        assert_eq!(r.id.as_deref(), Some("id-1"));
        assert_eq!(r.data, b"{\"a\":1}");
        let r2 = decode(&buf[len..], false).unwrap();
        assert_eq!(
            (r2.seq, r2.timestamp_ms, r2.id, r2.data.len()),
            (8, -5, None, 0)
        );
    }

    #[test]
    fn torn_and_garbled_frames_are_told_apart() {
        let mut buf = Vec::new();
        encode(&mut buf, 1, 2, &record(b"hello"));
        for cut in 1..buf.len() {
            assert!(
                matches!(peek(&buf[..cut]), Decoded::Short { .. }),
                "cut at {cut}"
            );
        }
        let last = buf.len() - 1;
        buf[last] ^= 0xff;
        assert!(matches!(peek(&buf), Decoded::Invalid));
        buf[last] ^= 0xff;
        // A damaged length is caught by the header checksum.
        buf[5] ^= 0x01;
        assert!(matches!(peek(&buf), Decoded::Invalid));
        assert!(matches!(peek(&[0xff; 16]), Decoded::Invalid));
        assert!(matches!(peek(&[0; 16]), Decoded::Invalid));
    }
}
