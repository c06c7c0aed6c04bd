//! The report's plots, as SVG through plotters: items a second per case and
//! subject for each workload (kernel-only and end-to-end frames apart), the
//! speedups of osprey against each other subject, rows a second against
//! the key count, and latency histograms.
//!
//! Bars are horizontal, one band a case with its name above its bars, so
//! that long case names stay readable.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use crate::error::{BenchError, Result};
use crate::markdown::num;
use crate::report::{Measurement, Report};

/// One series of bars: its name and a value for each category.
type Series = (String, Vec<Option<f64>>);

/// A subject's colour, the same in every plot.
fn colour(name: &str, i: usize) -> RGBColor {
    let base = name.trim_start_matches("vs ");
    match base {
        "osprey-cpu" | "osprey" => RGBColor(31, 119, 180),
        "osprey-gpu" => RGBColor(44, 160, 44),
        "ffmpeg" => RGBColor(214, 39, 40),
        "gstreamer-decode" => RGBColor(255, 127, 14),
        "duckdb" => RGBColor(148, 103, 189),
        _ => {
            let c = Palette99::pick(i).to_rgba();
            RGBColor(c.0, c.1, c.2)
        }
    }
}

fn plot_err(path: &Path) -> impl Fn(String) -> BenchError + '_ {
    move |reason| BenchError::Plot {
        path: path.to_owned(),
        reason,
    }
}

/// Horizontal grouped bars: one band a category, one bar a series.
fn hbars(
    path: &Path,
    title: &str,
    x_desc: &str,
    categories: &[String],
    series: &[Series],
) -> Result<()> {
    let err = plot_err(path);
    let n = categories.len();
    let k = series.len().max(1);
    let max = series
        .iter()
        .flat_map(|(_, v)| v.iter().flatten())
        .fold(0.0f64, |a, &b| a.max(b));
    let height = 90 + n * (16 + 14 * k) + 20 * k;
    let root =
        SVGBackend::new(path, (960, u32::try_from(height).unwrap_or(4000))).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(format!("{e:?}")))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(8)
        .build_cartesian_2d(0f64..(max * 1.25).max(1e-9), 0f64..n as f64)
        .map_err(|e| err(format!("{e:?}")))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_desc(x_desc)
        .x_label_formatter(&|v| num(*v))
        .draw()
        .map_err(|e| err(format!("{e:?}")))?;
    // Band i spans [n-i-1, n-i): its label in the top third, bars below.
    let bar = 0.66 / k as f64;
    chart
        .draw_series(categories.iter().enumerate().map(|(i, c)| {
            let top = (n - i) as f64;
            Text::new(
                c.clone(),
                (max * 0.005, top - 0.04),
                ("sans-serif", 12).into_font(),
            )
        }))
        .map_err(|e| err(format!("{e:?}")))?;
    for (j, (name, values)) in series.iter().enumerate() {
        let fill = colour(name, j);
        let bars = values.iter().enumerate().filter_map(|(i, v)| {
            let v = (*v)?;
            let top = (n - i) as f64 - 0.3 - bar * j as f64;
            Some(Rectangle::new(
                [(0.0, top - bar * 0.9), (v, top)],
                fill.filled(),
            ))
        });
        chart
            .draw_series(bars)
            .map_err(|e| err(format!("{e:?}")))?
            .label(name.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], fill.filled()));
        let labels = values.iter().enumerate().filter_map(|(i, v)| {
            let v = (*v)?;
            let top = (n - i) as f64 - 0.3 - bar * j as f64;
            Some(Text::new(
                num(v),
                (v + max * 0.01, top - bar * 0.1),
                ("sans-serif", 10).into_font(),
            ))
        });
        chart
            .draw_series(labels)
            .map_err(|e| err(format!("{e:?}")))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(format!("{e:?}")))?;
    root.present().map_err(|e| err(format!("{e:?}")))?;
    Ok(())
}

