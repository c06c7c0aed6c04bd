//! The AWS event-stream framing SubscribeToShard answers in
//! (`application/vnd.amazon.eventstream`): each message is a prelude (its
//! total length, its headers' length, their CRC32), its headers (name,
//! type 7 for text, value), its payload and the CRC32 of all before it.

use bytes::Bytes;

/// A header's value type: a UTF-8 string.
const STRING: u8 = 7;

/// One message of `headers` (names and text values) and `payload`.
///
/// # Panics
/// Never for the headers osprey writes (names under 256 bytes, values
/// under 64 KiB) and payloads under 4 GiB.
pub fn message(headers: &[(&str, &str)], payload: &[u8]) -> Bytes {
    let mut head = Vec::new();
    for (name, value) in headers {
        head.push(u8::try_from(name.len()).expect("a header name under 256 bytes"));
        head.extend_from_slice(name.as_bytes());
        head.push(STRING);
        head.extend_from_slice(
            &u16::try_from(value.len())
                .expect("a header value under 64 KiB")
                .to_be_bytes(),
        );
        head.extend_from_slice(value.as_bytes());
    }
    let total = 12 + head.len() + payload.len() + 4;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&u32::try_from(total).expect("under 4 GiB").to_be_bytes());
    out.extend_from_slice(
        &u32::try_from(head.len())
            .expect("under 4 GiB")
            .to_be_bytes(),
    );
    let prelude_crc = crc32fast::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&head);
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    Bytes::from(out)
}

/// An event of type `event_type` with a payload of `content_type`.
pub fn event(event_type: &str, content_type: &str, payload: &[u8]) -> Bytes {
    message(
        &[
            (":message-type", "event"),
            (":event-type", event_type),
            (":content-type", content_type),
        ],
        payload,
    )
}

/// An exception named `name` (the stream ends after it).
pub fn exception(name: &str, content_type: &str, payload: &[u8]) -> Bytes {
    message(
        &[
            (":message-type", "exception"),
            (":exception-type", name),
            (":content-type", content_type),
        ],
        payload,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads one message back: its headers and payload, its CRCs checked.
    fn read(m: &[u8]) -> (Vec<(String, String)>, Vec<u8>) {
        let word = |at: usize| u32::from_be_bytes(m[at..at + 4].try_into().unwrap()) as usize;
        let (total, head_len) = (word(0), word(4));
        assert_eq!(total, m.len());
        assert_eq!(word(8) as u32, crc32fast::hash(&m[..8]));
        assert_eq!(word(total - 4) as u32, crc32fast::hash(&m[..total - 4]));
        let (mut at, mut headers) = (12, Vec::new());
        while at < 12 + head_len {
            let n = m[at] as usize;
            let name = String::from_utf8(m[at + 1..at + 1 + n].to_vec()).unwrap();
            at += 1 + n;
            assert_eq!(m[at], STRING);
            let len = u16::from_be_bytes([m[at + 1], m[at + 2]]) as usize;
            let value = String::from_utf8(m[at + 3..at + 3 + len].to_vec()).unwrap();
            at += 3 + len;
            headers.push((name, value));
        }
        (headers, m[12 + head_len..total - 4].to_vec())
    }

    #[test]
    fn messages_carry_their_lengths_headers_and_crcs() {
        let m = event("SubscribeToShardEvent", "application/json", b"{\"a\":1}");
        let (headers, payload) = read(&m);
        assert_eq!(
            headers[1],
            (":event-type".into(), "SubscribeToShardEvent".into())
        );
        assert_eq!(payload, b"{\"a\":1}");
        let (headers, payload) = read(&exception("ResourceNotFoundException", "x", b""));
        assert_eq!(headers[0].1, "exception");
        assert!(payload.is_empty());
        // The empty message: a prelude and a CRC only.
        assert_eq!(
            &message(&[], b"")[..],
            [0, 0, 0, 16, 0, 0, 0, 0, 5, 194, 72, 235, 125, 152, 200, 255]
        );
    }
}
