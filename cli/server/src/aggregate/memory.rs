//! `--memory-limit`: the bytes of window state `osprey aggregate` may keep,
//! by default a quarter of the memory this process may use (the machine's
//! `MemTotal`, or its cgroup's limit when that is lower), so that a query
//! with too many groups stops with an error that says so, long before the
//! kernel's OOM killer would end it.

use std::fs;

use anyhow::Result;
use osprey_kernels::window::memory::parse_size;

use super::prepare::usage;

/// The share of the usable memory the state may take by default.
const DEFAULT_SHARE: u64 = 4;

/// The limit: `flag` parsed, else [`DEFAULT_SHARE`]'s share of the usable
/// memory, else (when neither `/proc/meminfo` nor a cgroup says) none.
pub(super) fn limit(flag: Option<&str>) -> Result<Option<u64>> {
    match flag {
        Some(text) => parse_size(text)
            .map(Some)
            .map_err(|e| usage(format!("--memory-limit: {e}"))),
        None => Ok(usable_memory().map(|bytes| bytes / DEFAULT_SHARE)),
    }
}

/// The smaller of the machine's memory and the cgroup's limit (v2, else v1).
fn usable_memory() -> Option<u64> {
    let total = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| mem_total(&text));
    let cgroup = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .find_map(|path| fs::read_to_string(path).ok()?.trim().parse::<u64>().ok());
    match (total, cgroup) {
        (Some(t), Some(c)) => Some(t.min(c)),
        (t, c) => t.or(c),
    }
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_the_flag_or_a_share_of_memory() {
        assert_eq!(limit(Some("64M")).unwrap(), Some(64 << 20));
        assert!(limit(Some("many")).is_err());
        let default = limit(None).unwrap().expect("this machine says its memory");
        assert!(default >= 64 << 20, "{default}");
        assert_eq!(
            mem_total("MemTotal:       16384 kB\nMemFree: 1 kB\n"),
            Some(16 << 20)
        );
        assert_eq!(mem_total("nothing"), None);
    }
}