/// Categories and series of `ms`: one category a case (in order), one
/// series a subject, `value` of each.
fn grid(ms: &[&Measurement], value: impl Fn(&Measurement) -> f64) -> (Vec<String>, Vec<Series>) {
    let mut cases: Vec<String> = Vec::new();
    let mut subjects: Vec<String> = Vec::new();
    for m in ms {
        if !cases.contains(&m.case) {
            cases.push(m.case.clone());
        }
        if !subjects.contains(&m.subject) {
            subjects.push(m.subject.clone());
        }
    }
    let series = subjects
        .iter()
        .map(|s| {
            let values = cases
                .iter()
                .map(|c| {
                    ms.iter()
                        .find(|m| &m.case == c && &m.subject == s)
                        .map(|m| value(m))
                })
                .collect();
            (s.clone(), values)
        })
        .collect();
    (cases, series)
}

/// The key count of an aggregation case name (`window/10k-keys/parquet`).
fn keys_of(case: &str) -> Option<f64> {
    let part = case.split('/').find_map(|p| p.strip_suffix("-keys"))?;
    let (digits, scale) = match part.strip_suffix('M') {
        Some(d) => (d, 1e6),
        None => match part.strip_suffix('k') {
            Some(d) => (d, 1e3),
            None => (part, 1.0),
        },
    };
    digits.parse::<f64>().ok().map(|v| v * scale)
}

/// Rows a second against key count, a line a subject, keys on a log scale.
fn rows_by_keys(path: &Path, ms: &[&Measurement]) -> Result<bool> {
    let points: Vec<(&str, f64, f64)> = ms
        .iter()
        .filter(|m| m.case.starts_with("window/") && m.case.ends_with("/parquet"))
        .filter_map(|m| Some((m.subject.as_str(), keys_of(&m.case)?, m.per_second.median)))
        .collect();
    if points.is_empty() {
        return Ok(false);
    }
    let err = plot_err(path);
    let max_y = points.iter().fold(0.0f64, |a, p| a.max(p.2));
    let max_x = points.iter().fold(1.0f64, |a, p| a.max(p.1));
    let root = SVGBackend::new(path, (800, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(format!("{e:?}")))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "window aggregation: rows/s against distinct keys (Parquet)",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((0.5f64..max_x * 2.0).log_scale(), 0f64..max_y * 1.2)
        .map_err(|e| err(format!("{e:?}")))?;
    chart
        .configure_mesh()
        .x_desc("distinct keys")
        .y_desc("rows/s")
        .x_label_formatter(&|v| num(*v))
        .y_label_formatter(&|v| num(*v))
        .draw()
        .map_err(|e| err(format!("{e:?}")))?;
    let mut subjects: Vec<&str> = points.iter().map(|p| p.0).collect();
    subjects.dedup();
    subjects.sort_unstable();
    subjects.dedup();
    for (i, s) in subjects.iter().enumerate() {
        let c = colour(s, i);
        let mut line: Vec<(f64, f64)> = points
            .iter()
            .filter(|p| p.0 == *s)
            .map(|p| (p.1, p.2))
            .collect();
        line.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart
            .draw_series(LineSeries::new(line.clone(), c.stroke_width(2)))
            .map_err(|e| err(format!("{e:?}")))?
            .label(s.to_string())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], c.stroke_width(2)));
        chart
            .draw_series(line.into_iter().map(|p| Circle::new(p, 4, c.filled())))
            .map_err(|e| err(format!("{e:?}")))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(format!("{e:?}")))?;
    root.present().map_err(|e| err(format!("{e:?}")))?;
    Ok(true)
}

