//! From input lines to records: NDJSON lines (each a record, its partition
//! key and id from fields or a constant) and CSV rows (each a JSON object by
//! the header). `osprey put` from files and stdin and the TCP listener both
//! go through [`LineCodec`], so a line means the same wherever it comes from.
//!
//! Records are UTF-8 text: a line or CSV value that is not is refused with
//! the byte where it stops being UTF-8, so nothing downstream ever writes
//! invalid JSON. What a CSV header and cell mean (names, null, booleans,
//! numbers that keep every digit) is [`csv_cell`]'s rule,
//! the one the chunker uses too, and [`CsvInput`] finds the quote that a
//! CSV input leaves open.

use std::fmt;
use std::io::{self, BufRead, Read};

use super::csv_cell;
use crate::store::PutRecord;
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
        if let Err(e) = std::str::from_utf8(line) {
            return Err(invalid_utf8(e.valid_up_to(), line_no));
        }
        let fields = [self.key_field.as_deref(), self.id_field.as_deref()];
        let mut de = serde_json::Deserializer::from_slice(line);
        let found = Fields(fields)
            .deserialize(&mut de)
            .and_then(|found| de.end().map(|()| found))
            .map_err(|e| format!("malformed JSON: {e}"))?;
        self.record(line.to_vec(), found, line_no)
    }

    /// The record of CSV row `row` (at line `line_no`) under `header` (the
    /// names [`csv_cell::header_names`] made of the first row), each cell
    /// typed by [`csv_cell::cell_value`]; a value that is not UTF-8 refuses
    /// the row.
    pub fn csv_row(
        &self,
        header: &[String],
        row: &csv::ByteRecord,
        line_no: u64,
    ) -> Result<PutRecord, String> {
        csv_cell::check_width(row.len(), header.len())?;
        // Written by hand to keep the header's column order.
        let mut data = Vec::with_capacity(row.as_slice().len() + 8 * row.len());
        data.push(b'{');
        let mut found = [None, None];
        for (i, (name, value)) in header.iter().zip(row.iter()).enumerate() {
            let value = std::str::from_utf8(value).map_err(|e| {
                format!(
                    "invalid UTF-8 in column {name:?} at byte {} of its value (line {line_no})",
                    e.valid_up_to() + 1
                )
            })?;
            for (slot, field) in found.iter_mut().zip([&self.key_field, &self.id_field]) {
                if field.as_deref() == Some(name.as_str()) {
                    *slot = Some(value.to_owned());
                }
            }
            if i > 0 {
                data.push(b',');
            }
            serde_json::to_writer(&mut data, name)
                .map_err(|e| format!("cannot encode row: {e}"))?;
            data.push(b':');
            serde_json::to_writer(&mut data, &csv_cell::cell_value(value))
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

/// Most bytes of one CSV record (its raw text) that [`CsvInput`] lets
/// through: four times the record limit, far more than any record that can
/// be stored, so memory stays bounded when a quote is never closed.
pub const MAX_CSV_RECORD_BYTES: usize = 4 * crate::store::MAX_DATA_BYTES;

/// Where a CSV parser is within a record, as `csv_core` sees it (double
/// quotes, `""` an escaped quote, a quote inside an unquoted value taken
/// literally).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CsvState {
    /// At the start of a value.
    StartField,
    /// Inside an unquoted value.
    InField,
    /// Inside a quoted value.
    InQuotes,
    /// Just after a quote inside a quoted value: its end, or half of `""`.
    QuoteInQuotes,
}

/// A CSV input that watches its own bytes go by, for what the CSV parser
/// does not say: a quote that is still open at the end of the input (the
/// parser then takes everything after it as one value, silently), and a
/// record so long that it can only be such a quote (an error, so memory
/// stays bounded).
#[derive(Debug)]
pub struct CsvInput<R> {
    inner: R,
    state: CsvState,
    /// Bytes read so far.
    bytes: u64,
    /// Lines begun so far (1 at the start).
    line: u64,
    /// The line where the quoted value now open began.
    quote_line: u64,
    /// Bytes of the record now being read.
    record_bytes: usize,
    /// Whether the end of the input has been read.
    eof: bool,
}

impl<R: Read> CsvInput<R> {
    /// Watches `inner`.
    pub fn new(inner: R) -> Self {
        CsvInput {
            inner,
            state: CsvState::StartField,
            bytes: 0,
            line: 1,
            quote_line: 0,
            record_bytes: 0,
            eof: false,
        }
    }

    /// The line where a quoted value opened that the input never closed,
    /// once `consumed` (the parser's byte position) is the whole input: the
    /// record just parsed is then that value's, with the rest of the input
    /// swallowed into it.
    pub fn open_quote(&self, consumed: u64) -> Option<u64> {
        (self.eof && consumed == self.bytes && self.state == CsvState::InQuotes)
            .then_some(self.quote_line)
    }

    fn watch(&mut self, data: &[u8]) -> io::Result<()> {
        for &b in data {
            let end = matches!(b, b'\n' | b'\r');
            self.state = match (self.state, b) {
                (CsvState::StartField, b'"') => {
                    self.quote_line = self.line;
                    CsvState::InQuotes
                }
                (CsvState::InQuotes, b'"') => CsvState::QuoteInQuotes,
                (CsvState::InQuotes, _) => CsvState::InQuotes,
                (CsvState::QuoteInQuotes, b'"') => CsvState::InQuotes,
                (_, b',') => CsvState::StartField,
                (_, _) if end => {
                    self.record_bytes = 0;
                    CsvState::StartField
                }
                _ => CsvState::InField,
            };
            if b == b'\n' {
                self.line += 1;
            }
            self.record_bytes += 1;
            if self.record_bytes > MAX_CSV_RECORD_BYTES {
                let why = if self.state == CsvState::InQuotes {
                    format!(
                        "the quoted value that opens at line {} is still open after {} MiB: an unterminated quote",
                        self.quote_line,
                        MAX_CSV_RECORD_BYTES >> 20
                    )
                } else {
                    format!(
                        "a CSV record longer than {} MiB at line {}",
                        MAX_CSV_RECORD_BYTES >> 20,
                        self.line
                    )
                };
                return Err(io::Error::new(io::ErrorKind::InvalidData, why));
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for CsvInput<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.eof = true;
        }
        self.watch(&buf[..n])?;
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Why a line is refused that is not UTF-8 from byte `valid_up_to` (0-based).
fn invalid_utf8(valid_up_to: usize, line_no: u64) -> String {
    format!(
        "invalid UTF-8 at byte {} of line {line_no}",
        valid_up_to + 1
    )
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
        let header = csv_cell::header_names(["dev", " temp ", "note"]);
        let c = codec(Some("dev"), None);
        let r = c
            .csv_row(
                &header,
                &csv::ByteRecord::from(vec!["d1", "21.5", "x,y"]),
                2,
            )
            .unwrap();
        assert_eq!(r.partition_key, "d1");
        assert_eq!(r.data, br#"{"dev":"d1","temp":21.5,"note":"x,y"}"#);
        let r = c
            .csv_row(&header, &csv::ByteRecord::from(vec!["d1", "7", "inf"]), 2)
            .unwrap();
        assert_eq!(r.data, br#"{"dev":"d1","temp":7,"note":"inf"}"#);
        let e = c
            .csv_row(&header, &csv::ByteRecord::from(vec!["d1"]), 3)
            .unwrap_err();
        assert_eq!(e, "1 fields where the header has 3");
        let r = c
            .csv_row(&header, &csv::ByteRecord::from(vec!["d1", "007", ""]), 4)
            .unwrap();
        assert_eq!(r.data, br#"{"dev":"d1","temp":"007","note":null}"#);
    }

    #[test]
    fn text_that_is_not_utf8_is_refused() {
        let c = codec(None, Some("k"));
        let e = c.ndjson(b"{\"a\":\"\xff\"}", 9).unwrap_err();
        assert_eq!(e, "invalid UTF-8 at byte 7 of line 9");
        // A sequence cut short at the end of the line.
        let e = c.ndjson(b"\"\xe2\x82", 1).unwrap_err();
        assert_eq!(e, "invalid UTF-8 at byte 2 of line 1");
        assert!(c.ndjson("{\"a\":\"\u{20ac}\"}".as_bytes(), 1).is_ok());
        let header = csv_cell::header_names(["dev", "city"]);
        let row = csv::ByteRecord::from(vec![&b"d1"[..], &b"M\xfcnchen"[..]]);
        let e = c.csv_row(&header, &row, 4).unwrap_err();
        assert_eq!(
            e,
            "invalid UTF-8 in column \"city\" at byte 2 of its value (line 4)"
        );
    }

    /// The whole input through [`CsvInput`] in reads of `step` bytes; the
    /// line of a quote left open at the end, or the error.
    fn open_quote(input: &[u8], step: usize) -> Result<Option<u64>, String> {
        let mut r = CsvInput::new(input);
        let mut buf = vec![0; step];
        loop {
            match r.read(&mut buf) {
                Ok(0) => return Ok(r.open_quote(input.len() as u64)),
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    #[test]
    fn csv_quotes_left_open() {
        for step in [1, 3, 4096] {
            assert_eq!(open_quote(b"a,b\n1,\"x\n", step), Ok(Some(2)));
            assert_eq!(open_quote(b"a,b\n1,\"x\"\"\n2,3\n", step), Ok(Some(2)));
            assert_eq!(open_quote(b"a\n\"x\ny\"\n\"z\n", step), Ok(Some(4)));
            assert_eq!(open_quote(b"a,b\n1,\"x\"\"y\"\n", step), Ok(None));
            assert_eq!(open_quote(b"a,b\n1,5\" tv\n", step), Ok(None));
            assert_eq!(open_quote(b"a,b\r\n1,\"x\ny\"", step), Ok(None));
            assert_eq!(open_quote(b"", step), Ok(None));
        }
        // Not at the end of the input yet: nothing to say.
        let r = CsvInput::new(&b"\"open"[..]);
        assert_eq!(r.open_quote(0), None);
        let mut long = b"a\n\"".to_vec();
        long.resize(MAX_CSV_RECORD_BYTES + 10, b'x');
        let e = open_quote(&long, 1 << 16).unwrap_err();
        assert!(
            e.contains("opens at line 2 is still open after 4 MiB"),
            "{e}"
        );
        let mut long = b"a\n".to_vec();
        long.resize(MAX_CSV_RECORD_BYTES + 10, b'x');
        let e = open_quote(&long, 1 << 16).unwrap_err();
        assert_eq!(e, "a CSV record longer than 4 MiB at line 2");
        // Many records of any total length are fine.
        let many = b"x,y\n".repeat(MAX_CSV_RECORD_BYTES / 2);
        assert_eq!(open_quote(&many, 1 << 16), Ok(None));
    }
}
