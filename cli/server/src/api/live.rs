//! `GET /api/events/live`: Server-Sent Events, one `message` a camera
//! event record (NDJSON line) as it is written, filtered as
//! `/api/events`. A client that falls behind the feed's bounded queue
//! gets a `lagged` event saying how many it missed and goes on with the
//! newest: no client holds memory without bound. Keep-alive comments
//! every [`KEEP_ALIVE`].

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::Ctl;
use super::extract::Params;
use super::filter::EventFilter;

/// How often an idle feed sends a comment, so proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// `GET /api/events/live?source=&type=`.
pub(super) async fn feed(
    State(control): State<Ctl>,
    Params(filter): Params<EventFilter>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let events = control.subscribe_events();
    let stream = futures_util::stream::unfold((events, filter), |(mut events, filter)| async {
        loop {
            let event = match events.recv().await {
                Ok(line) if filter.matches(line.as_bytes()) => Event::default().data(&*line),
                Ok(_) => continue,
                Err(RecvError::Lagged(missed)) => Event::default()
                    .event("lagged")
                    .data(format!("{{\"missed\":{missed}}}")),
                Err(RecvError::Closed) => return None,
            };
            return Some((Ok(event), (events, filter)));
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive"))
}
