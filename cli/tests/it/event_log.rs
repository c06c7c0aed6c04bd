//! The events of a run as one short line each, with the frame record each
//! follows: `"motion_start 40 @41"` is a `motion_start` naming frame 40,
//! written after the record of frame 41. Where an event is written is part of
//! its meaning (a start is written once its period is long enough), so tests
//! compare these lines whole.

use serde_json::Value;

/// One line an event: type, zone (if any), the frame it names, `@` the frame
/// record it follows, and `eos` on an end closed by the end of the stream.
/// Also checks each event's `pts` is its frame's at 25 fps.
#[track_caller]
pub fn event_log(records: &[Value]) -> Vec<String> {
    let mut after = None;
    let mut out = Vec::new();
    for r in records {
        match r["kind"].as_str() {
            Some("frame") => after = r["frame"].as_u64(),
            Some("event") => {
                let frame = r["frame"].as_u64().unwrap();
                let pts = r["pts"].as_f64().unwrap();
                assert!((pts - frame as f64 / 25.0).abs() < 1e-9, "pts of {r}");
                let mut line = r["type"].as_str().unwrap().to_owned();
                if let Some(zone) = r["zone"].as_str() {
                    line += &format!(" {zone}");
                }
                let after = after.unwrap_or_else(|| panic!("an event before any frame: {r}"));
                line += &format!(" {frame} @{after}");
                if r["eos"] == true {
                    line += " eos";
                }
                out.push(line);
            }
            _ => {}
        }
    }
    out
}

/// The `duration` of each end event, in order.
pub fn durations(records: &[Value]) -> Vec<f64> {
    records
        .iter()
        .filter_map(|r| r["duration"].as_f64())
        .collect()
}
