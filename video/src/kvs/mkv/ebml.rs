//! EBML's variable-length integers: element ids and sizes, read from a
//! buffer that may end early, and written.

/// The size that says "unknown" (all value bits set), as an 8-byte vint.
pub(crate) const UNKNOWN_SIZE: u64 = u64::MAX;

/// What reading a vint found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Vint {
    /// Its value (the marker bit kept for ids, dropped for sizes; an
    /// all-ones size as [`UNKNOWN_SIZE`]) and its length in bytes.
    Value(u64, usize),
    /// The buffer ends inside it.
    Short,
    /// Not a vint (a zero first byte).
    Invalid,
}

fn read(buf: &[u8], keep_marker: bool) -> Vint {
    let Some(&first) = buf.first() else {
        return Vint::Short;
    };
    if first == 0 {
        return Vint::Invalid;
    }
    let len = first.leading_zeros() as usize + 1;
    let Some(bytes) = buf.get(..len) else {
        return Vint::Short;
    };
    let marker = 0x80u8 >> (len - 1);
    let first_bits = if keep_marker { first } else { first & !marker };
    let mut value = u64::from(first_bits);
    let mut all_ones = first_bits == marker - 1;
    for &b in &bytes[1..] {
        value = (value << 8) | u64::from(b);
        all_ones &= b == 0xFF;
    }
    if !keep_marker && all_ones {
        return Vint::Value(UNKNOWN_SIZE, len);
    }
    Vint::Value(value, len)
}

/// Reads an element id (marker bit kept, as ids are written).
pub(crate) fn read_id(buf: &[u8]) -> Vint {
    match read(buf, true) {
        Vint::Value(_, len) if len > 4 => Vint::Invalid,
        other => other,
    }
}

/// Reads an element size.
pub(crate) fn read_size(buf: &[u8]) -> Vint {
    read(buf, false)
}

/// Writes an element id.
pub(crate) fn write_id(out: &mut Vec<u8>, id: u32) {
    let bytes = id.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count().min(3);
    out.extend_from_slice(&bytes[skip..]);
}

/// Writes an element size in 8 bytes ([`UNKNOWN_SIZE`] as "unknown").
pub(crate) fn write_size(out: &mut Vec<u8>, size: u64) {
    if size == UNKNOWN_SIZE {
        out.extend_from_slice(&[0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        return;
    }
    let mut bytes = size.to_be_bytes();
    bytes[0] = 0x01;
    out.extend_from_slice(&bytes);
}

/// Reads a big-endian unsigned integer element's body (at most 8 bytes).
pub(crate) fn uint(body: &[u8]) -> Option<u64> {
    (body.len() <= 8).then(|| body.iter().fold(0u64, |v, &b| (v << 8) | u64::from(b)))
}

/// Writes an element with `body`.
pub(crate) fn element(out: &mut Vec<u8>, id: u32, body: &[u8]) {
    write_id(out, id);
    write_size(out, body.len() as u64);
    out.extend_from_slice(body);
}

/// Writes an unsigned integer element (8 bytes).
pub(crate) fn uint_element(out: &mut Vec<u8>, id: u32, value: u64) {
    element(out, id, &value.to_be_bytes());
}

/// Writes a master element whose children `fill` writes.
pub(crate) fn master(out: &mut Vec<u8>, id: u32, fill: impl FnOnce(&mut Vec<u8>)) {
    let mut body = Vec::new();
    fill(&mut body);
    element(out, id, &body);
}
