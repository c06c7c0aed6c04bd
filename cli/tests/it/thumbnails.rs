//! `--thumbnails`: the JPEG written for an event shows the frame it names.
//!
//! The clip (FFV1, 320x240, 25 fps, 60 frames) is a flat colour a frame,
//! every frame's different from its neighbours' (see [`colour`]): luma 120 for frames 0 to 19, black (luma 16) for 20 to 39,
//! luma 160 for 40 to 59. With `--kernels black,scene` and
//! `--black-min-duration 0.2` its events are a cut at 20, a black period from
//! 20 (known to be long enough at 25, 0.2 s later, where its start is
//! written), and a cut and the black end at 40. A thumbnail is of the frame
//! its event is written at: the event's own frame for cuts and ends, the
//! confirming frame for a start (`write_events` in `cli/server/src/analyze/mod.rs`),
//! which its file name, `<source>-<frame>-<type>.jpg`, gives. Each thumbnail's
//! mean colour must be that frame's (BT.601, limited range) within JPEG's
//! error, and far from its neighbours'.
//!
//! Motion and zone events get thumbnails too, named with the zone: on
//! [`jumping_clip`] each must show the white square where it stood at that
//! frame, or no square once it has gone.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::common::{arg, run};
use crate::event_log::event_log;
use crate::made_clips::{FFV1, made};
use crate::motion_events::{ZONES_TOML, jumping_clip, zones_file};

/// The flat colours, frame `N` by frame; see [`colour`].
const GRAPH: &str = "color=black:s=320x240:r=25,format=yuv420p,\
    geq=lum='if(lt(N,20),120,if(lt(N,40),16,160))'\
    :cb='if(lt(N,20),40+6*N,if(lt(N,40),130+6*(N-20),128))'\
    :cr='if(lt(N,40),128,60+8*(N-40))'";

/// Frame `n`'s `(Y, U, V)`, as [`GRAPH`] draws it: the chroma moves 6 or 8
/// levels a frame, so neighbours differ by 12 or more in one of R, G, B.
fn colour(n: u64) -> [f64; 3] {
    let n = n as f64;
    match n {
        _ if n < 20.0 => [120.0, 40.0 + 6.0 * n, 128.0],
        _ if n < 40.0 => [16.0, 130.0 + 6.0 * (n - 20.0), 128.0],
        _ => [160.0, 128.0, 60.0 + 8.0 * (n - 40.0)],
    }
}

/// RGB of `[Y, U, V]` by BT.601's limited-range matrix, clipped.
fn rgb([y, u, v]: [f64; 3]) -> [f64; 3] {
    let (y, u, v) = (1.164 * (y - 16.0), u - 128.0, v - 128.0);
    [y + 1.596 * v, y - 0.392 * u - 0.813 * v, y + 2.017 * u].map(|c| c.clamp(0.0, 255.0))
}

fn clip() -> &'static Path {
    static CELL: OnceLock<PathBuf> = OnceLock::new();
    made(&CELL, "colours-320x240.mkv", GRAPH, 60, &FFV1)
}

/// The mean RGB of the image at `path`.
fn mean_rgb(path: &Path) -> [f64; 3] {
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("cannot read {path:?}: {e}"))
        .to_rgb8();
    assert_eq!(img.dimensions(), (64, 48), "{path:?}");
    let n = f64::from(img.width() * img.height());
    [0, 1, 2].map(|c| img.pixels().map(|p| f64::from(p.0[c])).sum::<f64>() / n)
}

/// The largest difference of one channel between `a` and `b`.
fn distance(a: [f64; 3], b: [f64; 3]) -> f64 {
    (0..3).map(|c| (a[c] - b[c]).abs()).fold(0.0, f64::max)
}

