//! The API's pieces without a server: the producer's frames cut into
//! fragments.

use bytes::Bytes;

use super::mkv::reader::{Block, Event, TrackEntry};
use super::put_media::{Cut, Cutter, PutError};

fn tracks() -> Event {
    Event::Tracks(vec![TrackEntry {
        number: 1,
        kind: 1,
        codec_id: "V_MPEG4/ISO/AVC".into(),
        codec_private: vec![1, 0x42, 0, 0x1e, 0xff, 0xe1],
        default_duration_ns: None,
        width: 320,
        height: 240,
    }])
}

fn block(ms: u64, key: bool) -> Event {
    Event::Block(Block {
        track: 1,
        time_ns: ms * 1_000_000,
        key,
        data: Bytes::from_static(&[0, 0, 0, 1, 0x65]),
    })
}

#[test]
fn clusters_that_start_on_a_key_frame_start_fragments() {
    let mut cutter = Cutter::new(1_000_000_000);
    let mut out = Vec::new();
    let events = [
        tracks(),
        Event::Cluster(0),
        block(0, false), // before any key frame: dropped
        block(40, true),
        block(80, false),
        Event::Cluster(120_000_000),
        block(120, false), // not a key frame: the fragment goes on
        Event::Cluster(160_000_000),
        block(160, true),
        block(200, false),
    ];
    for event in events {
        cutter.event(event, &mut out).unwrap();
    }
    out.extend(cutter.finish());
    let closed: Vec<_> = out
        .iter()
        .filter_map(|c| match c {
            Cut::Closed(f, tc) => Some((f, *tc)),
            Cut::Started(_) => None,
        })
        .collect();
    assert_eq!(closed.len(), 2, "{out:?}");
    let (first, tc) = closed[0];
    assert_eq!(tc, 0);
    assert_eq!(first.frames.len(), 3);
    assert_eq!(first.frames[0].pts_ns, 1_040_000_000);
    assert!(first.frames.iter().all(|f| f.duration_ns == 40_000_000));
    let (second, tc) = closed[1];
    assert_eq!(tc, 160);
    assert_eq!(second.frames.len(), 2);
    // The last frame takes the one before's duration.
    assert_eq!(second.frames[1].duration_ns, 40_000_000);
    assert_eq!(
        out.iter().filter(|c| matches!(c, Cut::Started(_))).count(),
        2
    );
}

#[test]
fn backwards_timecodes_and_blocks_without_tracks_are_refused() {
    let mut cutter = Cutter::new(0);
    let mut out = Vec::new();
    assert_eq!(
        cutter.event(block(0, true), &mut out),
        Err(PutError::InvalidMkv)
    );
    cutter.event(tracks(), &mut out).unwrap();
    cutter.event(Event::Cluster(5_000_000), &mut out).unwrap();
    assert_eq!(
        cutter.event(Event::Cluster(4_000_000), &mut out),
        Err(PutError::TimecodeBackwards)
    );
}

#[test]
fn timestamps_are_seconds_or_rfc_3339_and_errors_carry_their_name() {
    use axum::response::IntoResponse as _;
    use serde_json::json;

    use super::error::KvsError;
    use super::request::{seconds, timestamp};

    let body = json!({"A": 1_700_000_000.25, "B": "2023-11-14T22:13:20.5Z", "C": "x", "D": -1});
    assert_eq!(
        timestamp(&body, "A").unwrap(),
        Some(1_700_000_000_250_000_000)
    );
    assert_eq!(
        timestamp(&body, "B").unwrap(),
        Some(1_700_000_000_500_000_000)
    );
    assert_eq!(timestamp(&body, "Z").unwrap(), None);
    for bad in ["C", "D"] {
        assert_eq!(
            timestamp(&body, bad).unwrap_err().name,
            "InvalidArgumentException"
        );
    }
    assert_eq!(seconds(1_700_000_000_250_999_999), json!(1_700_000_000.25));
    let response = KvsError::not_found("gone").into_response();
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()["x-amzn-ErrorType"],
        "ResourceNotFoundException"
    );
}

#[test]
fn decimal_seconds_are_read_to_the_nanosecond() {
    use super::request::decimal_seconds_ns;
    assert_eq!(
        decimal_seconds_ns("1700000000.123"),
        Some(1_700_000_000_123_000_000)
    );
    assert_eq!(decimal_seconds_ns("5"), Some(5_000_000_000));
    assert_eq!(decimal_seconds_ns("1.0000000019"), Some(1_000_000_001));
    for bad in ["", ".5", "1e9", "-1", "1.2.3", "99999999999999"] {
        assert_eq!(decimal_seconds_ns(bad), None, "{bad}");
    }
}
