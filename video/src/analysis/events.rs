//! [`Event`]: one event found at a frame, before it becomes a record, and
//! [`period_events`], the one place a period's start and end become events
//! (black, freeze, motion and every zone alike).

use osprey_kernels::metrics::period::{Mark, Step};

use super::record::EventType;

/// One event, before it becomes a record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    /// What happened.
    pub kind: EventType,
    /// The frame it names (a period's first frame for a start).
    pub at: Mark,
    /// An end's period length in seconds.
    pub duration: Option<f64>,
    /// A scene cut's score.
    pub score: Option<f64>,
    /// A zone event's zone, as an index into
    /// [`Finisher::zone_name`](super::Finisher::zone_name).
    pub zone: Option<usize>,
    /// True for an end written because the stream ended.
    pub eos: bool,
}

impl Event {
    /// An event of `kind` at `at`, with nothing else to say.
    pub(super) fn at(kind: EventType, at: Mark) -> Self {
        Event {
            kind,
            at,
            duration: None,
            score: None,
            zone: None,
            eos: false,
        }
    }
}

/// Appends the events of one period step: `kinds` are the start and end types.
pub(super) fn period_events(
    step: Step,
    [start_kind, end_kind]: [EventType; 2],
    zone: Option<usize>,
    out: &mut Vec<Event>,
) {
    if let Some(start) = step.start {
        out.push(Event {
            zone,
            ..Event::at(start_kind, start)
        });
    }
    if let Some(end) = step.end {
        out.push(Event {
            duration: end.duration,
            zone,
            eos: end.eos,
            ..Event::at(end_kind, end.at)
        });
    }
}
