//! The NDJSON records `osprey analyze` writes.
//!
//! One `frame` record a frame, then one `event` record for each scene cut
//! right after its frame. Integers stay JSON integers; averages, `mafd` and
//! `score` are f64 written at full precision (serde_json prints the shortest
//! text that reads back as the same f64), never rounded.
//!
//! ```text
//! {"kind":"frame","source":"cam1","frame":30,"pts":1.2,"width":1920,"height":1080,
//!  "stats":{"y_min":16,"y_low":40,"y_avg":115.94,...},"scene":{"mafd":0.53,"score":0.24}}
//! {"kind":"event","source":"cam1","type":"scene_cut","frame":30,"pts":1.2,"score":27.0}
//! ```

use osprey_kernels::metrics::{ChannelStats, Scene, Stats};
use serde::Serialize;

/// One line of output.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record<'a> {
    /// The figures of one frame.
    Frame(FrameRecord<'a>),
    /// Something that happened at a frame.
    Event(EventRecord<'a>),
}

/// The figures of one frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrameRecord<'a> {
    /// The source's name.
    pub source: &'a str,
    /// 0-based frame index in decode order.
    pub frame: u64,
    /// Presentation time in seconds (`null` when the stream has none).
    pub pts: Option<f64>,
    /// Luma width.
    pub width: u32,
    /// Luma height.
    pub height: u32,
    /// signalstats figures; absent when the `stats` kernel did not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<StatsRecord>,
    /// scdet figures; absent when the `scene` kernel did not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scene: Option<SceneRecord>,
}

/// signalstats of one frame, flat, named as ffmpeg's metadata keys are
/// (`YMIN` is `y_min`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StatsRecord {
    /// Luma: smallest value (`YMIN`).
    pub y_min: u8,
    /// Luma: 10th percentile (`YLOW`).
    pub y_low: u8,
    /// Luma: mean (`YAVG`).
    pub y_avg: f64,
    /// Luma: 90th percentile (`YHIGH`).
    pub y_high: u8,
    /// Luma: largest value (`YMAX`).
    pub y_max: u8,
    /// Chroma U: smallest value (`UMIN`).
    pub u_min: u8,
    /// Chroma U: 10th percentile (`ULOW`).
    pub u_low: u8,
    /// Chroma U: mean (`UAVG`).
    pub u_avg: f64,
    /// Chroma U: 90th percentile (`UHIGH`).
    pub u_high: u8,
    /// Chroma U: largest value (`UMAX`).
    pub u_max: u8,
    /// Chroma V: smallest value (`VMIN`).
    pub v_min: u8,
    /// Chroma V: 10th percentile (`VLOW`).
    pub v_low: u8,
    /// Chroma V: mean (`VAVG`).
    pub v_avg: f64,
    /// Chroma V: 90th percentile (`VHIGH`).
    pub v_high: u8,
    /// Chroma V: largest value (`VMAX`).
    pub v_max: u8,
    /// Saturation: smallest value (`SATMIN`).
    pub sat_min: u8,
    /// Saturation: 10th percentile (`SATLOW`).
    pub sat_low: u8,
    /// Saturation: mean (`SATAVG`).
    pub sat_avg: f64,
    /// Saturation: 90th percentile (`SATHIGH`).
    pub sat_high: u8,
    /// Saturation: largest value (`SATMAX`).
    pub sat_max: u8,
}

impl From<&Stats> for StatsRecord {
    fn from(s: &Stats) -> Self {
        let ChannelStats {
            min: y_min,
            low: y_low,
            avg: y_avg,
            high: y_high,
            max: y_max,
        } = s.y;
        let ChannelStats {
            min: u_min,
            low: u_low,
            avg: u_avg,
            high: u_high,
            max: u_max,
        } = s.u;
        let ChannelStats {
            min: v_min,
            low: v_low,
            avg: v_avg,
            high: v_high,
            max: v_max,
        } = s.v;
        let ChannelStats {
            min: sat_min,
            low: sat_low,
            avg: sat_avg,
            high: sat_high,
            max: sat_max,
        } = s.sat;
        StatsRecord {
            y_min,
            y_low,
            y_avg,
            y_high,
            y_max,
            u_min,
            u_low,
            u_avg,
            u_high,
            u_max,
            v_min,
            v_low,
            v_avg,
            v_high,
            v_max,
            sat_min,
            sat_low,
            sat_avg,
            sat_high,
            sat_max,
        }
    }
}

