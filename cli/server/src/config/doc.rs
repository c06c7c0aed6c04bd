//! Where in the file: the spans the TOML parser keeps, turned into
//! `FILE:LINE: message` errors ([`ConfigError`]).

use std::ops::Range;
use std::path::Path;

use toml::Spanned;
use toml::de::DeValue;

use super::ConfigError;

/// The file being read: its name and text, to turn spans into lines.
pub(super) struct Doc<'a> {
    /// The file as the user named it.
    pub(super) file: &'a Path,
    /// Its text.
    pub(super) text: &'a str,
}

impl Doc<'_> {
    /// The line (from 1) where `span` starts.
    pub(super) fn line(&self, span: &Range<usize>) -> usize {
        let before = self.text.get(..span.start).unwrap_or(self.text);
        before.matches('\n').count() + 1
    }

    /// An error at `span` (the whole file when none).
    pub(super) fn at(
        &self,
        span: Option<&Range<usize>>,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError {
            file: self.file.to_owned(),
            line: span.map(|s| self.line(s)),
            message: message.into(),
        }
    }

    /// A parser's or deserializer's error, in one line, `what` before it
    /// (a table such as `camera "cam1"`, or nothing).
    pub(super) fn toml(&self, err: &toml::de::Error, what: &str) -> ConfigError {
        let message = err.message().trim().replace('\n', " ");
        let message = if what.is_empty() {
            message
        } else {
            format!("{what}: {message}")
        };
        self.at(err.span().as_ref(), message)
    }
}

/// The span of `key` in `table`, else the table's own.
pub(super) fn key_span(table: &Spanned<DeValue<'_>>, key: &str) -> Range<usize> {
    match table.get_ref() {
        DeValue::Table(t) => t
            .iter()
            .find(|(k, _)| k.get_ref() == key)
            .map_or_else(|| table.span(), |(k, _)| k.span()),
        _ => table.span(),
    }
}

/// The string value of `key` in `table`, when it is one.
pub(super) fn str_of<'a>(table: &'a Spanned<DeValue<'_>>, key: &str) -> Option<&'a str> {
    table.get_ref().get(key).and_then(|v| v.get_ref().as_str())
}
