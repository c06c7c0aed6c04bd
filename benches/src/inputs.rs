//! The inputs the workloads run on, made by the harness itself: H.264
//! clips (a test pattern through `osprey generate`, camera-like content
//! through ffmpeg), raw frames in memory, Parquet and NDJSON tables of
//! telemetry, and NDJSON records for streams.
//!
//! Files are made once under the inputs folder, named for what they hold,
//! and reused by the next run with the same sizes.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use osprey_kernels::{OwnedFrame, PixelFormat};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::error::{BenchError, Result};
use crate::runner::{describe, setup};

/// Frames a second of every clip.
pub const FPS: u32 = 25;

/// A clip: its file, size and frame count.
#[derive(Debug, Clone)]
pub struct Clip {
    /// The MP4 file.
    pub path: PathBuf,
    /// A short name for case names, e.g. `1080p-camera`.
    pub name: String,
    /// What it shows, in words.
    pub describe: String,
    /// Luma width.
    pub width: u32,
    /// Luma height.
    pub height: u32,
    /// Frames.
    pub frames: u32,
}

/// A size's short name: `720p`, or `WxH` for odd sizes.
pub fn size_name(width: u32, height: u32) -> String {
    match (width, height) {
        (1280, 720) => "720p".to_owned(),
        (1920, 1080) => "1080p".to_owned(),
        (w, h) => format!("{w}x{h}"),
    }
}

/// Makes `path` with `make` (which writes `tmp`) unless it exists; a file
/// appears whole or not at all.
fn once(path: &Path, make: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    if path.is_file() {
        return Ok(());
    }
    let tmp = path.with_extension("part");
    let _ = std::fs::remove_file(&tmp);
    make(&tmp)?;
    std::fs::rename(&tmp, path).map_err(|e| BenchError::io("rename", &tmp, e))
}

/// A test-pattern clip with a hard cut every 50 frames, through `osprey
/// generate`.
///
/// # Errors
/// When osprey cannot make it.
pub fn pattern_clip(
    osprey: &Path,
    dir: &Path,
    width: u32,
    height: u32,
    frames: u32,
) -> Result<Clip> {
    let path = dir.join(format!("pattern-{width}x{height}-{frames}.mp4"));
    once(&path, |tmp| {
        let tmp_mp4 = tmp.with_extension("part.mp4");
        setup(
            Command::new(osprey)
                .args(["-q", "generate"])
                .arg(&tmp_mp4)
                .args([
                    "--width",
                    &width.to_string(),
                    "--height",
                    &height.to_string(),
                ])
                .args(["--frames", &frames.to_string(), "--fps", &FPS.to_string()])
                .args(["--cut-every", &(frames.min(50)).to_string()]),
            &dir.join("generate.log"),
        )?;
        std::fs::rename(&tmp_mp4, tmp).map_err(|e| BenchError::io("rename", &tmp_mp4, e))
    })?;
    Ok(Clip {
        path,
        name: format!("{}-pattern", size_name(width, height)),
        describe: format!(
            "{width}x{height} H.264 test pattern, {frames} frames, a cut every 50 (osprey generate)"
        ),
        width,
        height,
        frames,
    })
}

/// A clip that looks more like a fixed camera than a test pattern does: a
/// still, detailed scene (a fractal) with a person-sized block walking
/// across it under temporal sensor-like noise, H.264 at a camera's quality
/// and GOP (CRF 23, GOP 50), through ffmpeg.
///
/// # Errors
/// When ffmpeg cannot make it.
pub fn camera_clip(dir: &Path, width: u32, height: u32, frames: u32) -> Result<Clip> {
    let path = dir.join(format!("camera-{width}x{height}-{frames}.mp4"));
    let (bw, bh) = ((width / 16).max(2) & !1, (height * 5 / 18).max(2) & !1);
    once(&path, |tmp| {
        let graph = format!(
            "[0]trim=end_frame=1,loop=loop=-1:size=1,setpts=N/{FPS}/TB[bg];\
             [bg][1]overlay=x='mod(t*{speed},{span})':y={y}:shortest=0,noise=alls=4:allf=t,format=yuv420p",
            speed = width / 12,
            span = width.saturating_sub(bw).max(1),
            y = height * 5 / 9,
        );
        setup(
            Command::new("ffmpeg")
                .args(["-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i"])
                .arg(format!(
                    "mandelbrot=size={width}x{height}:rate={FPS}:start_scale=0.5"
                ))
                .args(["-f", "lavfi", "-i"])
                .arg(format!("color=c=0x704030:size={bw}x{bh}:rate={FPS}"))
                .args(["-filter_complex", &graph])
                .args(["-frames:v", &frames.to_string()])
                .args([
                    "-c:v", "libx264", "-preset", "fast", "-crf", "23", "-g", "50",
                ])
                .args(["-pix_fmt", "yuv420p", "-f", "mp4"])
                .arg(tmp),
            &dir.join("camera.log"),
        )
    })?;
    Ok(Clip {
        path,
        name: format!("{}-camera", size_name(width, height)),
        describe: format!(
            "{width}x{height} H.264 camera-like scene (still fractal, a walking block, sensor noise), {frames} frames (ffmpeg)"
        ),
        width,
        height,
        frames,
    })
}

