//! The `Nats-Msg-Id` of a record line, for JetStream's de-duplication (the
//! rules are in [`super`]'s documentation).

use std::borrow::Cow;
use std::fmt::Write as _;

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The fields of a record line an id is made of; the others are skipped.
#[derive(Deserialize)]
struct Keys<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    shard: Option<Cow<'a, str>>,
    seq: Option<u64>,
    #[serde(borrow)]
    source: Option<Cow<'a, str>>,
    #[serde(borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "type")]
    kind_type: Option<Cow<'a, str>>,
    frame: Option<u64>,
}

/// The `Nats-Msg-Id` of record line `line` (without its newline).
pub fn msg_id(line: &[u8]) -> String {
    let digest = Sha256::digest(line);
    let mut hash = String::with_capacity(16);
    for byte in &digest[..8] {
        let _ = write!(hash, "{byte:02x}");
    }
    let keys = serde_json::from_slice::<Keys<'_>>(line).ok();
    let id = match keys {
        Some(Keys { id: Some(id), .. }) if !id.is_empty() => id.into_owned(),
        Some(Keys {
            shard: Some(shard),
            seq: Some(seq),
            ..
        }) => format!("{shard}/{seq}/{hash}"),
        Some(Keys {
            source: Some(source),
            kind: Some(kind),
            kind_type,
            frame,
            ..
        }) => {
            let mut id = format!("{source}/{kind}");
            if let Some(kind_type) = kind_type {
                id.push('/');
                id.push_str(&kind_type);
            }
            if let Some(frame) = frame {
                let _ = write!(id, "/{frame}");
            }
            id.push('/');
            id.push_str(&hash);
            id
        }
        _ => hash,
    };
    // A header value holds no line breaks or other control characters.
    id.chars()
        .map(|c| if c.is_control() { '_' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_name_the_record() {
        let stored =
            br#"{"shard":"shardId-000000000001","seq":42,"partition_key":"k","data":{"t":1}}"#;
        let id = msg_id(stored);
        assert!(id.starts_with("shardId-000000000001/42/"), "{id}");
        assert_eq!(id.len(), "shardId-000000000001/42/".len() + 16);
        assert_eq!(msg_id(stored), id, "the same line, the same id");

        let event = br#"{"kind":"event","source":"cam1","type":"scene_cut","frame":30,"pts":1.2}"#;
        assert!(msg_id(event).starts_with("cam1/event/scene_cut/30/"));
        let frame = br#"{"kind":"frame","source":"cam1","frame":30,"pts":1.2}"#;
        assert!(msg_id(frame).starts_with("cam1/frame/30/"));

        assert_eq!(msg_id(br#"{"id":"order-7","data":1}"#), "order-7");
        assert_eq!(msg_id(br#"{"id":"a\nb"}"#), "a_b");

        let other = msg_id(br#"{"t":21.5}"#);
        assert_eq!(other.len(), 16);
        assert_ne!(other, msg_id(br#"{"t":21.6}"#));
        assert_eq!(msg_id(b"not json").len(), 16);
        // A field of another type than expected: the hash alone.
        assert_eq!(msg_id(br#"{"id":7,"seq":"x"}"#).len(), 16);
    }
}
