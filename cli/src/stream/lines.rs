//! From input lines to records: NDJSON lines (each a record, its partition
//! key and id from fields or a constant) and CSV rows (each a JSON object by
//! the header). `osprey put` from files and stdin and the TCP listener both
//! go through [`LineCodec`], so a line means the same wherever it comes from.

use std::fmt;
use std::io::{self, BufRead};

use osprey_ingest::store::PutRecord;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

/// How lines become records.
#[derive(Debug, Clone)]
pub struct LineCodec {
    /// Field holding the partition key, when keys come from records.
    pub key_field: Option<String>,
    /// The partition key of every record, when constant.
    pub key: Option<String>,
    /// Field holding the record id.
    pub id_field: Option<String>,
}

impl LineCodec {
    /// The record that NDJSON line `line` (number `line_no`) stands for, or
    /// why there is none.
    pub fn ndjson(&self, line: &[u8], line_no: u64) -> Result<PutRecord, String> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let fields = [self.key_field.as_deref(), self.id_field.as_deref()];
        let mut de = serde_json::Deserializer::from_slice(line);
        let found = Fields(fields)
            .deserialize(&mut de)
            .and_then(|found| de.end().map(|()| found))
            .map_err(|e| format!("malformed JSON: {e}"))?;
        self.record(line.to_vec(), found, line_no)
    }

    /// The record of CSV row `row` (at line `line_no`) under `header`.
    pub fn csv_row(
        &self,
        header: &csv::StringRecord,
        row: &csv::StringRecord,
        line_no: u64,
    ) -> Result<PutRecord, String> {
        if row.len() != header.len() {
            return Err(format!(
                "{} columns where the header has {}",
                row.len(),
                header.len()
            ));
        }
        // Written by hand to keep the header's column order.
        let mut data = Vec::with_capacity(row.as_slice().len() + 8 * row.len());
        data.push(b'{');
        let mut found = [None, None];
        for (i, (name, value)) in header.iter().zip(row.iter()).enumerate() {
            for (slot, field) in found.iter_mut().zip([&self.key_field, &self.id_field]) {
                if field.as_deref() == Some(name) {
                    *slot = Some(value.to_owned());
                }
            }
            if i > 0 {
                data.push(b',');
            }
            serde_json::to_writer(&mut data, name)
                .map_err(|e| format!("cannot encode row: {e}"))?;
            data.push(b':');
            serde_json::to_writer(&mut data, &csv_value(value))
                .map_err(|e| format!("cannot encode row: {e}"))?;
        }
        data.push(b'}');
        self.record(data, found, line_no)
    }

    fn record(
        &self,
        data: Vec<u8>,
        [key, id]: [Option<String>; 2],
        line_no: u64,
    ) -> Result<PutRecord, String> {
        let partition_key = match (&self.key_field, &self.key) {
            (Some(field), _) => {
                key.ok_or_else(|| format!("no field {field:?} for the partition key"))?
            }
            (None, Some(k)) => k.clone(),
            (None, None) => line_no.to_string(),
        };
        let id = match &self.id_field {
            Some(field) => Some(id.ok_or_else(|| format!("no field {field:?} for the record id"))?),
            None => None,
        };
        let record = PutRecord {
            partition_key,
            data,
            explicit_hash_key: None,
            id,
        };
        record.validate().map_err(|e| e.to_string())?;
        Ok(record)
    }
}

/// What [`read_line`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// A line (without its newline) is in the buffer.
    Data,
    /// A line of this many bytes, longer than allowed: skipped, not kept.
    TooLong(usize),
    /// The end of the input.
    Eof,
}

/// Reads one line into `buf`, keeping at most `max` bytes of it in memory:
/// a longer line is read to its end and dropped, so a peer cannot make
/// osprey buffer without bound.
pub fn read_line(r: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<Line> {
    buf.clear();
    let mut total = 0;
    let mut too_long = false;
    loop {
        let avail = match r.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(match (total, too_long) {
                (0, _) => Line::Eof,
                (n, true) => Line::TooLong(n),
                _ => Line::Data,
            });
        }
        let newline = avail.iter().position(|&b| b == b'\n');
        let chunk = &avail[..newline.unwrap_or(avail.len())];
        total += chunk.len();
        if !too_long {
            if buf.len() + chunk.len() > max {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        let used = chunk.len() + usize::from(newline.is_some());
        r.consume(used);
        if newline.is_some() {
            return Ok(if too_long {
                Line::TooLong(total)
            } else {
                Line::Data
            });
        }
    }
}

/// A CSV cell as JSON: integers and finite decimals as numbers, the rest as text.
fn csv_value(cell: &str) -> serde_json::Value {
    if let Ok(i) = cell.parse::<i64>() {
        return i.into();
    }
    let numeric = !cell.is_empty()
        && cell
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b));
    match cell.parse::<f64>() {
        Ok(f) if numeric && f.is_finite() => {
            serde_json::Number::from_f64(f).map_or_else(|| cell.into(), Into::into)
        }
        _ => cell.into(),
    }
}

/// Validates a JSON value and picks the (up to two) named top-level fields
/// out of it as text, without building the value.
struct Fields<'f>([Option<&'f str>; 2]);

