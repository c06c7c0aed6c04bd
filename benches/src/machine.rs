//! The machine facts of a report: CPU, memory, OS, the wgpu adapters, and
//! the peers' versions.

use crate::peers::Peers;
use crate::report::{Adapter, Machine};

/// The first value of `key` in a `key: value` file such as /proc/cpuinfo.
fn field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_owned())
    })
}

/// The CPU's model name from /proc/cpuinfo (x86's `model name`, or ARM's
/// `CPU part` when there is none).
fn cpu_model() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    field(&info, "model name")
        .or_else(|| field(&info, "Model"))
        .or_else(|| field(&info, "CPU part").map(|p| format!("CPU part {p}")))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Physical memory from /proc/meminfo.
fn memory_bytes() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| field(&m, "MemTotal"))
        .and_then(|v| v.trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// `PRETTY_NAME` of /etc/os-release.
fn os() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_owned())
        })
        .unwrap_or_else(|| std::env::consts::OS.to_owned())
}

/// The 1, 5 and 15 minute load averages.
fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut it = text.split_whitespace().map(|v| v.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

/// The adapters wgpu sees.
pub fn adapters() -> Vec<Adapter> {
    osprey_kernels::gpu::list_adapters()
        .into_iter()
        .map(|a| Adapter {
            backend: a.backend_name().to_owned(),
            device_type: a.device_type_name().to_owned(),
            name: a.name,
            driver: a.driver,
            driver_info: a.driver_info,
        })
        .collect()
}

/// The facts of this machine, with the versions of `peers`.
pub fn facts(peers: &Peers) -> Machine {
    Machine {
        cpu_model: cpu_model(),
        logical_cores: std::thread::available_parallelism()
            .map_or(1, |n| u32::try_from(n.get()).unwrap_or(u32::MAX)),
        memory_bytes: memory_bytes(),
        os: os(),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default(),
        load_average: load_average(),
        adapters: adapters(),
        gstreamer: peers.gstreamer.clone(),
        ffmpeg: peers.ffmpeg.clone(),
        duckdb: peers.duckdb.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_by_key() {
        let text = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags : x\n";
        assert_eq!(field(text, "model name").as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(field(text, "missing"), None);
    }

    #[test]
    fn this_machine_has_cores_memory_and_a_cpu() {
        let m = facts(&Peers::default());
        assert!(m.logical_cores >= 1);
        assert!(m.memory_bytes > 0);
        assert!(!m.cpu_model.is_empty() && m.cpu_model != "unknown");
    }
}
