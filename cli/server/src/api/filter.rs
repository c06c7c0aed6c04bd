//! [`EventFilter`]: the `source=` and `type=` filters that
//! `GET /api/events` and `GET /api/events/live` share.

use serde::Deserialize;

/// `?source=cam1,cam2&type=scene_cut,motion_start`: each a comma-separated
/// list; a record passes when it matches every list given.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub(super) struct EventFilter {
    /// Sources wanted (all when absent).
    source: Option<String>,
    /// Types wanted (all when absent).
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// The two fields of a record a filter reads; the rest is skipped.
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(borrow)]
    source: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, rename = "type")]
    kind: Option<std::borrow::Cow<'a, str>>,
}

impl EventFilter {
    /// True when the JSON record `line` passes (never for a line that is
    /// not a JSON object).
    pub(super) fn matches(&self, line: &[u8]) -> bool {
        let Ok(head) = serde_json::from_slice::<Head<'_>>(line) else {
            return false;
        };
        one_of(self.source.as_deref(), head.source.as_deref())
            && one_of(self.kind.as_deref(), head.kind.as_deref())
    }
}

/// True when `wanted` (a comma-separated list) is absent or names `value`.
fn one_of(wanted: Option<&str>, value: Option<&str>) -> bool {
    match wanted {
        None => true,
        Some(list) => value.is_some_and(|v| list.split(',').any(|w| w.trim() == v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(source: Option<&str>, kind: Option<&str>) -> EventFilter {
        EventFilter {
            source: source.map(Into::into),
            kind: kind.map(Into::into),
        }
    }

    #[test]
    fn filters_by_source_and_type() {
        let cut = br#"{"kind":"event","source":"cam1","type":"scene_cut","frame":3}"#;
        let down = br#"{"kind":"status","source":"cam2","type":"source_down"}"#;
        assert!(filter(None, None).matches(cut));
        assert!(filter(Some("cam1"), None).matches(cut));
        assert!(!filter(Some("cam2"), None).matches(cut));
        assert!(filter(Some("cam2, cam1"), Some("scene_cut")).matches(cut));
        assert!(!filter(Some("cam1"), Some("motion_start")).matches(cut));
        assert!(filter(None, Some("scene_cut,source_down")).matches(down));
        assert!(!filter(None, None).matches(b"not json"));
        assert!(!filter(Some("cam1"), None).matches(b"{}"));
        assert!(filter(None, None).matches(b"{}"));
    }
}