/// Draws every plot `report` has data for into `dir`; returns the files.
///
/// # Errors
/// [`BenchError::Plot`] when one cannot be drawn or written.
pub fn draw(report: &Report, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut bars = |file: &str,
                    title: &str,
                    x_desc: &str,
                    ms: Vec<&Measurement>,
                    value: &dyn Fn(&Measurement) -> f64|
     -> Result<()> {
        if ms.is_empty() {
            return Ok(());
        }
        let (cases, series) = grid(&ms, value);
        let path = dir.join(file);
        hbars(&path, title, x_desc, &cases, &series)?;
        files.push(path);
        Ok(())
    };
    let per_second = |m: &Measurement| m.per_second.median;
    for w in &report.workloads {
        let ms: Vec<&Measurement> = report.results.iter().filter(|m| &m.workload == w).collect();
        if w == "frames" {
            let (kernels, whole): (Vec<&Measurement>, Vec<&Measurement>) =
                ms.into_iter().partition(|m| m.case.starts_with("kernels/"));
            bars(
                "frames-kernels.svg",
                "frames/s, kernel-only (frames in memory), per kernel and backend",
                "frames/s",
                kernels,
                &per_second,
            )?;
            bars(
                "frames-analyze.svg",
                "frames/s, end to end (decode and analysis) against decode-only and ffmpeg's filters",
                "frames/s",
                whole,
                &per_second,
            )?;
        } else {
            let unit = ms.first().map_or("items", |m| m.unit.as_str()).to_owned();
            bars(
                &format!("{w}.svg"),
                &format!("{w}: {unit}/s (median of the runs)"),
                &format!("{unit}/s"),
                ms,
                &per_second,
            )?;
        }
    }
    // Speedups: a band a case and osprey subject, a bar an other subject.
    let mut categories = Vec::new();
    let mut others: Vec<String> = Vec::new();
    for m in report.results.iter().filter(|m| !m.ratios.is_empty()) {
        categories.push(format!("{} {} ({})", m.workload, m.case, m.subject));
        for r in &m.ratios {
            if !others.contains(&r.to) {
                others.push(r.to.clone());
            }
        }
    }
    if !categories.is_empty() {
        let series: Vec<Series> = others
            .iter()
            .map(|o| {
                let values = report
                    .results
                    .iter()
                    .filter(|m| !m.ratios.is_empty())
                    .map(|m| m.ratios.iter().find(|r| &r.to == o).map(|r| r.speedup))
                    .collect();
                (format!("vs {o}"), values)
            })
            .collect();
        let path = dir.join("speedup.svg");
        hbars(
            &path,
            "osprey's speedup: the other's median wall time over osprey's (above 1: osprey is faster)",
            "speedup",
            &categories,
            &series,
        )?;
        files.push(path);
    }
    let aggregate: Vec<&Measurement> = report
        .results
        .iter()
        .filter(|m| m.workload == "aggregate")
        .collect();
    let path = dir.join("aggregate-keys.svg");
    if rows_by_keys(&path, &aggregate)? {
        files.push(path);
    }
    for (i, m) in report
        .results
        .iter()
        .filter(|m| m.latency.is_some())
        .enumerate()
    {
        let Some(l) = &m.latency else { continue };
        let mut lower = 0.0;
        let categories: Vec<String> = l
            .histogram
            .iter()
            .map(|b| {
                let c = format!("{} to {} ms", num(lower), num(b.upto_ms));
                lower = b.upto_ms;
                c
            })
            .collect();
        let series = vec![(
            m.subject.clone(),
            l.histogram.iter().map(|b| Some(b.count as f64)).collect(),
        )];
        let path = dir.join(format!("latency-{}.svg", i + 1));
        hbars(
            &path,
            &format!(
                "{} {}: {} latency, {} samples (p50 {} ms, p99 {} ms)",
                m.workload,
                m.case,
                l.what,
                l.samples,
                num(l.p50_ms),
                num(l.p99_ms)
            ),
            "records",
            &categories,
            &series,
        )?;
        files.push(path);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_counts_come_from_case_names() {
        assert_eq!(keys_of("window/10k-keys/parquet"), Some(1e4));
        assert_eq!(keys_of("window/1M-keys/parquet"), Some(1e6));
        assert_eq!(keys_of("window/100-keys/ndjson"), Some(100.0));
        assert_eq!(keys_of("put/file"), None);
    }
}
