//! The records an analysis writes (as NDJSON lines in `osprey analyze`).
//!
//! One `frame` record a frame, then the `event` records found at that frame
//! (scene cuts, black, freeze and motion periods); at end of stream the
//! events that close periods still open, flagged `"eos":true`. Events that
//! name an earlier frame (a black period is known to be long enough only
//! some frames after it began) come after the frame that revealed them.
//! Integers stay JSON integers; averages, `mafd` and
//! `score` are f64 written at full precision (serde_json prints the shortest
//! text that reads back as the same f64), never rounded.
//!
//! ```text
//! {"kind":"frame","source":"cam1","frame":30,"pts":1.2,"width":1920,"height":1080,
//!  "stats":{"y_min":16,"y_low":40,"y_avg":115.94,...},"scene":{"mafd":0.53,"score":0.24}}
//! {"kind":"event","source":"cam1","type":"scene_cut","frame":30,"pts":1.2,"score":27.0}
//! ```

use osprey_kernels::FrameRaw;
use osprey_kernels::metrics::period::Mark;
use osprey_kernels::metrics::{ChannelStats, Scene, Stats};
use serde::Serialize;

pub use super::detector_records::{
    BlackRecord, BlurRecord, FreezeRecord, MotionRecord, ZoneRatios,
};
use super::finisher::Figures;
use crate::wall_clock;

/// One line of output.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record<'a> {
    /// The figures of one frame.
    Frame(FrameRecord<'a>),
    /// Something that happened at a frame.
    Event(EventRecord<'a>),
    /// Damage in the input that the decoder went past; analysis goes on.
    Error(ErrorRecord<'a>),
    /// What happened to a live source: down, up again, a gap in its frames.
    Status(StatusRecord<'a>),
}

/// What happened to a live source (supervision):
/// `{"kind":"status","source":"cam1","type":"source_down","ts":"...","reason":"connection refused"}`,
/// `source_up` with what was negotiated, `gap` with the missing span.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusRecord<'a> {
    /// The source's name.
    pub source: &'a str,
    /// What happened.
    #[serde(rename = "type")]
    pub status: StatusType,
    /// When it happened (RFC 3339 UTC, milliseconds).
    #[serde(serialize_with = "wall_clock::serialize")]
    pub ts: Option<f64>,
    /// Why a source went down (credentials redacted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
    /// `source_up`: the codec negotiated (`h264`, `h265`, ...), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codec: Option<&'a str>,
    /// `source_up`: frame width.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// `source_up`: frame height.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// `source_up`: frames a second, when the caps say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fps: Option<f64>,
    /// `source_up`: the GStreamer decoder element in use (`avdec_h264`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decoder: Option<&'a str>,
    /// `gap`: wall-clock time of the last frame before the gap.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "wall_clock::serialize"
    )]
    pub from: Option<f64>,
    /// `gap`: wall-clock time of the first frame after it.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "wall_clock::serialize"
    )]
    pub to: Option<f64>,
    /// `gap`: the missing span in seconds; `source_down`: attempts so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// `source_down`: the reconnection attempt this is (1 for the first
    /// failure after frames flowed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// `source_down`: seconds until the next attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_in: Option<f64>,
    /// `frames_dropped`: frames dropped before the kernels since the last
    /// such record, because analysis could not keep up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped: Option<u64>,
}

impl<'a> StatusRecord<'a> {
    /// A status record of `status` for `source` at `ts`, nothing else said.
    pub fn new(source: &'a str, status: StatusType, ts: Option<f64>) -> Self {
        StatusRecord {
            source,
            status,
            ts,
            reason: None,
            codec: None,
            width: None,
            height: None,
            fps: None,
            decoder: None,
            from: None,
            to: None,
            duration: None,
            attempt: None,
            retry_in: None,
            dropped: None,
        }
    }
}

/// The kinds of status record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusType {
    /// The source delivers frames (again): what was negotiated.
    SourceUp,
    /// The source failed, ended or stalled; it will be reconnected.
    SourceDown,
    /// Frames came back after a time with none.
    Gap,
    /// Analysis fell behind a live source and dropped its oldest frames
    /// (at most one such record a second while it lasts).
    FramesDropped,
}

