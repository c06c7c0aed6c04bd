//! A stored record as one NDJSON line, as `osprey read` prints it:
//!
//! ```json
//! {"shard":"shardId-000000000000","seq":0,"partition_key":"d1","timestamp":"2026-12-01T17:43:30.250Z","timestamp_ms":1796147010250,"data":{"t":21.5}}
//! ```
//!
//! `data` is the record's JSON as it was put; data that is not JSON is
//! written as a JSON string when it is UTF-8 and as `data_base64` otherwise.
//! Data that is not UTF-8 is never JSON here, even when its bytes look like
//! JSON (a string holding a byte 0xff, put through the Kinesis API), so
//! every line written is valid JSON.
//! `explicit_hash_key` and `id` appear when the record has them.

use crate::store::Record;
use crate::store::time::format_ms;
use serde::de::IgnoredAny;

/// Appends the line of `record` from shard `shard`, newline included, to `out`.
pub fn write_record(out: &mut Vec<u8>, shard: &str, record: &Record) {
    out.extend_from_slice(b"{\"shard\":");
    push_json(out, shard);
    out.extend_from_slice(format!(",\"seq\":{},\"partition_key\":", record.seq).as_bytes());
    push_json(out, &record.partition_key);
    out.extend_from_slice(
        format!(
            ",\"timestamp\":\"{}\",\"timestamp_ms\":{}",
            format_ms(record.timestamp_ms),
            record.timestamp_ms
        )
        .as_bytes(),
    );
    if let Some(key) = record.explicit_hash_key {
        out.extend_from_slice(format!(",\"explicit_hash_key\":\"{key}\"").as_bytes());
    }
    if let Some(id) = &record.id {
        out.extend_from_slice(b",\"id\":");
        push_json(out, id);
    }
    // serde_json checks UTF-8 only where it builds strings, not in values
    // it skips: check the whole text first.
    let text = std::str::from_utf8(&record.data).ok();
    let is_json = text.is_some() && serde_json::from_slice::<IgnoredAny>(&record.data).is_ok();
    if is_json {
        // Pretty JSON from another producer is made one line again: a line
        // feed in JSON text can only be whitespace between tokens, never
        // inside a string, so it becomes a space and nothing else changes.
        let data = trim(&record.data);
        out.extend_from_slice(b",\"data\":");
        if data.contains(&b'\n') {
            out.extend(data.iter().map(|&b| if b == b'\n' { b' ' } else { b }));
        } else {
            out.extend_from_slice(data);
        }
    } else if let Some(text) = text {
        out.extend_from_slice(b",\"data\":");
        push_json(out, text);
    } else {
        out.extend_from_slice(b",\"data_base64\":\"");
        super::base64::encode_into(out, &record.data);
        out.push(b'"');
    }
    out.extend_from_slice(b"}\n");
}

fn trim(data: &[u8]) -> &[u8] {
    let start = data
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(data.len());
    let end = data
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &data[start..end]
}

fn push_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Strings and values already in memory always serialise.
    let _ = serde_json::to_writer(&mut *out, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(data: &[u8]) -> serde_json::Value {
        let r = Record {
            seq: 3,
            timestamp_ms: 0,
            partition_key: "k\"1".into(),
            explicit_hash_key: Some(5),
            id: Some("i".into()),
            data: data.to_vec(),
        };
        let mut out = Vec::new();
        write_record(&mut out, "shardId-000000000000", &r);
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn shapes() {
        let v = line(b" {\"a\":1} ");
        assert_eq!(v["data"]["a"], 1);
        assert_eq!(v["seq"], 3);
        assert_eq!(v["partition_key"], "k\"1");
        assert_eq!(v["timestamp"], "1970-01-01T00:00:00.000Z");
        assert_eq!(v["explicit_hash_key"], "5");
        assert_eq!(line(b"{\n\"a\": 2\n}")["data"]["a"], 2);
        // Made one line without being rendered again: 1.50 stays 1.50.
        let mut out = Vec::new();
        let r = Record {
            seq: 0,
            timestamp_ms: 0,
            partition_key: "k".into(),
            explicit_hash_key: None,
            id: None,
            data: b"{\r\n \"a\": 1.50\r\n}\n".to_vec(),
        };
        write_record(&mut out, "s", &r);
        assert!(
            out.ends_with(b",\"data\":{\r  \"a\": 1.50\r }}\n"),
            "{out:?}"
        );
        assert_eq!(line(b"plain text")["data"], "plain text");
        assert_eq!(line(&[0xff, 0, 1])["data_base64"], "/wAB");
        assert_eq!(line(b"ab")["data"], "ab");
        // JSON in shape, but not UTF-8: base64, and the line stays JSON.
        let v = line(b"{\"a\":\"\xff\"}");
        assert_eq!(v["data_base64"], "eyJhIjoi/yJ9");
        assert!(v.get("data").is_none());
    }
}
