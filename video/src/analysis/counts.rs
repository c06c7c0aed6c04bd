//! [`EventCounts`]: the events one analysis wrote, counted by type, for its
//! summary (`2 scene_cut, 1 black_start, 1 black_end`).

use std::fmt;

use super::record::EventType;

/// Events written, counted by type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EventCounts([u64; EventType::ALL.len()]);

impl EventCounts {
    /// Counts one more event of `kind`.
    pub fn add(&mut self, kind: EventType) {
        if let Some(i) = EventType::ALL.iter().position(|&k| k == kind) {
            self.0[i] += 1;
        }
    }

    /// The events of `kind` counted.
    pub fn get(&self, kind: EventType) -> u64 {
        EventType::ALL
            .iter()
            .position(|&k| k == kind)
            .map_or(0, |i| self.0[i])
    }

    /// Every event counted.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
}

impl fmt::Display for EventCounts {
    /// `2 scene_cut, 1 black_start, 1 black_end`, types with no event left
    /// out; `no events` when there are none.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.total() == 0 {
            return write!(f, "no events");
        }
        let mut sep = "";
        for (kind, n) in EventType::ALL.iter().zip(self.0).filter(|(_, n)| *n > 0) {
            write!(f, "{sep}{n} {}", kind.name())?;
            sep = ", ";
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_in_the_order_of_the_types() {
        let mut events = EventCounts::default();
        assert_eq!(events.to_string(), "no events");
        for kind in [
            EventType::SceneCut,
            EventType::BlackEnd,
            EventType::SceneCut,
            EventType::BlackStart,
        ] {
            events.add(kind);
        }
        assert_eq!(events.total(), 4);
        assert_eq!(events.get(EventType::SceneCut), 2);
        assert_eq!(events.get(EventType::ZoneExit), 0);
        assert_eq!(
            events.to_string(),
            "2 scene_cut, 1 black_start, 1 black_end"
        );
    }
}
