//! Names of streams and consumers: they become folder and file names, so
//! they are held to Kinesis' rule for stream names (1 to 128 of
//! `a-z A-Z 0-9 _ . -`), and may not start with a dot.

use crate::error::{IngestError, Result};

/// Checks a stream or consumer name; `what` says which it is in the error.
///
/// # Errors
/// [`IngestError::InvalidArgument`] saying what is wrong.
pub fn check(what: &str, name: &str) -> Result<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    if name.is_empty() || name.len() > 128 {
        return Err(IngestError::InvalidArgument(format!(
            "invalid {what} name {name:?}: it must be 1 to 128 characters"
        )));
    }
    if !name.chars().all(ok_char) || name.starts_with('.') {
        return Err(IngestError::InvalidArgument(format!(
            "invalid {what} name {name:?}: use letters, digits, '_', '.' and '-', not starting with '.'"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check("stream", "sensors.eu-1_a").is_ok());
        for bad in ["", ".hidden", "a/b", "..", "x y", &"a".repeat(129)] {
            assert!(check("stream", bad).is_err(), "{bad}");
        }
        let e = check("consumer", "a/b").unwrap_err().to_string();
        assert!(e.starts_with("invalid consumer name \"a/b\""), "{e}");
    }
}