/// The first `count` frames of `clip`, decoded by ffmpeg into I420 frames
/// in memory.
///
/// # Errors
/// When ffmpeg fails or gives fewer bytes than one frame.
pub fn decoded_frames(clip: &Clip, count: u32) -> Result<Vec<OwnedFrame>> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-v", "error", "-nostdin", "-i"])
        .arg(&clip.path)
        .args(["-frames:v", &count.to_string()])
        .args(["-f", "rawvideo", "-pix_fmt", "yuv420p", "-"])
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    let out = cmd.output().map_err(|e| BenchError::Process {
        command: describe(&cmd),
        reason: format!("cannot start: {e}"),
    })?;
    if !out.status.success() {
        return Err(BenchError::Process {
            command: describe(&cmd),
            reason: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    let frames = split_i420(&out.stdout, clip.width, clip.height);
    if frames.is_empty() {
        return Err(BenchError::Process {
            command: describe(&cmd),
            reason: format!("no whole {}x{} frame on stdout", clip.width, clip.height),
        });
    }
    Ok(frames)
}

/// Tightly packed I420 frames one after another into frames.
fn split_i420(bytes: &[u8], width: u32, height: u32) -> Vec<OwnedFrame> {
    let mut frame = OwnedFrame::zeroed(PixelFormat::I420, width, height, 0);
    let size: usize = frame.planes.iter().map(Vec::len).sum();
    if size == 0 {
        return Vec::new();
    }
    let (ys, us) = (frame.planes[0].len(), frame.planes[1].len());
    bytes
        .chunks_exact(size)
        .map(|raw| {
            let (y, rest) = raw.split_at(ys);
            let (u, v) = rest.split_at(us);
            frame.planes = [y.to_vec(), u.to_vec(), v.to_vec()];
            frame.clone()
        })
        .collect()
}

/// A table of telemetry: where it is and its shape.
#[derive(Debug, Clone)]
pub struct Table {
    /// The file.
    pub path: PathBuf,
    /// Rows.
    pub rows: u64,
    /// Distinct sensors at most.
    pub keys: u32,
}

/// The seeded generator of the tables: a xorshift, since the tables need
/// no statistical quality, only the same rows every run on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// 2025-12-01T17:00:00Z in microseconds since the epoch: the tables' first row.
const T0_US: i64 = 1_764_608_400_000_000;

/// One hour, in microseconds: the tables' span.
const HOUR_US: i64 = 3_600_000_000;

/// The rows of a table, `batch` at a time: a timestamp spread evenly over
/// one hour, a string sensor id (`s0000042`) drawn with a skew (the square
/// of a uniform draw: a few sensors send much more than most, as fleets
/// do), a temperature and a humidity (one in 16 null).
struct Rows {
    rng: Rng,
    rows: u64,
    keys: u32,
    next: u64,
}

/// One row.
struct Row {
    ts: i64,
    sensor: String,
    temp: f64,
    humidity: Option<f64>,
}

impl Iterator for Rows {
    type Item = Row;

    fn next(&mut self) -> Option<Row> {
        if self.next == self.rows {
            return None;
        }
        let i = self.next;
        self.next += 1;
        let u = self.rng.unit();
        let key = ((u * u * f64::from(self.keys)) as u32).min(self.keys - 1);
        let temp = 20.0 + 5.0 * self.rng.unit();
        let humidity = 100.0 * self.rng.unit();
        Some(Row {
            ts: T0_US + (i128::from(i) * i128::from(HOUR_US) / i128::from(self.rows)) as i64,
            sensor: format!("s{key:07}"),
            temp: (temp * 1000.0).round() / 1000.0,
            humidity: (i % 16 != 15).then_some((humidity * 1000.0).round() / 1000.0),
        })
    }
}

fn rows(rows: u64, keys: u32) -> Rows {
    Rows {
        rng: Rng(0x9e37_79b9_7f4a_7c15 ^ u64::from(keys)),
        rows,
        keys: keys.max(1),
        next: 0,
    }
}

/// A Parquet table of `rows` rows over `keys` sensors (Snappy, row groups
/// of at most a million rows), written through arrow.
///
/// # Errors
/// When it cannot be written.
pub fn parquet_table(dir: &Path, rows_n: u64, keys: u32) -> Result<Table> {
    let path = dir.join(format!("table-{rows_n}-rows-{keys}-keys.parquet"));
    once(&path, |tmp| {
        let schema = Arc::new(Schema::new(vec![
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
            Field::new("sensor", DataType::Utf8, false),
            Field::new("temp", DataType::Float64, false),
            Field::new("humidity", DataType::Float64, true),
        ]));
        let file = File::create(tmp).map_err(|e| BenchError::io("create", tmp, e))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(1 << 20))
            .build();
        let table_err = |e: parquet::errors::ParquetError| BenchError::Table(e.to_string());
        let mut writer =
            ArrowWriter::try_new(file, Arc::clone(&schema), Some(props)).map_err(table_err)?;
        let mut it = rows(rows_n, keys).peekable();
        while it.peek().is_some() {
            let batch: Vec<Row> = it.by_ref().take(65_536).collect();
            let columns: Vec<ArrayRef> = vec![
                Arc::new(
                    TimestampMicrosecondArray::from_iter_values(batch.iter().map(|r| r.ts))
                        .with_timezone("UTC"),
                ),
                Arc::new(StringArray::from_iter_values(
                    batch.iter().map(|r| r.sensor.as_str()),
                )),
                Arc::new(Float64Array::from_iter_values(batch.iter().map(|r| r.temp))),
                Arc::new(Float64Array::from_iter(batch.iter().map(|r| r.humidity))),
            ];
            let batch = RecordBatch::try_new(Arc::clone(&schema), columns)
                .map_err(|e| BenchError::Table(e.to_string()))?;
            writer.write(&batch).map_err(table_err)?;
        }
        writer.close().map_err(table_err)?;
        Ok(())
    })?;
    Ok(Table {
        path,
        rows: rows_n,
        keys,
    })
}

/// The same rows as [`parquet_table`] as NDJSON, the time as RFC 3339.
///
/// # Errors
/// When it cannot be written.
pub fn ndjson_table(dir: &Path, rows_n: u64, keys: u32) -> Result<Table> {
    let path = dir.join(format!("table-{rows_n}-rows-{keys}-keys.ndjson"));
    once(&path, |tmp| {
        let file = File::create(tmp).map_err(|e| BenchError::io("create", tmp, e))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let write_err = |e| BenchError::io("write", tmp, e);
        for r in rows(rows_n, keys) {
            let ts = chrono::DateTime::from_timestamp_micros(r.ts)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
                .unwrap_or_default();
            match r.humidity {
                Some(h) => writeln!(
                    out,
                    r#"{{"ts":"{ts}","sensor":"{}","temp":{},"humidity":{h}}}"#,
                    r.sensor, r.temp
                ),
                None => writeln!(
                    out,
                    r#"{{"ts":"{ts}","sensor":"{}","temp":{},"humidity":null}}"#,
                    r.sensor, r.temp
                ),
            }
            .map_err(write_err)?;
        }
        out.flush().map_err(write_err)
    })?;
    Ok(Table {
        path,
        rows: rows_n,
        keys,
    })
}

/// One NDJSON record of about `size` bytes: a device key of 997, its
/// number `n`, padding.
pub fn record(out: &mut Vec<u8>, n: u64, size: usize) {
    let head = format!(r#"{{"k":"device-{}","n":{n},"pad":""#, n % 997);
    out.extend_from_slice(head.as_bytes());
    out.resize(out.len() + size.saturating_sub(head.len() + 3), b'x');
    out.extend_from_slice(b"\"}\n");
}

/// A file of `count` records of about `size` bytes each.
///
/// # Errors
/// When it cannot be written.
pub fn records_file(dir: &Path, count: u64, size: usize) -> Result<PathBuf> {
    let path = dir.join(format!("records-{count}x{size}.ndjson"));
    once(&path, |tmp| {
        let mut buf = Vec::with_capacity(size * 4096);
        let file = File::create(tmp).map_err(|e| BenchError::io("create", tmp, e))?;
        let mut out = BufWriter::new(file);
        for n in 0..count {
            record(&mut buf, n, size);
            if buf.len() > 1 << 20 {
                out.write_all(&buf)
                    .map_err(|e| BenchError::io("write", tmp, e))?;
                buf.clear();
            }
        }
        out.write_all(&buf)
            .and_then(|()| out.flush())
            .map_err(|e| BenchError::io("write", tmp, e))
    })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_skewed_seeded_and_span_an_hour() {
        let a: Vec<Row> = rows(1000, 100).collect();
        let b: Vec<Row> = rows(1000, 100).collect();
        assert_eq!(a.len(), 1000);
        assert!(
            a.iter()
                .zip(&b)
                .all(|(x, y)| x.sensor == y.sensor && x.temp == y.temp)
        );
        assert_eq!(a[0].ts, T0_US);
        assert!(a[999].ts < T0_US + HOUR_US && a[999].ts > T0_US + HOUR_US * 99 / 100);
        let low = a.iter().filter(|r| r.sensor.as_str() < "s0000025").count();
        assert!(
            low > 400,
            "the first quarter of keys has half the rows: {low}"
        );
        assert_eq!(a.iter().filter(|r| r.humidity.is_none()).count(), 62);
    }

    #[test]
    fn records_have_their_size_and_number() {
        let mut buf = Vec::new();
        record(&mut buf, 42, 100);
        assert_eq!(buf.len(), 100);
        let v: serde_json::Value = serde_json::from_slice(&buf).expect("JSON");
        assert_eq!(v["n"], 42);
    }

    #[test]
    fn raw_frames_split_into_planes() {
        let frames = split_i420(&[7u8; 6 * 4 * 3 / 2 * 2 + 5], 6, 4);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[1].planes[0].len(), 24);
        assert_eq!(frames[1].planes[2].len(), 6);
    }
}
