//! `report.md`: a report as Markdown tables, one a workload.

use std::fmt::Write as _;

use crate::report::{Measurement, Report};

/// A number with about three significant digits.
pub fn num(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 {
        "0".to_owned()
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// Bytes as MiB.
fn mib(bytes: f64) -> String {
    format!("{:.0}", bytes / f64::from(1u32 << 20))
}

/// The speedups of `m` against the others, `ffmpeg 2.1x, duckdb 0.8x`.
fn ratios(m: &Measurement) -> String {
    m.ratios
        .iter()
        .map(|r| format!("{} {}x", r.to, num(r.speedup)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The machine facts as a list.
pub fn machine(report: &Report) -> String {
    let m = &report.machine;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "- CPU: {}, {} logical cores; memory {:.1} GiB",
        m.cpu_model,
        m.logical_cores,
        m.memory_bytes as f64 / f64::from(1u32 << 30)
    );
    let _ = writeln!(s, "- OS: {} (Linux {})", m.os, m.kernel);
    if let Some([a, b, c]) = m.load_average {
        let _ = writeln!(s, "- load average at the start: {a:.2} {b:.2} {c:.2}");
    }
    if m.adapters.is_empty() {
        let _ = writeln!(s, "- GPU adapters: none");
    }
    for a in &m.adapters {
        let _ = writeln!(
            s,
            "- GPU adapter: {} ({}, {}; {} {})",
            a.name, a.backend, a.device_type, a.driver, a.driver_info
        );
    }
    let v = |x: &Option<String>| x.clone().unwrap_or_else(|| "not found".to_owned());
    let _ = writeln!(
        s,
        "- GStreamer {}, ffmpeg {}, DuckDB {}",
        v(&m.gstreamer),
        v(&m.ffmpeg),
        v(&m.duckdb)
    );
    let commit = report.osprey.commit.as_deref().unwrap_or("unknown commit");
    let _ = writeln!(
        s,
        "- osprey {} ({}, {commit})",
        report.osprey.version, report.osprey.profile
    );
    s
}

/// The tables of one workload's measurements.
pub fn tables(report: &Report, workload: &str) -> String {
    let ms: Vec<&Measurement> = report
        .results
        .iter()
        .filter(|m| m.workload == workload)
        .collect();
    let mut s = String::new();
    if !ms.is_empty() {
        s.push_str("| case | subject | per second (median, min–max) | wall s | CPU s | peak RSS MiB | speedup |\n");
        s.push_str("| --- | --- | --- | --- | --- | --- | --- |\n");
        for m in &ms {
            let _ = writeln!(
                s,
                "| {} | {} | {} {} ({}–{}) | {} | {} | {} | {} |",
                m.case,
                m.subject,
                num(m.per_second.median),
                m.unit,
                num(m.per_second.min),
                num(m.per_second.max),
                num(m.wall_s.median),
                num(m.cpu_s.median),
                mib(m.peak_rss_bytes.median),
                ratios(m)
            );
        }
    }
    let staged: Vec<_> = ms.iter().filter_map(|m| Some((m, m.stages?))).collect();
    if !staged.is_empty() {
        s.push_str("\nGPU stages, milliseconds a frame (median of the runs):\n\n");
        s.push_str("| case | upload | dispatch | readback |\n| --- | --- | --- | --- |\n");
        for (m, st) in staged {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                m.case,
                num(st.upload_ms),
                num(st.dispatch_ms),
                num(st.readback_ms)
            );
        }
    }
    let timed: Vec<_> = ms
        .iter()
        .filter_map(|m| Some((m, m.latency.as_ref()?)))
        .collect();
    if !timed.is_empty() {
        s.push_str("\nLatency, milliseconds:\n\n");
        s.push_str("| case | subject | what | samples | p50 | p90 | p99 | max |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n");
        for (m, l) in timed {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                m.case,
                m.subject,
                l.what,
                l.samples,
                num(l.p50_ms),
                num(l.p90_ms),
                num(l.p99_ms),
                num(l.max_ms)
            );
        }
    }
    let live: Vec<_> = ms.iter().filter_map(|m| Some((m, m.realtime?))).collect();
    if !live.is_empty() {
        s.push_str("\nReal time (slowest source's frames a second, worst run):\n\n");
        s.push_str("| case | subject | sources | target fps | slowest fps | keeps up |\n| --- | --- | --- | --- | --- | --- |\n");
        for (m, r) in live {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                m.case,
                m.subject,
                r.sources,
                num(r.target_fps),
                num(r.slowest_fps),
                if r.keeps_up { "yes" } else { "no" }
            );
        }
    }
    let notes: Vec<_> = report
        .notes
        .iter()
        .filter(|n| n.workload == workload)
        .collect();
    if !notes.is_empty() {
        s.push('\n');
        for n in notes {
            let who = if n.subject.is_empty() {
                String::new()
            } else {
                format!("{}: ", n.subject)
            };
            let _ = writeln!(s, "- {who}{}", n.text);
        }
    }
    s
}

/// The whole `report.md`, linking the plots named `plots`.
pub fn render(report: &Report, plots: &[String]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# osprey bench\n");
    let _ = writeln!(
        s,
        "`{}`, {} to {}; {} run{} of each subject a case{}.\n",
        report.command,
        report.started_at,
        report.finished_at,
        report.runs,
        if report.runs == 1 { "" } else { "s" },
        if report.quick {
            ", tiny inputs (--quick)"
        } else {
            ""
        }
    );
    s.push_str(&machine(report));
    s.push_str(
        "\nPer second: items (frames, rows, records) a second of wall time. Speedup: the other subject's median wall time over this one's (above 1: faster). CPU time and peak RSS: of the child process, or of the whole bench process for a run in process.\n",
    );
    for w in &report.workloads {
        let _ = writeln!(s, "\n## {w}\n");
        let t = tables(report, w);
        if t.is_empty() {
            s.push_str("Nothing measured.\n");
        } else {
            s.push_str(&t);
        }
    }
    if !plots.is_empty() {
        s.push_str("\n## Plots\n\n");
        for p in plots {
            let _ = writeln!(s, "![{p}]({p})");
        }
    }
    s
}
