//! `osprey bench compare A B`: two reports side by side, each measurement
//! of one against the same case and subject of the other.

use std::fmt::Write as _;

use crate::markdown::num;
use crate::report::{Measurement, Report};

/// A measurement's key: workload, case, subject.
fn key(m: &Measurement) -> (&str, &str, &str) {
    (&m.workload, &m.case, &m.subject)
}

/// The text `osprey bench compare` prints: the two machines, then one line
/// a measurement with both medians (items a second) and B's over A's;
/// measurements of one report only are listed as such.
pub fn compare(a: &Report, b: &Report) -> String {
    let mut s = String::new();
    for (name, r) in [("A", a), ("B", b)] {
        let m = &r.machine;
        let gpu = m
            .adapters
            .first()
            .map_or("no GPU".to_owned(), |g| g.name.clone());
        let _ = writeln!(
            s,
            "{name}: {} ({} cores, {gpu}), osprey {} {}, {}{}",
            m.cpu_model,
            m.logical_cores,
            r.osprey.version,
            r.osprey.commit.as_deref().unwrap_or("?"),
            r.started_at,
            if r.quick { ", --quick" } else { "" }
        );
    }
    let _ = writeln!(
        s,
        "\n{:<10} {:<40} {:<17} {:>12} {:>12} {:>7}",
        "workload", "case", "subject", "A per s", "B per s", "B/A"
    );
    for m in &a.results {
        match b.results.iter().find(|o| key(o) == key(m)) {
            Some(o) => {
                let _ = writeln!(
                    s,
                    "{:<10} {:<40} {:<17} {:>12} {:>12} {:>7}",
                    m.workload,
                    m.case,
                    m.subject,
                    num(m.per_second.median),
                    num(o.per_second.median),
                    num(o.per_second.median / m.per_second.median)
                );
            }
            None => {
                let _ = writeln!(
                    s,
                    "{:<10} {:<40} {:<17} {:>12} {:>12} {:>7}",
                    m.workload,
                    m.case,
                    m.subject,
                    num(m.per_second.median),
                    "only in A",
                    ""
                );
            }
        }
    }
    for o in b
        .results
        .iter()
        .filter(|o| !a.results.iter().any(|m| key(m) == key(o)))
    {
        let _ = writeln!(
            s,
            "{:<10} {:<40} {:<17} {:>12} {:>12} {:>7}",
            o.workload,
            o.case,
            o.subject,
            "only in B",
            num(o.per_second.median),
            ""
        );
    }
    s
}
