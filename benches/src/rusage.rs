//! CPU time and peak memory of a run: a child's CPU time from `wait4(2)`
//! and its peak RSS from `/proc/PID/status` while it runs ([`Watch`]); the
//! process's own from `getrusage(2)` and `/proc/self/status`.
//!
//! A child's `ru_maxrss` cannot serve: Linux keeps the high-water mark of
//! the memory a process had before `exec`, and a child spawned from this
//! process shares (vfork) or copies (fork) this process's memory until
//! then, so every child would report at least the harness's own RSS.
//!
//! The only unsafe code of the crate: four libc calls, on memory the call
//! owns or on our own child's id.

use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// How a child ended, and what it used.
#[derive(Debug, Clone, Copy)]
pub struct ChildUsage {
    /// Its exit code, or `None` when a signal ended it.
    pub code: Option<i32>,
    /// The signal that ended it.
    pub signal: Option<i32>,
    /// User plus system CPU time.
    pub cpu: Duration,
    /// Peak resident memory (`ru_maxrss`, which counts this process's
    /// memory too: see the module docs; [`Watch`] gives the child's own).
    pub peak_rss_bytes: u64,
}

/// `VmHWM` of a `/proc/.../status` file, in bytes.
fn vm_hwm(status: &str) -> Option<u64> {
    let text = std::fs::read_to_string(status).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

/// `USER_HZ`: the clock ticks of `/proc/PID/stat`, 100 on every Linux ABI.
const USER_HZ: u64 = 100;

/// User plus system CPU time of a running process so far, from
/// `/proc/PID/stat` (in clock ticks: 10 ms steps).
pub fn proc_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 1000 / USER_HZ))
}

/// The peak RSS of a running process so far (`VmHWM`).
pub fn proc_peak_rss(pid: u32) -> Option<u64> {
    vm_hwm(&format!("/proc/{pid}/status"))
}

/// How often a [`Watch`] reads a child's peak RSS.
const WATCH_EVERY: Duration = Duration::from_millis(5);

/// A child's peak RSS, read from `/proc/PID/status` (`VmHWM`, the
/// high-water mark of the program it runs) as soon as it is spawned and
/// every 5 ms until [`Watch::finish`]. A peak reached in the last 5 ms of a
/// child's life can be missed (on a loaded machine, where the watching
/// thread waits for a core, in the last few tens of ms: a short child may
/// then show only what it had just after `exec`); a high-water mark is never
/// lower than an earlier one, so the peaks of longer runs are exact.
#[derive(Debug)]
pub struct Watch {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<u64>>,
}

impl Watch {
    /// Starts watching `child`, which has just been spawned (`spawn`
    /// returns once the program is `exec`ed, so the first read is its own).
    pub fn start(child: &Child) -> Watch {
        let status = format!("/proc/{}/status", child.id());
        let first = vm_hwm(&status).unwrap_or(0);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("rss-watch".into())
            .spawn(move || {
                let mut peak = first;
                while !flag.load(Ordering::Acquire) {
                    match vm_hwm(&status) {
                        Some(v) => peak = peak.max(v),
                        None => break,
                    }
                    std::thread::sleep(WATCH_EVERY);
                }
                peak
            })
            .ok();
        Watch { stop, thread }
    }

    /// Stops watching (call it right after the child is reaped) and
    /// returns the peak seen.
    pub fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Release);
        self.thread.take().and_then(|t| t.join().ok()).unwrap_or(0)
    }
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
        + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
}

/// Waits for `child` to end and reaps it, with its resource usage.
///
/// # Errors
/// When `wait4` fails (the child was reaped already).
#[expect(
    unsafe_code,
    reason = "wait4 writes into a status and an rusage this function owns"
)]
pub fn wait(child: &mut Child) -> std::io::Result<ChildUsage> {
    let pid = libc::pid_t::try_from(child.id())
        .map_err(|_| std::io::Error::other("a process id out of range"))?;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value of that plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `status` and `usage` are live, writable and of the types
        // wait4 expects; `pid` is our own child, not yet reaped.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    let (code, signal) = if libc::WIFEXITED(status) {
        (Some(libc::WEXITSTATUS(status)), None)
    } else if libc::WIFSIGNALED(status) {
        (None, Some(libc::WTERMSIG(status)))
    } else {
        (None, None)
    };
    Ok(ChildUsage {
        code,
        signal,
        cpu: timeval(usage.ru_utime) + timeval(usage.ru_stime),
        // Linux reports kilobytes.
        peak_rss_bytes: u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024,
    })
}

/// Asks `child` to end with SIGTERM, as a service manager would (osprey
/// ends a live run cleanly on it).
#[expect(unsafe_code, reason = "kill(2) on our own child's process id")]
pub fn terminate(child: &Child) -> std::io::Result<()> {
    let pid = libc::pid_t::try_from(child.id())
        .map_err(|_| std::io::Error::other("a process id out of range"))?;
    // SAFETY: kill takes plain integers; `pid` is our child, not yet
    // reaped, so the id cannot belong to another process.
    if unsafe { libc::kill(pid, libc::SIGTERM) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// User plus system CPU time of this whole process so far.
#[expect(
    unsafe_code,
    reason = "getrusage writes into an rusage this function owns"
)]
pub fn process_cpu() -> Duration {
    // SAFETY: an all-zero rusage is a valid value of that plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is live and writable; RUSAGE_SELF is always valid.
    let r = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    if r != 0 {
        return Duration::ZERO;
    }
    timeval(usage.ru_utime) + timeval(usage.ru_stime)
}

/// Resets this process's peak resident memory to its current one (Linux
/// 4.0 and later), so that [`peak_rss`] after a run is that run's peak.
/// Without `/proc` it does nothing, and the peak is the process's so far.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// This process's peak resident memory (`VmHWM`), or its current one
/// (`ru_maxrss` when `/proc` is missing).
pub fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_childs_cpu_time_comes_from_wait4_and_its_peak_from_proc() {
        // This process holds 256 MB, which the child must not report.
        let held = vec![1u8; 256 << 20];
        // A child that touches 64 MB, then burns CPU for a moment.
        let mut child = std::process::Command::new("python3")
            .args([
                "-c",
                "b = bytearray(64 << 20)\nx = 0\nfor i in range(3_000_000): x += i",
            ])
            .spawn()
            .expect("python3 runs");
        let watch = Watch::start(&child);
        let usage = wait(&mut child).expect("the child is ours");
        let peak = watch.finish();
        assert!(held.iter().all(|&b| b == 1));
        assert_eq!(usage.code, Some(0));
        assert!(usage.cpu > Duration::from_millis(20), "{usage:?}");
        assert!(peak > 60 << 20 && peak < 200 << 20, "{peak}");
    }

    #[test]
    fn a_running_process_is_read_from_proc() {
        let me = std::process::id();
        let t0 = std::time::Instant::now();
        let mut x = 0u64;
        while t0.elapsed() < Duration::from_millis(60) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        assert!(proc_cpu(me).is_some_and(|c| c >= Duration::from_millis(30)));
        assert!(proc_peak_rss(me).is_some_and(|r| r > 1 << 20));
        assert_eq!(proc_cpu(u32::MAX), None);
    }

    #[test]
    fn the_process_peak_follows_its_allocations() {
        reset_peak_rss();
        let before = peak_rss();
        let big = vec![1u8; 96 << 20];
        let after = peak_rss();
        assert!(big.iter().all(|&b| b == 1));
        assert!(after >= before + (90 << 20), "{before} then {after}");
        assert!(process_cpu() > Duration::ZERO);
    }
}