/// scdet figures of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SceneRecord {
    /// Mean absolute frame difference against the previous frame, 0 to 100.
    pub mafd: f64,
    /// Scene-change score, 0 to 100.
    pub score: f64,
}

impl From<&Scene> for SceneRecord {
    fn from(s: &Scene) -> Self {
        SceneRecord {
            mafd: s.mafd,
            score: s.score,
        }
    }
}

/// Something that happened at a frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRecord<'a> {
    /// The source's name.
    pub source: &'a str,
    /// What happened.
    #[serde(rename = "type")]
    pub event: EventType,
    /// The frame it happened at.
    pub frame: u64,
    /// That frame's presentation time in seconds.
    pub pts: Option<f64>,
    /// The score that crossed the threshold.
    pub score: f64,
}

/// The kinds of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// A hard cut: scdet's score reached the threshold.
    SceneCut,
}

#[cfg(test)]
#[expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the first surprise"
)]
mod tests {
    use super::*;

    fn channel(min: u8, avg: f64) -> ChannelStats {
        ChannelStats {
            min,
            low: min + 1,
            avg,
            high: min + 2,
            max: min + 3,
        }
    }

    #[test]
    fn frame_record_shape() {
        let stats = Stats {
            y: channel(16, 115.94),
            u: channel(100, 128.0),
            v: channel(110, 1.0 / 3.0),
            sat: channel(0, 2.5),
        };
        let rec = Record::Frame(FrameRecord {
            source: "cam1",
            frame: 30,
            pts: Some(1.2),
            width: 1920,
            height: 1080,
            stats: Some(StatsRecord::from(&stats)),
            scene: Some(SceneRecord {
                mafd: 0.53,
                score: 0.24,
            }),
        });
        let json = serde_json::to_string(&rec).unwrap();
        assert_eq!(
            json,
            "{\"kind\":\"frame\",\"source\":\"cam1\",\"frame\":30,\"pts\":1.2,\"width\":1920,\"height\":1080,\
             \"stats\":{\"y_min\":16,\"y_low\":17,\"y_avg\":115.94,\"y_high\":18,\"y_max\":19,\
             \"u_min\":100,\"u_low\":101,\"u_avg\":128.0,\"u_high\":102,\"u_max\":103,\
             \"v_min\":110,\"v_low\":111,\"v_avg\":0.3333333333333333,\"v_high\":112,\"v_max\":113,\
             \"sat_min\":0,\"sat_low\":1,\"sat_avg\":2.5,\"sat_high\":2,\"sat_max\":3},\
             \"scene\":{\"mafd\":0.53,\"score\":0.24}}"
        );
    }

    #[test]
    fn kernels_not_run_are_omitted() {
        let rec = Record::Frame(FrameRecord {
            source: "a",
            frame: 0,
            pts: None,
            width: 1,
            height: 1,
            stats: None,
            scene: None,
        });
        assert_eq!(
            serde_json::to_string(&rec).unwrap(),
            "{\"kind\":\"frame\",\"source\":\"a\",\"frame\":0,\"pts\":null,\"width\":1,\"height\":1}"
        );
    }

    #[test]
    fn scene_cut_event_shape() {
        let rec = Record::Event(EventRecord {
            source: "cam1",
            event: EventType::SceneCut,
            frame: 30,
            pts: Some(1.2),
            score: 27.0,
        });
        assert_eq!(
            serde_json::to_string(&rec).unwrap(),
            "{\"kind\":\"event\",\"source\":\"cam1\",\"type\":\"scene_cut\",\"frame\":30,\"pts\":1.2,\"score\":27.0}"
        );
    }
}
