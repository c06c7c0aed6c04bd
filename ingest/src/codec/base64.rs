//! Standard base64 (RFC 4648, with padding), both ways: `osprey read` writes
//! data that is not text with it, and the Kinesis API carries every record's
//! data in it.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The two characters of each 12-bit value, so that six bytes become eight
/// characters in four look-ups.
const PAIRS: [[u8; 2]; 4096] = {
    let mut t = [[0; 2]; 4096];
    let mut i = 0;
    while i < 4096 {
        t[i] = [ALPHABET[i >> 6], ALPHABET[i & 63]];
        i += 1;
    }
    t
};

/// Appends the base64 of `data` to `out`.
///
/// The text is written in place, six bytes to eight characters at a time
/// (two characters a look-up), then the last one to five bytes in groups of
/// three, the last one padded; the GetRecords path encodes each record's
/// data straight into its answer with it.
pub fn encode_into(out: &mut Vec<u8>, data: &[u8]) {
    let start = out.len();
    out.resize(start + data.len().div_ceil(3) * 4, 0);
    let (body, tail) = out[start..].split_at_mut(data.len() / 6 * 8);
    let sixes = data.chunks_exact(6);
    let rest = sixes.remainder();
    for (six, eight) in sixes.zip(body.chunks_exact_mut(8)) {
        let mut be = [0u8; 8];
        be[2..].copy_from_slice(six);
        let n = u64::from_be_bytes(be);
        for (i, pair) in eight.chunks_exact_mut(2).enumerate() {
            pair.copy_from_slice(&PAIRS[((n >> (36 - 12 * i)) & 0xfff) as usize]);
        }
    }
    for (chunk, four) in rest.chunks(3).zip(tail.chunks_exact_mut(4)) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for (i, c) in four.iter_mut().enumerate() {
            *c = if i <= chunk.len() {
                ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]
            } else {
                b'='
            };
        }
    }
}

/// The base64 of `data`.
pub fn encode(data: &[u8]) -> String {
    let mut out = Vec::with_capacity(data.len().div_ceil(3) * 4);
    encode_into(&mut out, data);
    String::from_utf8(out).expect("base64 is ASCII")
}

/// What each byte stands for in base64; [`INVALID`] for bytes outside the
/// alphabet (`=` included: padding is handled apart).
const TABLE: [u8; 256] = {
    let mut t = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        t[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// [`TABLE`]'s mark for a byte that is not base64 (any value of 64 or more).
const INVALID: u8 = 0xff;

/// The bytes `text` encodes; `None` when it is not base64.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    decode_into(&mut out, text.as_bytes()).then_some(out)
}

/// Appends the bytes `text` encodes to `out`; false, with `out` as it was,
/// when `text` is not base64.
///
/// Every group of four characters becomes three bytes written in place, so
/// the PutRecords path decodes a record's data straight into its buffer.
pub fn decode_into(out: &mut Vec<u8>, text: &[u8]) -> bool {
    if !text.len().is_multiple_of(4) {
        return false;
    }
    let start = out.len();
    let Some(last) = text.len().checked_sub(4) else {
        return true; // empty
    };
    let (full, tail) = text.split_at(last);
    let pad = tail.iter().rev().take_while(|&&c| c == b'=').count();
    if pad > 2 {
        return false;
    }
    out.resize(start + full.len() / 4 * 3 + 3 - pad, 0);
    let (body, end) = out[start..].split_at_mut(full.len() / 4 * 3);
    // Values OR-ed together: any invalid byte leaves bit 6 or 7 set (what it
    // shifts into the output does not matter then).
    let mut seen = 0u8;
    let mut bits = |text: &[u8]| {
        text.iter().fold(0u64, |n, &c| {
            let v = TABLE[usize::from(c)];
            seen |= v;
            (n << 6) | u64::from(v)
        })
    };
    // Eight characters to six bytes at a time (a third faster than four to
    // three), then an odd group of four, then the padded last one.
    let eights = full.chunks_exact(8);
    let odd = eights.remainder();
    let mut sixes = body.chunks_exact_mut(6);
    for (text, six) in eights.zip(&mut sixes) {
        six.copy_from_slice(&bits(text).to_be_bytes()[2..]);
    }
    sixes
        .into_remainder()
        .copy_from_slice(&bits(odd).to_be_bytes()[8 - odd.len() / 4 * 3..]);
    let last = bits(&tail[..4 - pad]) << (6 * pad);
    end.copy_from_slice(&last.to_be_bytes()[5..8 - pad]);
    if seen >= 64 {
        out.truncate(start);
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The encoder as it was before [`encode_into`] went six bytes at a
    /// time: three bytes to four characters, one character at a time.
    fn encode_plain(out: &mut Vec<u8>, data: &[u8]) {
        for chunk in data.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]);
                } else {
                    out.push(b'=');
                }
            }
        }
    }

    #[test]
    fn encoding_matches_the_plain_encoder_on_random_input_of_every_length() {
        // xorshift64*: seeded, no dependency.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut byte = || {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        };
        for n in 0..300 {
            for round in 0..4 {
                let data: Vec<u8> = (0..n).map(|_| byte()).collect();
                // Appending after what is there, as an answer does.
                let prefix = &b"{\"Data\":\""[..round];
                let (mut fast, mut plain) = (prefix.to_vec(), prefix.to_vec());
                encode_into(&mut fast, &data);
                encode_plain(&mut plain, &data);
                assert_eq!(fast, plain, "{n} bytes, round {round}");
                let mut back = Vec::new();
                assert!(decode_into(&mut back, &fast[round..]), "{n} bytes");
                assert_eq!(back, data, "{n} bytes, round {round}");
            }
        }
        let (mut fast, mut plain) = (Vec::new(), Vec::new());
        let all: Vec<u8> = (0..=255).rev().collect();
        encode_into(&mut fast, &all);
        encode_plain(&mut plain, &all);
        assert_eq!(fast, plain);
    }

    #[test]
    fn round_trips() {
        for data in [&b""[..], b"h", b"he", b"hel", b"hello", &[0xff, 0, 1]] {
            assert_eq!(decode(&encode(data)).as_deref(), Some(data));
        }
        assert_eq!(encode(b"hello"), "aGVsbG8=");
        assert_eq!(encode(&[0xff, 0, 1]), "/wAB");
        for bad in [
            "a",
            "a===",
            "====",
            "aGVsbG8",
            "aG=sbG8=",
            "a*cd",
            "aG=b",
            "aGVs\u{e9}G8=",
        ] {
            assert_eq!(decode(bad), None, "{bad}");
        }
        // Appending keeps what was there, and a refusal leaves it as it was.
        let mut out = b"ab".to_vec();
        assert!(decode_into(&mut out, b"aGVsbG8="));
        assert!(!decode_into(&mut out, b"aGVs*G8="));
        assert_eq!(out, b"abhello");
        // Every length from 0 to 255 bytes, all byte values among them.
        let all: Vec<u8> = (0..=255).collect();
        for n in 0..all.len() {
            let data = &all[all.len() - n..];
            assert_eq!(decode(&encode(data)).as_deref(), Some(data), "{n} bytes");
        }
    }
}
