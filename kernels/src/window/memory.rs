//! The window engine's memory budget: what its state takes, and sizes as
//! people read them.
//!
//! The state counted is what the engine holds between batches: the open
//! windows' stores (or the open sessions' accumulators), the empty stores
//! kept for reuse and the last piece's batch state, by their allocations'
//! capacities. The engine checks it after every piece of at most
//! [`super::Engine::batch_rows`] rows, so it passes its limit by at most one
//! piece's slots before [`crate::KernelError::MemoryLimit`] stops it. The
//! rows of a closing window are handed out finished ([`super::Closed`]: a
//! key and the aggregates a group, far smaller than the window's store)
//! while the caller writes them.

/// `bytes` as `1.5 GiB`, `512 MiB`, `900 B`.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else if value < 10.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

/// Parses a size: a number of bytes, or a number (with a fraction, if
/// wanted) and a unit `K`, `M`, `G`, `T` (powers of 1024; `KB`, `KiB`, `MB`,
/// ... are read the same way, case aside).
///
/// # Errors
/// A message naming what is wrong, for a usage error.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let bad = || format!("invalid size {text:?} (e.g. 512M, 2G, 1.5GiB, 1048576)");
    let value: f64 = number.parse().map_err(|_| bad())?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(bad()),
    };
    let bytes = value * 2f64.powi(shift);
    if !bytes.is_finite() || bytes < 1.0 || bytes >= u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size(" 2 gb "), Ok(2 << 30));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("0").is_err());
        assert!(parse_size("3X").is_err());
        assert!(parse_size("-1G").is_err());
        assert_eq!(human(900), "900 B");
        assert_eq!(human(3 << 29), "1.5 GiB");
        assert_eq!(human(512 << 20), "512 MiB");
    }
}
