//! What a CSV header and a CSV cell mean: the one interpretation of CSV in
//! osprey. `osprey put` turns each row into a JSON record with it
//! ([`LineCodec::csv_row`](super::lines::LineCodec::csv_row)) and the
//! chunker types the rows of `osprey aggregate file.csv` with it
//! ([`Chunker::push_cells_from`](crate::chunk::Chunker::push_cells_from)),
//! so a file aggregated directly and the stream put from it give the same
//! values.
//!
//! The rule is exact: a cell becomes a number only when the number keeps
//! every digit it was written with. A code such as `007` or `-01` (a
//! leading zero a number would drop), an integer outside 64 bits, or a
//! decimal with more digits than a 64-bit float holds stays text, as
//! written, rather than turning into `7` or a rounded value. That is what
//! DuckDB's CSV reader does with leading zeros, and what a user whose ZIP
//! codes, account numbers or part codes sit in a CSV expects: a value is
//! never silently changed.
//!
//! - A header name is trimmed; an empty one is `column{i}` (0-based), and
//!   a repeated one gets `_1`, `_2`... (DuckDB names them the same way).
//! - An empty cell is null.
//! - `true` / `false` in any case are booleans.
//! - A number (spaces and tabs around it allowed) is an integer when it has
//!   neither `.` nor an exponent and fits in an i64, and a float when a
//!   64-bit float holds every significant digit (`1e3`, `21.50`, `.5`).
//! - Anything else (`nan`, `inf`, `0x10`, ` x `, a cell of spaces) is text,
//!   exactly as written.

use serde_json::Value;

/// The column names of a CSV header, made usable as field names: trimmed,
/// an empty name `column{i}` (its 0-based position), a repeated name
/// suffixed `_1`, `_2`... until it is unique.
pub fn header_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, name) in names.into_iter().enumerate() {
        let name = name.trim_matches(SPACE);
        let base = if name.is_empty() {
            format!("column{i}")
        } else {
            name.to_owned()
        };
        let mut unique = base.clone();
        let mut n = 0;
        while out.contains(&unique) {
            n += 1;
            unique = format!("{base}_{n}");
        }
        out.push(unique);
    }
    out
}

/// Why a row of `cells` values does not fit a header of `columns` names,
/// when it does not.
///
/// # Errors
/// The message for the bad-record output.
pub fn check_width(cells: usize, columns: usize) -> Result<(), String> {
    if cells == columns {
        Ok(())
    } else {
        Err(format!("{cells} fields where the header has {columns}"))
    }
}

/// Blanks allowed around a number or a boolean (and trimmed from header names).
const SPACE: [char; 2] = [' ', '\t'];

/// The value of one CSV cell; see the module docs for the rule.
pub fn cell_value(cell: &str) -> Value {
    if cell.is_empty() {
        return Value::Null;
    }
    let t = cell.trim_matches(SPACE);
    if t.eq_ignore_ascii_case("true") {
        return Value::Bool(true);
    }
    if t.eq_ignore_ascii_case("false") {
        return Value::Bool(false);
    }
    number(t).unwrap_or_else(|| cell.into())
}

/// `t` as a JSON number that keeps every digit of it, when there is one.
fn number(t: &str) -> Option<Value> {
    let numeric = !t.is_empty()
        && t.bytes().any(|b| b.is_ascii_digit())
        && t.bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b));
    if !numeric || has_leading_zero(t) {
        return None;
    }
    if !t.contains(['.', 'e', 'E']) {
        // An integer: exact in an i64, or not a number osprey can hold.
        return t.parse::<i64>().ok().map(Value::from);
    }
    let f = t.parse::<f64>().ok().filter(|f| f.is_finite())?;
    if decimal_digits(t)? != decimal_digits(&format!("{f:e}"))? {
        return None;
    }
    serde_json::Number::from_f64(f).map(Value::Number)
}

/// True when the integer part of a number has a leading zero (`007`,
/// `-01.5`), which a JSON number would drop.
fn has_leading_zero(t: &str) -> bool {
    let unsigned = t.trim_start_matches(['+', '-']);
    let int_part = unsigned.split(['.', 'e', 'E']).next().unwrap_or_default();
    int_part.len() > 1 && int_part.starts_with('0')
}

/// A decimal number's value as (negative, significant digits, exponent of
/// the last digit), the same for every way of writing the same value
/// (`1.50`, `15e-1`); `None` when `text` is not such a number.
fn decimal_digits(text: &str) -> Option<(bool, String, i64)> {
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exp) = match rest.find(['e', 'E']) {
        Some(at) => (&rest[..at], rest[at + 1..].parse::<i64>().ok()?),
        None => (rest, 0),
    };
    let (int_part, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if !int_part
        .bytes()
        .chain(frac.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let digits = format!("{int_part}{frac}");
    let mut exp = exp.checked_sub(i64::try_from(frac.len()).ok()?)?;
    let trimmed = digits.trim_start_matches('0');
    let significant = trimmed.trim_end_matches('0');
    if significant.is_empty() {
        return Some((false, String::new(), 0));
    }
    exp = exp.checked_add(i64::try_from(trimmed.len() - significant.len()).ok()?)?;
    Some((negative, significant.to_owned(), exp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_keep_every_digit() {
        let json = |cell: &str| cell_value(cell).to_string();
        for (cell, want) in [
            ("7", "7"),
            ("-7", "-7"),
            ("+7", "7"),
            ("0", "0"),
            ("-0", "0"),
            (" 12 ", "12"),
            ("\t7", "7"),
            ("007", "\"007\""),
            ("-01", "\"-01\""),
            ("00.5", "\"00.5\""),
            ("0.5", "0.5"),
            (".5", "0.5"),
            ("5.", "5.0"),
            ("21.50", "21.5"),
            ("1e3", "1000.0"),
            ("1E3", "1000.0"),
            ("1e-3", "0.001"),
            ("0.30000000000000004", "0.30000000000000004"),
            ("9007199254740993", "9007199254740993"),
            ("9223372036854775807", "9223372036854775807"),
            ("-9223372036854775808", "-9223372036854775808"),
            ("9223372036854775808", "\"9223372036854775808\""),
            ("18446744073709551615", "\"18446744073709551615\""),
            ("12345678901234567890123", "\"12345678901234567890123\""),
            ("3.14159265358979323846264", "\"3.14159265358979323846264\""),
            ("1e400", "\"1e400\""),
            ("1e-400", "\"1e-400\""),
            ("inf", "\"inf\""),
            ("NaN", "\"NaN\""),
            ("0x10", "\"0x10\""),
            ("1_000", "\"1_000\""),
            ("1-2", "\"1-2\""),
            ("-", "\"-\""),
            ("e", "\"e\""),
            ("", "null"),
            ("  ", "\"  \""),
            (" x ", "\" x \""),
            ("true", "true"),
            ("FALSE", "false"),
            (" True ", "true"),
            ("t", "\"t\""),
            ("yes", "\"yes\""),
            ("null", "\"null\""),
        ] {
            assert_eq!(json(cell), want, "{cell:?}");
        }
    }

    #[test]
    fn header_names_are_usable() {
        assert_eq!(
            header_names([" ts ", "a", "", "a", "a_1", "a", "\t"]),
            ["ts", "a", "column2", "a_1", "a_1_1", "a_2", "column6"]
        );
        assert!(header_names([]).is_empty());
    }

    #[test]
    fn widths() {
        assert_eq!(check_width(3, 3), Ok(()));
        assert_eq!(
            check_width(1, 3),
            Err("1 fields where the header has 3".to_owned())
        );
    }
}