/// Damage in the input that the decoder went past (lost frames, a
/// discontinuity, a GStreamer warning):
/// `{"kind":"error","source":"cam1","frame":103,"pts":4.12,"message":"..."}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorRecord<'a> {
    /// The source's name.
    pub source: &'a str,
    /// Index of the first frame decoded after the damage; `null` when the
    /// stream ended first.
    pub frame: Option<u64>,
    /// That frame's presentation time in seconds (`null` when unknown).
    pub pts: Option<f64>,
    /// Wall-clock time (RFC 3339 UTC, milliseconds), when known.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "wall_clock::serialize"
    )]
    pub ts: Option<f64>,
    /// What happened and where.
    pub message: &'a str,
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
    /// Wall-clock capture time (RFC 3339 UTC, milliseconds): present for
    /// live sources, and for files given a start time.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "wall_clock::serialize"
    )]
    pub ts: Option<f64>,
    /// Luma width analysed: the decoded width, or the detect size's
    /// ([`osprey_kernels::kernel::AnalysisConfig::detect_size`]).
    pub width: u32,
    /// Luma height analysed: the decoded height, or the detect size's.
    pub height: u32,
    /// signalstats figures; absent when the `stats` kernel did not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<StatsRecord>,
    /// scdet figures; absent when the `scene` kernel did not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scene: Option<SceneRecord>,
    /// Motion figures; absent when the `motion` kernel did not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub motion: Option<MotionRecord<'a>>,
    /// blackdetect's ratio; absent when the `black` kernel did not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub black: Option<BlackRecord>,
    /// freezedetect's figures; absent when the `freeze` kernel did not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freeze: Option<FreezeRecord>,
    /// blurdetect's figures; absent when the `blur` kernel did not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blur: Option<BlurRecord>,
}

impl<'a> FrameRecord<'a> {
    /// The record of frame `now` of `source`, from the frame's `figures`.
    /// `ts` is the frame's wall-clock time in Unix seconds, when known.
    pub fn new(
        source: &'a str,
        now: Mark,
        ts: Option<f64>,
        raw: &FrameRaw,
        figures: &'a Figures,
    ) -> Self {
        FrameRecord {
            source,
            frame: now.frame,
            pts: now.pts,
            ts,
            width: raw.width,
            height: raw.height,
            stats: figures.stats.as_ref().map(StatsRecord::from),
            scene: figures.scene.as_ref().map(SceneRecord::from),
            motion: figures.motion.as_ref().map(MotionRecord::from),
            black: figures.black.as_ref().map(BlackRecord::from),
            freeze: figures.freeze.as_ref().map(FreezeRecord::from),
            blur: figures.blur.as_ref().map(BlurRecord::from),
        }
    }
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
    /// Median hue in degrees, 0 to 359 (`HUEMED`).
    pub hue_med: u16,
    /// Mean hue in degrees (`HUEAVG`).
    pub hue_avg: f64,
    /// Mean absolute luma difference against the previous frame (`YDIF`).
    pub y_dif: f64,
    /// Mean absolute U difference against the previous frame (`UDIF`).
    pub u_dif: f64,
    /// Mean absolute V difference against the previous frame (`VDIF`).
    pub v_dif: f64,
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
            hue_med: s.hue_med,
            hue_avg: s.hue_avg,
            y_dif: s.ydif,
            u_dif: s.udif,
            v_dif: s.vdif,
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
    /// The frame it happened at: for a start, the period's first frame; for
    /// an end, the first frame after it (or the last frame at end of stream).
    pub frame: u64,
    /// That frame's presentation time in seconds (`null` when it has none).
    pub pts: Option<f64>,
    /// That frame's wall-clock time (RFC 3339 UTC, milliseconds), when
    /// known; for `camera_offline_*`, when the source went down or came back.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "wall_clock::serialize"
    )]
    pub ts: Option<f64>,
    /// An end's period length in seconds, `end - start`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// A scene cut's score.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// A zone event's zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<&'a str>,
    /// The thumbnail's file, with `--thumbnails`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<&'a str>,
    /// True for an end written because the stream ended.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub eos: bool,
}

/// The kinds of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// A hard cut: scdet's score reached the threshold.
    SceneCut,
    /// A black period began (blackdetect's `black_start`).
    BlackStart,
    /// A black period ended (`black_end`, with `black_duration`).
    BlackEnd,
    /// A freeze began (freezedetect's `freeze_start`).
    FreezeStart,
    /// A freeze ended (`freeze_end`, with `freeze_duration`).
    FreezeEnd,
    /// Motion began.
    MotionStart,
    /// Motion ended.
    MotionEnd,
    /// Motion began in a zone.
    ZoneEnter,
    /// Motion ended in a zone.
    ZoneExit,
    /// The picture became covered, black or uniform for longer than the
    /// minimum duration.
    CameraBlockedStart,
    /// The picture is no longer covered.
    CameraBlockedEnd,
    /// The view changed and stayed changed.
    CameraMovedStart,
    /// The moved view became the camera's new normal (recalibrated).
    CameraMovedEnd,
    /// The picture stayed blurrier than its baseline for longer than the
    /// minimum duration.
    CameraBlurredStart,
    /// The picture is sharp again.
    CameraBlurredEnd,
    /// A live source repeats the same picture while frames keep arriving.
    CameraFrozenStart,
    /// The picture moves again.
    CameraFrozenEnd,
    /// A live source went down (supervision).
    CameraOfflineStart,
    /// A live source is back, with the offline `duration`.
    CameraOfflineEnd,
}

