//! The CBOR protocol (`Content-Type: application/x-amz-cbor-1.1`), which
//! the AWS SDK for Java speaks to Kinesis by default, beside JSON 1.1: a
//! CBOR request is read into the JSON shape the operations take
//! ([`request_json`]) and their JSON answer is written back as CBOR
//! ([`answer_cbor`]), so that every operation serves both with one body of
//! code.
//!
//! The two differ in blobs and timestamps, as the Java SDK has them: a blob
//! (`Data`) is a CBOR byte string where JSON has base64 text, and a
//! timestamp is CBOR tag 1 over whole milliseconds since the epoch (AWS's
//! use, not RFC 8949's seconds) where JSON has seconds as a number. Other
//! tags are read as the value they carry; a map key that is not text, a
//! number JSON cannot hold (NaN, infinities, integers past 64 bits), and
//! nesting deeper than [`MAX_DEPTH`] are refused. Every length is checked
//! against the bytes left before anything is taken, so a body claiming a
//! huge string or array costs nothing.

use serde_json::{Map, Number, Value};

use crate::codec::base64;

/// The content type of the CBOR protocol, asked and answered.
pub const CONTENT_TYPE: &str = "application/x-amz-cbor-1.1";

/// The deepest nesting of arrays, maps and tags read.
pub const MAX_DEPTH: usize = 64;

/// The answer fields that hold timestamps (seconds in JSON).
const TIMESTAMPS: [&str; 3] = [
    "ApproximateArrivalTimestamp",
    "StreamCreationTimestamp",
    "ConsumerCreationTimestamp",
];

/// The answer fields that hold blobs (base64 in JSON).
const BLOBS: [&str; 1] = ["Data"];

/// CBOR's major types.
const UINT: u8 = 0;
const NINT: u8 = 1;
const BYTES: u8 = 2;
const TEXT: u8 = 3;
const ARRAY: u8 = 4;
const MAP: u8 = 5;
const TAG: u8 = 6;
const SIMPLE: u8 = 7;

/// The "break" that ends an indefinite-length item.
const BREAK: u8 = 0xff;

/// Whether a request's `Content-Type` asks for CBOR.
pub fn wanted(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|t| {
        t.split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case(CONTENT_TYPE))
    })
}

/// A CBOR request body as the JSON bytes the operations read.
///
/// # Errors
/// Why the body is not one CBOR map of the shapes Kinesis takes.
pub fn request_json(body: &[u8]) -> Result<Vec<u8>, String> {
    if body.is_empty() {
        return Ok(b"{}".to_vec());
    }
    let mut reader = Reader { bytes: body, at: 0 };
    let value = reader.value(0)?;
    if reader.at != body.len() {
        return Err("bytes after the CBOR item".into());
    }
    if !value.is_object() {
        return Err("the body is not a CBOR map".into());
    }
    serde_json::to_vec(&value).map_err(|e| e.to_string())
}

/// What an item's head says: its major type, and its argument (`None`
/// for an indefinite length).
struct Head {
    major: u8,
    info: u8,
    arg: Option<u64>,
}

