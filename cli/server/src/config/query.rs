//! `[[queries]]` and `[[deliveries]]`: `osprey aggregate` and `osprey
//! deliver` runs over streams of the server's store. Each table becomes the
//! command's own arguments (parsed by clap, checked by the command's own
//! checks), so a server's query is exactly the command's.

use std::ffi::OsString;
use std::path::Path;

use anyhow::Result;
use osprey_ingest::store::names;

use super::{DeliveryConfig, QueryConfig};
use crate::aggregate::args::AggregateArgs;
use crate::args::stream::DeliverArgs;

/// The arguments of `osprey COMMAND ...` parsed, or clap's error as one
/// line.
fn parse<A: clap::Args + clap::FromArgMatches>(argv: Vec<OsString>) -> Result<A, String> {
    crate::args::parse(argv.into_iter().skip(1)).map_err(|e| {
        let text = e.to_string();
        let line = text.lines().next().unwrap_or_default();
        line.strip_prefix("error: ").unwrap_or(line).to_owned()
    })
}

/// Pushes `--flag value` when there is a value.
fn push(argv: &mut Vec<OsString>, flag: &str, value: Option<impl Into<OsString>>) {
    if let Some(v) = value {
        argv.push(flag.into());
        argv.push(v.into());
    }
}

impl QueryConfig {
    /// The arguments of `osprey aggregate stream:INPUT --follow --consumer
    /// NAME ...` this query is, over the store in `data_dir`.
    fn argv(&self, data_dir: &Path) -> Vec<OsString> {
        let mut argv: Vec<OsString> = vec![
            "osprey".into(),
            "aggregate".into(),
            format!("stream:{}", self.input).into(),
            "--follow".into(),
            "--consumer".into(),
            self.name.clone().into(),
        ];
        push(&mut argv, "--from", self.from.as_deref());
        push(&mut argv, "--sql", self.sql.as_deref());
        argv.extend(self.flags.iter().flatten().map(OsString::from));
        push(&mut argv, "--output", Some(self.output.as_str()));
        push(&mut argv, "--errors", self.errors.as_deref());
        push(&mut argv, "--memory-limit", self.memory_limit.as_deref());
        push(&mut argv, "--data-dir", Some(data_dir));
        argv
    }

    /// This query as `osprey aggregate`'s arguments, over the store in
    /// `data_dir`: the engine runs them as the command does.
    ///
    /// # Errors
    /// clap's error, in one line (the query was checked when the file was
    /// read, so only a changed program fails here).
    pub fn aggregate_args(&self, data_dir: &Path) -> Result<AggregateArgs> {
        parse(self.argv(data_dir)).map_err(|e| crate::error::UsageError(e).into())
    }

    /// Checks the query, relative paths made relative to `folder`: returns
    /// the key at fault and the message.
    pub(super) fn check(&mut self, folder: &Path) -> Result<(), (&'static str, String)> {
        names::check("consumer", &self.name).map_err(|e| ("name", format!("name: {e}")))?;
        names::check("stream", &self.input).map_err(|e| ("input", format!("input: {e}")))?;
        let key = match (&self.sql, &self.flags) {
            (Some(_), None) => "sql",
            (None, Some(_)) => "flags",
            _ => return Err(("name", "give sql or flags, one of them".into())),
        };
        if let Some(size) = &self.memory_limit {
            osprey_kernels::window::memory::parse_size(size)
                .map_err(|e| ("memory_limit", format!("memory_limit: {e}")))?;
        }
        relative(&mut self.output, folder);
        if let Some(errors) = &mut self.errors {
            relative(errors, folder);
        }
        let args = self
            .aggregate_args(folder)
            .map_err(|e| (key, format!("{key}: {e:#}")))?;
        crate::aggregate::check(&args).map_err(|e| (key, format!("{key}: {e:#}")))
    }
}

impl DeliveryConfig {
    /// The arguments of `osprey deliver STREAM --follow --consumer NAME
    /// ...` this delivery is, over the store in `data_dir`.
    fn argv(&self, data_dir: &Path) -> Vec<OsString> {
        let mut argv: Vec<OsString> = vec![
            "osprey".into(),
            "deliver".into(),
            self.stream.clone().into(),
            "--follow".into(),
            "--consumer".into(),
            self.name.clone().into(),
        ];
        push(&mut argv, "--to", Some(self.to.as_str()));
        push(&mut argv, "--from", self.from.as_deref());
        push(&mut argv, "--format", self.format.as_deref());
        push(&mut argv, "--compression", self.compression.as_deref());
        let number = |v: Option<f64>| v.map(|v| v.to_string());
        push(&mut argv, "--buffer-mib", number(self.buffer_mib));
        push(&mut argv, "--buffer-seconds", number(self.buffer_seconds));
        push(&mut argv, "--errors-to", self.errors_to.as_deref());
        for header in &self.headers {
            push(&mut argv, "--header", Some(header.as_str()));
        }
        push(&mut argv, "--timeout-seconds", number(self.timeout_seconds));
        push(&mut argv, "--retry-seconds", number(self.retry_seconds));
        push(&mut argv, "--data-dir", Some(data_dir));
        argv
    }

    /// This delivery as `osprey deliver`'s arguments, over the store in
    /// `data_dir`.
    ///
    /// # Errors
    /// clap's error, in one line (checked when the file was read).
    pub fn deliver_args(&self, data_dir: &Path) -> Result<DeliverArgs> {
        parse(self.argv(data_dir)).map_err(|e| crate::error::UsageError(e).into())
    }

    /// Checks the delivery, relative folders made relative to `folder`:
    /// returns the key at fault and the message.
    pub(super) fn check(&mut self, folder: &Path) -> Result<(), (&'static str, String)> {
        names::check("consumer", &self.name).map_err(|e| ("name", format!("name: {e}")))?;
        names::check("stream", &self.stream).map_err(|e| ("stream", format!("stream: {e}")))?;
        relative(&mut self.to, folder);
        if let Some(errors) = &mut self.errors_to {
            relative(errors, folder);
        }
        let keyed = |e: anyhow::Error| {
            let message = format!("{e:#}");
            (flag_key(&message), message)
        };
        let args = self.deliver_args(folder).map_err(keyed)?;
        crate::deliver::prepare(&args).map(drop).map_err(keyed)
    }
}

/// The delivery key an `osprey deliver` error names by its flag.
fn flag_key(message: &str) -> &'static str {
    for (flag, key) in [
        ("--header", "headers"),
        ("--timeout-seconds", "timeout_seconds"),
        ("--retry-seconds", "retry_seconds"),
        ("--buffer-", "buffer_mib"),
        ("--compression", "compression"),
        ("--format", "format"),
        ("--errors-to", "errors_to"),
        ("--from", "from"),
    ] {
        if message.contains(flag) {
            return key;
        }
    }
    "to"
}

/// `path` relative to `folder` when it is a relative file path (not `-`,
/// `stream:NAME` or a URL).
fn relative(path: &mut String, folder: &Path) {
    let p = Path::new(path.as_str());
    if path.as_str() == "-"
        || path.starts_with("stream:")
        || path.contains("://")
        || p.is_absolute()
        || folder.as_os_str().is_empty()
    {
        return;
    }
    *path = folder.join(p).to_string_lossy().into_owned();
}