impl EventType {
    /// Every kind, in the order the summary lists them.
    pub const ALL: [EventType; 19] = [
        EventType::SceneCut,
        EventType::BlackStart,
        EventType::BlackEnd,
        EventType::FreezeStart,
        EventType::FreezeEnd,
        EventType::MotionStart,
        EventType::MotionEnd,
        EventType::ZoneEnter,
        EventType::ZoneExit,
        EventType::CameraBlockedStart,
        EventType::CameraBlockedEnd,
        EventType::CameraMovedStart,
        EventType::CameraMovedEnd,
        EventType::CameraBlurredStart,
        EventType::CameraBlurredEnd,
        EventType::CameraFrozenStart,
        EventType::CameraFrozenEnd,
        EventType::CameraOfflineStart,
        EventType::CameraOfflineEnd,
    ];

    /// The name records use.
    pub fn name(self) -> &'static str {
        match self {
            EventType::SceneCut => "scene_cut",
            EventType::BlackStart => "black_start",
            EventType::BlackEnd => "black_end",
            EventType::FreezeStart => "freeze_start",
            EventType::FreezeEnd => "freeze_end",
            EventType::MotionStart => "motion_start",
            EventType::MotionEnd => "motion_end",
            EventType::ZoneEnter => "zone_enter",
            EventType::ZoneExit => "zone_exit",
            EventType::CameraBlockedStart => "camera_blocked_start",
            EventType::CameraBlockedEnd => "camera_blocked_end",
            EventType::CameraMovedStart => "camera_moved_start",
            EventType::CameraMovedEnd => "camera_moved_end",
            EventType::CameraBlurredStart => "camera_blurred_start",
            EventType::CameraBlurredEnd => "camera_blurred_end",
            EventType::CameraFrozenStart => "camera_frozen_start",
            EventType::CameraFrozenEnd => "camera_frozen_end",
            EventType::CameraOfflineStart => "camera_offline_start",
            EventType::CameraOfflineEnd => "camera_offline_end",
        }
    }
}

#[cfg(test)]
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
            hue_med: 270,
            hue_avg: 181.5,
            ydif: 0.25,
            udif: 0.5,
            vdif: 0.75,
        };
        let rec = Record::Frame(FrameRecord {
            source: "cam1",
            frame: 30,
            pts: Some(1.2),
            ts: None,
            width: 1920,
            height: 1080,
            stats: Some(StatsRecord::from(&stats)),
            scene: Some(SceneRecord {
                mafd: 0.53,
                score: 0.24,
            }),
            motion: None,
            black: None,
            freeze: None,
            blur: None,
        });
        let json = serde_json::to_string(&rec).unwrap();
        assert_eq!(
            json,
            "{\"kind\":\"frame\",\"source\":\"cam1\",\"frame\":30,\"pts\":1.2,\"width\":1920,\"height\":1080,\
             \"stats\":{\"y_min\":16,\"y_low\":17,\"y_avg\":115.94,\"y_high\":18,\"y_max\":19,\
             \"u_min\":100,\"u_low\":101,\"u_avg\":128.0,\"u_high\":102,\"u_max\":103,\
             \"v_min\":110,\"v_low\":111,\"v_avg\":0.3333333333333333,\"v_high\":112,\"v_max\":113,\
             \"sat_min\":0,\"sat_low\":1,\"sat_avg\":2.5,\"sat_high\":2,\"sat_max\":3,\
             \"hue_med\":270,\"hue_avg\":181.5,\"y_dif\":0.25,\"u_dif\":0.5,\"v_dif\":0.75},\
             \"scene\":{\"mafd\":0.53,\"score\":0.24}}"
        );
    }

    #[test]
    fn kernels_not_run_are_omitted() {
        let rec = Record::Frame(FrameRecord {
            source: "a",
            frame: 0,
            pts: None,
            ts: None,
            width: 1,
            height: 1,
            stats: None,
            scene: None,
            motion: None,
            black: None,
            freeze: None,
            blur: None,
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
            ts: None,
            duration: None,
            score: Some(27.0),
            zone: None,
            thumbnail: None,
            eos: false,
        });
        assert_eq!(
            serde_json::to_string(&rec).unwrap(),
            "{\"kind\":\"event\",\"source\":\"cam1\",\"type\":\"scene_cut\",\"frame\":30,\"pts\":1.2,\"score\":27.0}"
        );
    }

    #[test]
    fn event_names_match_serde() {
        for t in EventType::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), t.name());
        }
    }

    #[test]
    fn period_end_event_shape() {
        let rec = Record::Event(EventRecord {
            source: "cam1",
            event: EventType::ZoneExit,
            frame: 90,
            pts: None,
            ts: None,
            duration: Some(2.5),
            score: None,
            zone: Some("door"),
            thumbnail: Some("thumbs/cam1-90-zone_exit.jpg"),
            eos: true,
        });
        assert_eq!(
            serde_json::to_string(&rec).unwrap(),
            "{\"kind\":\"event\",\"source\":\"cam1\",\"type\":\"zone_exit\",\"frame\":90,\"pts\":null,\
             \"duration\":2.5,\"zone\":\"door\",\"thumbnail\":\"thumbs/cam1-90-zone_exit.jpg\",\"eos\":true}"
        );
    }
}
