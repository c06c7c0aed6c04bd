//! The topic layout: which MQTT messages one record line becomes.

use std::borrow::Cow;

/// One message to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    /// Its topic.
    pub topic: String,
    /// Its payload.
    pub payload: Vec<u8>,
    /// Whether the broker keeps it as the topic's last value.
    pub retain: bool,
}

/// The fields of a record that choose its topics.
#[derive(serde::Deserialize)]
struct Head<'a> {
    #[serde(borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    source: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "type")]
    event: Option<Cow<'a, str>>,
}

/// The messages of one record `line` (no newline) under `prefix`; records
/// without a `kind` and a `source` go to `prefix/other`.
pub fn route(prefix: &str, other: &str, line: &[u8], out: &mut Vec<Publication>) {
    let head = serde_json::from_slice::<Head<'_>>(line).ok();
    let publication = |topic: String, payload: &[u8], retain: bool| Publication {
        topic,
        payload: payload.to_vec(),
        retain,
    };
    let Some((kind, source, event)) =
        head.and_then(|h| Some((h.kind?, h.source?, h.event.unwrap_or_default())))
    else {
        out.push(publication(format!("{prefix}/{other}"), line, false));
        return;
    };
    let base = format!("{prefix}/{}", level(&source));
    let (topic, retain) = match kind.as_ref() {
        "event" => ("events".into(), false),
        "frame" => ("frames".into(), false),
        "error" => ("errors".into(), false),
        "status" => ("status".into(), true),
        other => (level(other), false),
    };
    out.push(publication(format!("{base}/{topic}"), line, retain));
    if kind == "event" {
        match event.as_ref() {
            "motion_start" => out.push(publication(format!("{base}/motion"), b"ON", true)),
            "motion_end" => out.push(publication(format!("{base}/motion"), b"OFF", true)),
            e if e.starts_with("camera_") => {
                out.push(publication(format!("{base}/health"), line, true));
            }
            _ => {}
        }
    }
}

/// `name` as one topic level: `/`, `+` and `#` (and an empty name) would
/// change the topic's shape, so they become `_`.
pub fn level(name: &str) -> String {
    if name.is_empty() {
        return "_".into();
    }
    name.replace(['/', '+', '#'], "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics(line: &str) -> Vec<(String, String, bool)> {
        let mut out = Vec::new();
        route("p", "rows", line.as_bytes(), &mut out);
        out.into_iter()
            .map(|p| (p.topic, String::from_utf8(p.payload).unwrap(), p.retain))
            .collect()
    }

    #[test]
    fn records_find_their_topics() {
        let start = r#"{"kind":"event","source":"cam/1","type":"motion_start","frame":3}"#;
        assert_eq!(
            topics(start),
            [
                ("p/cam_1/events".into(), start.into(), false),
                ("p/cam_1/motion".into(), "ON".into(), true)
            ]
        );
        let end = r#"{"kind":"event","source":"c","type":"motion_end"}"#;
        assert_eq!(topics(end)[1], ("p/c/motion".into(), "OFF".into(), true));
        let health = r#"{"kind":"event","source":"c","type":"camera_blocked_start"}"#;
        assert_eq!(
            topics(health)[1],
            ("p/c/health".into(), health.into(), true)
        );
        let frame = r#"{"kind":"frame","source":"c","frame":1}"#;
        assert_eq!(topics(frame), [("p/c/frames".into(), frame.into(), false)]);
        let status = r#"{"kind":"status","source":"c","type":"source_up"}"#;
        assert_eq!(topics(status), [("p/c/status".into(), status.into(), true)]);
        let row = r#"{"source":"c","avg":1.5}"#;
        assert_eq!(topics(row), [("p/rows".into(), row.into(), false)]);
        assert_eq!(topics("not json")[0].0, "p/rows");
    }
}