/// Reads CBOR items from bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: u64) -> Result<&'a [u8], String> {
        let left = self.bytes.len() - self.at;
        let n = usize::try_from(n)
            .ok()
            .filter(|n| *n <= left)
            .ok_or("malformed CBOR: an item runs past the end of the body")?;
        let taken = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(taken)
    }

    fn peek_break(&mut self) -> bool {
        let is_break = self.bytes.get(self.at) == Some(&BREAK);
        self.at += usize::from(is_break);
        is_break
    }

    fn head(&mut self) -> Result<Head, String> {
        let byte = self.take(1)?[0];
        let (major, info) = (byte >> 5, byte & 31);
        let arg = match info {
            0..=23 => Some(u64::from(info)),
            24..=27 => {
                let n = 1_u64 << (info - 24);
                let bytes = self.take(n)?;
                Some(bytes.iter().fold(0, |a, b| (a << 8) | u64::from(*b)))
            }
            31 if matches!(major, BYTES | TEXT | ARRAY | MAP | SIMPLE) => None,
            _ => return Err(format!("malformed CBOR: reserved additional info {info}")),
        };
        Ok(Head { major, info, arg })
    }

    /// A byte or text string's bytes, its chunks joined when it has them.
    fn string(&mut self, major: u8, arg: Option<u64>) -> Result<Vec<u8>, String> {
        if let Some(len) = arg {
            return Ok(self.take(len)?.to_vec());
        }
        let mut joined = Vec::new();
        while !self.peek_break() {
            let chunk = self.head()?;
            match (chunk.major, chunk.arg) {
                (m, Some(len)) if m == major => joined.extend_from_slice(self.take(len)?),
                _ => return Err("malformed CBOR: a bad chunk in a string".into()),
            }
        }
        Ok(joined)
    }

    /// The next item as JSON.
    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(format!("CBOR nested deeper than {MAX_DEPTH}"));
        }
        let Head { major, info, arg } = self.head()?;
        Ok(match (major, arg) {
            (UINT, Some(n)) => Value::from(n),
            (NINT, Some(n)) => i64::try_from(n)
                .map(|n| Value::from(-1 - n))
                .map_err(|_| format!("the number -1-{n} is too large"))?,
            (BYTES, _) => Value::String(base64::encode(&self.string(BYTES, arg)?)),
            (TEXT, _) => String::from_utf8(self.string(TEXT, arg)?)
                .map(Value::String)
                .map_err(|_| "a CBOR text string is not UTF-8".to_owned())?,
            (ARRAY, _) => {
                let mut items = Vec::new();
                let mut left = arg;
                while left.map_or(!self.peek_break(), |n| n > 0) {
                    items.push(self.value(depth + 1)?);
                    left = left.map(|n| n - 1);
                }
                Value::Array(items)
            }
            (MAP, _) => {
                let mut map = Map::new();
                let mut left = arg;
                while left.map_or(!self.peek_break(), |n| n > 0) {
                    let Value::String(key) = self.value(depth + 1)? else {
                        return Err("a CBOR map key is not text".into());
                    };
                    map.insert(key, self.value(depth + 1)?);
                    left = left.map(|n| n - 1);
                }
                Value::Object(map)
            }
            // A timestamp: milliseconds in, seconds for the operations.
            (TAG, Some(1)) => match self.value(depth + 1)? {
                Value::Number(ms) => number(ms.as_f64().unwrap_or(f64::NAN) / 1000.0)?,
                _ => return Err("a timestamp (tag 1) must be a number".into()),
            },
            (TAG, _) => self.value(depth + 1)?,
            (SIMPLE, _) => match (info, arg) {
                (20, _) => Value::Bool(false),
                (21, _) => Value::Bool(true),
                (22 | 23, _) => Value::Null,
                (25, Some(bits)) => number(half(u16::try_from(bits).unwrap_or(0)))?,
                (26, Some(bits)) => {
                    number(f64::from(f32::from_bits(u32::try_from(bits).unwrap_or(0))))?
                }
                (27, Some(bits)) => number(f64::from_bits(bits))?,
                _ => return Err(format!("an unexpected CBOR simple value {info}")),
            },
            _ => return Err("malformed CBOR".into()),
        })
    }
}

/// A JSON number, when `f` is one JSON holds.
fn number(f: f64) -> Result<Value, String> {
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| format!("the number {f} is not finite"))
}

/// A half-precision float's value.
fn half(bits: u16) -> f64 {
    let exponent = i32::from((bits >> 10) & 0x1f);
    let mantissa = f64::from(bits & 0x3ff);
    let magnitude = match exponent {
        0 => mantissa * 2f64.powi(-24),
        31 if mantissa == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        _ => (mantissa + 1024.0) * 2f64.powi(exponent - 25),
    };
    if bits & 0x8000 == 0 {
        magnitude
    } else {
        -magnitude
    }
}

/// Writes the JSON answer `json` (or error) into `out` as CBOR.
pub fn answer_cbor(json: &[u8], out: &mut Vec<u8>) {
    out.clear();
    match serde_json::from_slice::<Value>(json) {
        Ok(value) => write(out, &value, None),
        // Never met: the operations write JSON.
        Err(e) => write(
            out,
            &serde_json::json!({"__type": "InternalFailure", "message": e.to_string()}),
            None,
        ),
    }
}