#[test]
fn each_thumbnail_shows_the_frame_its_event_is_written_at() {
    let dir = tempfile::tempdir().unwrap();
    let thumbs = dir.path().join("thumbs");
    let r = run(&[
        "analyze",
        arg(clip()),
        "--backend",
        "cpu",
        "--kernels",
        "black,scene",
        "--black-min-duration",
        "0.2",
        "--thumbnails",
        arg(&thumbs),
        "--thumbnail-width",
        "64",
        "--source",
        "colours",
    ])
    .success();
    let records = r.records();
    assert_eq!(
        event_log(&records),
        [
            "scene_cut 20 @20",
            "black_start 20 @25",
            "scene_cut 40 @40",
            "black_end 40 @40",
        ]
    );
    let events: Vec<_> = records.iter().filter(|r| r["kind"] == "event").collect();
    let written_at = [20u64, 25, 40, 40];
    let mut files: Vec<String> = std::fs::read_dir(&thumbs)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "colours-20-scene_cut.jpg",
            "colours-25-black_start.jpg",
            "colours-40-black_end.jpg",
            "colours-40-scene_cut.jpg",
        ],
        "one thumbnail an event"
    );
    for (e, at) in events.iter().zip(written_at) {
        let name = format!("colours-{at}-{}.jpg", e["type"].as_str().unwrap());
        assert_eq!(e["thumbnail"], name.as_str(), "{e}");
        let got = mean_rgb(&thumbs.join(&name));
        let want = rgb(colour(at));
        assert!(
            distance(got, want) <= 4.0,
            "{name}: mean colour {got:?}, frame {at} is {want:?}"
        );
        // The frames around it are far enough away for a wrong frame to fail.
        for other in [at - 1, at + 1] {
            assert!(
                distance(got, rgb(colour(other))) > 8.0,
                "{name}: frame {other} has the colour too"
            );
        }
    }
    // A start is written at its confirming frame: its thumbnail is not the
    // black frame 20 it names.
    assert!(
        distance(
            mean_rgb(&thumbs.join("colours-25-black_start.jpg")),
            rgb(colour(20))
        ) > 8.0
    );
}

/// The column of the brightest pixel of the image at `path` and its luma-ish
/// value (the mean of R, G and B).
fn brightest(path: &Path) -> (u32, f64) {
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("cannot read {path:?}: {e}"))
        .to_rgb8();
    img.enumerate_pixels()
        .map(|(x, _, p)| (x, p.0.iter().map(|&c| f64::from(c)).sum::<f64>() / 3.0))
        .fold(
            (0, -1.0),
            |best, (x, v)| if v > best.1 { (x, v) } else { best },
        )
}

#[test]
fn motion_and_zone_thumbnails_show_the_square_where_it_stood() {
    let (dir, zones) = zones_file("zones.toml", ZONES_TOML);
    let thumbs = dir.path().join("thumbs");
    let r = run(&[
        "analyze",
        arg(jumping_clip()),
        "--backend",
        "cpu",
        "--kernels",
        "motion",
        "--zones",
        arg(&zones),
        "--thumbnails",
        arg(&thumbs),
        "--thumbnail-width",
        "64",
        "--source",
        "jump",
    ])
    .success();
    let names: Vec<String> = r
        .records()
        .iter()
        .filter(|e| e["kind"] == "event")
        .map(|e| e["thumbnail"].as_str().unwrap().to_owned())
        .collect();
    // Written at 31 (left, x 40..64 of 320), 51 (right, x 250..274), 64 and
    // 74 (gone).
    assert_eq!(
        names,
        [
            "jump-31-motion_start.jpg",
            "jump-31-zone_enter-left.jpg",
            "jump-51-zone_enter-right.jpg",
            "jump-64-zone_exit-left.jpg",
            "jump-74-zone_exit-right.jpg",
            "jump-74-motion_end.jpg",
        ]
    );
    for name in &names {
        let (x, value) = brightest(&thumbs.join(name));
        // At 64 pixels wide the square spans x 8..12.8 (left) or 50..54.8
        // (right); white is 255, black 0.
        match &name[5..7] {
            "31" => assert!(
                value > 200.0 && (7..=13).contains(&x),
                "{name}: {x} {value}"
            ),
            "51" => assert!(
                value > 200.0 && (49..=55).contains(&x),
                "{name}: {x} {value}"
            ),
            _ => assert!(value < 30.0, "{name}: a square at {x} ({value})"),
        }
    }
}