impl<'de> DeserializeSeed<'de> for Fields<'_> {
    type Value = [Option<String>; 2];

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        if self.0.iter().all(Option::is_none) {
            <IgnoredAny as serde::Deserialize>::deserialize(d)?;
            return Ok([None, None]);
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Fields<'_> {
    type Value = [Option<String>; 2];

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = [None, None];
        while let Some(which) = map.next_key_seed(WhichField(self.0))? {
            match which {
                Some(i) => found[i] = map.next_value::<KeyText>()?.0,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(found)
    }
}

/// Which of the wanted fields a key is.
struct WhichField<'f>([Option<&'f str>; 2]);

impl<'de> DeserializeSeed<'de> for WhichField<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for WhichField<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().position(|f| *f == Some(v)))
    }
}

/// A field's value as text: strings as they are, numbers and booleans
/// written out; `None` for null, arrays and objects.
struct KeyText(Option<String>);

impl<'de> serde::Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KeyTextVisitor)
    }
}

struct KeyTextVisitor;

impl<'de> Visitor<'de> for KeyTextVisitor {
    type Value = KeyText;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or number")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<KeyText, E> {
        Ok(KeyText(Some(v.to_owned())))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<KeyText, E> {
        Ok(KeyText(Some(v.to_string())))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<KeyText, E> {
        Ok(KeyText(Some(v.to_string())))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<KeyText, E> {
        Ok(KeyText(Some(v.to_string())))
    }
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<KeyText, E> {
        Ok(KeyText(Some(v.to_string())))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<KeyText, E> {
        Ok(KeyText(None))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<KeyText, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(KeyText(None))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<KeyText, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(KeyText(None))
    }
}

#[cfg(test)]
#[expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the first surprise"
)]
mod tests {
    use super::*;

    fn codec(field: Option<&str>, key: Option<&str>) -> LineCodec {
        LineCodec {
            key_field: field.map(str::to_owned),
            key: key.map(str::to_owned),
            id_field: None,
        }
    }

    #[test]
    fn ndjson_keys() {
        let c = codec(Some("dev"), None);
        let r = c
            .ndjson(br#"{"t":1,"dev":"a\"b","x":{"dev":"inner"}}"#, 1)
            .unwrap();
        assert_eq!(r.partition_key, "a\"b");
        assert_eq!(c.ndjson(br#"{"dev":17}"#, 1).unwrap().partition_key, "17");
        let e = c.ndjson(br#"{"other":1}"#, 1).unwrap_err();
        assert_eq!(e, "no field \"dev\" for the partition key");
        assert!(c.ndjson(br#"{"dev":null}"#, 1).is_err());
        assert!(c.ndjson(b"[1,2]", 1).is_err());
        let e = c.ndjson(br#"{"dev":"a""#, 1).unwrap_err();
        assert!(e.starts_with("malformed JSON: "), "{e}");
        assert!(c.ndjson(br#"{"dev":"a"} trailing"#, 1).is_err());
        let c = codec(None, Some("k"));
        assert_eq!(c.ndjson(b"[1,2]\r", 3).unwrap().data, b"[1,2]");
        assert_eq!(
            codec(None, None).ndjson(b"{}", 42).unwrap().partition_key,
            "42"
        );
        let mut c = codec(None, None);
        c.id_field = Some("id".into());
        assert_eq!(
            c.ndjson(br#"{"id":"r1"}"#, 1).unwrap().id.as_deref(),
            Some("r1")
        );
        assert!(c.ndjson(br#"{"x":1}"#, 1).is_err());
    }

    #[test]
    fn bounded_lines() {
        let mut input: &[u8] = b"one\r\n\nthree-long\nfour";
        let mut buf = Vec::new();
        let mut got = Vec::new();
        loop {
            match read_line(&mut input, &mut buf, 5).unwrap() {
                Line::Eof => break,
                l => got.push((l, String::from_utf8_lossy(&buf).into_owned())),
            }
        }
        assert_eq!(
            got,
            [
                (Line::Data, "one\r".to_owned()),
                (Line::Data, String::new()),
                (Line::TooLong(10), String::new()),
                (Line::Data, "four".to_owned()),
            ]
        );
    }

    #[test]
    fn csv_rows() {
        let header = csv::StringRecord::from(vec!["dev", "temp", "note"]);
        let c = codec(Some("dev"), None);
        let r = c
            .csv_row(
                &header,
                &csv::StringRecord::from(vec!["d1", "21.5", "x,y"]),
                2,
            )
            .unwrap();
        assert_eq!(r.partition_key, "d1");
        assert_eq!(r.data, br#"{"dev":"d1","temp":21.5,"note":"x,y"}"#);
        let r = c
            .csv_row(&header, &csv::StringRecord::from(vec!["d1", "7", "inf"]), 2)
            .unwrap();
        assert_eq!(r.data, br#"{"dev":"d1","temp":7,"note":"inf"}"#);
        let e = c
            .csv_row(&header, &csv::StringRecord::from(vec!["d1"]), 3)
            .unwrap_err();
        assert_eq!(e, "1 columns where the header has 3");
    }
}