/// Appends an item's head: its major type and argument, in the fewest bytes.
fn write_head(out: &mut Vec<u8>, major: u8, arg: u64) {
    let major = major << 5;
    match arg {
        0..=23 => out.push(major | u8::try_from(arg).unwrap_or(0)),
        24..=0xff => out.extend_from_slice(&[major | 24, u8::try_from(arg).unwrap_or(0)]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend_from_slice(&u16::try_from(arg).unwrap_or(0).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(major | 26);
            out.extend_from_slice(&u32::try_from(arg).unwrap_or(0).to_be_bytes());
        }
        _ => {
            out.push(major | 27);
            out.extend_from_slice(&arg.to_be_bytes());
        }
    }
}

/// Appends a whole number.
fn write_int(out: &mut Vec<u8>, n: i64) {
    match u64::try_from(n) {
        Ok(n) => write_head(out, UINT, n),
        Err(_) => write_head(out, NINT, (-1 - n).unsigned_abs()),
    }
}

/// Appends `value` (found under `key`) as CBOR.
fn write(out: &mut Vec<u8>, value: &Value, key: Option<&str>) {
    let is = |names: &[&str]| key.is_some_and(|k| names.contains(&k));
    match value {
        Value::Null => out.push(0xf6),
        Value::Bool(b) => out.push(if *b { 0xf5 } else { 0xf4 }),
        Value::String(text) => {
            let mut bytes = Vec::new();
            if is(&BLOBS) && base64::decode_into(&mut bytes, text.as_bytes()) {
                write_head(out, BYTES, bytes.len() as u64);
                out.extend_from_slice(&bytes);
            } else {
                write_head(out, TEXT, text.len() as u64);
                out.extend_from_slice(text.as_bytes());
            }
        }
        Value::Number(n) if is(&TIMESTAMPS) => {
            write_head(out, TAG, 1);
            #[expect(
                clippy::cast_possible_truncation,
                reason = "milliseconds since the epoch, rounded, fit an i64"
            )]
            write_int(out, (n.as_f64().unwrap_or(0.0) * 1000.0).round() as i64);
        }
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => write_head(out, UINT, u),
            (_, Some(i)) => write_int(out, i),
            _ => {
                out.push(0xfb);
                out.extend_from_slice(&n.as_f64().unwrap_or(0.0).to_bits().to_be_bytes());
            }
        },
        Value::Array(items) => {
            write_head(out, ARRAY, items.len() as u64);
            for item in items {
                write(out, item, key);
            }
        }
        Value::Object(map) => {
            write_head(out, MAP, map.len() as u64);
            for (k, v) in map {
                write_head(out, TEXT, k.len() as u64);
                out.extend_from_slice(k.as_bytes());
                write(out, v, Some(k));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    fn read(cbor: &str) -> Result<Value, String> {
        request_json(&hex(cbor)).map(|json| serde_json::from_slice(&json).unwrap())
    }

    #[test]
    fn requests_read_as_json_with_blobs_in_base64_and_timestamps_in_seconds() {
        // {"StreamName": "s", "Data": h'68 69 00', "Timestamp": 1(1764626575120),
        //  "Limit": 7, "N": -500, "F": 1.5 (half), "G": 0.25 (single), "T": true, "Z": null}
        let body = "a9\
            6a53747265616d4e616d656173\
            6444617461436869 00\
            6954696d657374616d70c11b0000019adbf0af10\
            654c696d697407\
            614e3901f3\
            6146f93e00\
            6147fa3e800000\
            6154f5\
            615af6"
            .replace(' ', "");
        assert_eq!(
            read(&body).unwrap(),
            json!({"StreamName": "s", "Data": "aGkA", "Timestamp": 1_764_626_575.12,
                   "Limit": 7, "N": -500, "F": 1.5, "G": 0.25, "T": true, "Z": null})
        );
        // Indefinite lengths: {_ "a": [_ 1, 2], "b": (_ h'01', h'02')}
        assert_eq!(
            read("bf61619f0102ff61625f41014102ffff").unwrap(),
            json!({"a": [1, 2], "b": "AQI="})
        );
        assert_eq!(request_json(b"").unwrap(), b"{}");
    }

    #[test]
    fn answers_write_blobs_as_bytes_and_timestamps_as_tag_1_milliseconds() {
        let mut out = Vec::new();
        answer_cbor(
            br#"{"Records":[{"Data":"aGkA","ApproximateArrivalTimestamp":1764626575.12,"SequenceNumber":"3"}],"MillisBehindLatest":0,"NextShardIterator":null,"F":-2.5,"N":-300}"#,
            &mut out,
        );
        // As cbor2 writes the same (keys in serde_json's order, sorted).
        let expected = "a56146fbc004000000000000724d696c6c6973426568696e644c617465737400\
            614e39012b714e65787453686172644974657261746f72f6675265636f72647381a3\
            781b417070726f78696d6174654172726976616c54696d657374616d70\
            c11b0000019adbf0af106444617461436869006e53657175656e63654e756d6265726133";
        assert_eq!(out, hex(&expected.replace(' ', "")));
        // And what a CBOR reader makes of it, read back through this one.
        let back: Value = serde_json::from_slice(&request_json(&out).unwrap()).unwrap();
        assert_eq!(back["Records"][0]["Data"], "aGkA");
        assert_eq!(
            back["Records"][0]["ApproximateArrivalTimestamp"],
            1_764_626_575.12
        );
        assert_eq!(back["N"], -300);
        assert_eq!(back["F"], -2.5);
    }

    #[test]
    fn other_bodies_are_refused_not_panicked_on() {
        for bad in [
            "ff",
            "01",
            "a10102",
            // A byte string that claims 2^62 bytes.
            "a161615b40000000000000007878",
            // An array that claims 2^62 items.
            "a161619b4000000000000000",
            "a16161fb7ff0000000000000",
            "a161613bffffffffffffffff",
            "a1616161",
            "a161615f01ff",
            "a1616162ffff",
            "a0a0",
            "1c",
        ] {
            assert!(read(bad).is_err(), "{bad}");
        }
        let deep = format!("a16161{}", "81".repeat(100)) + "00";
        assert!(read(&deep).unwrap_err().contains("deeper"));
        assert!(wanted(Some("application/x-amz-cbor-1.1")));
        assert!(wanted(Some("Application/X-Amz-Cbor-1.1; charset=x")));
        assert!(!wanted(Some("application/x-amz-json-1.1")) && !wanted(None));
    }
}
