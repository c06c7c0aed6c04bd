//! The clock of one connection: what it is doing (waiting for a request,
//! reading a request head, serving requests) since when, and whether an
//! answer is stuck on its way out ([`Activity`]); the socket wrapper that
//! keeps it ([`Watched`]); and the watchdog that ends the connection when
//! one of the [`Timeouts`] passes ([`watchdog`]).
//!
//! One timer a connection, woken at the next deadline, not one per request:
//! the request path only stores a phase and a time. An HTTP/2 connection
//! serves several requests at once: it is busy while any is, and once it
//! has served one, bytes between requests (pings, window updates) are
//! frames rather than a head on its way, so only `idle` bounds them.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use super::Timeouts;

/// Waiting for a request: nothing of one has arrived.
const IDLE: u8 = 0;
/// A request head is arriving.
const HEAD: u8 = 1;
/// A request is being served (its body read, its answer made).
const BUSY: u8 = 2;

/// No write is waiting.
const NOT_BLOCKED: u64 = u64::MAX;

/// What one connection is doing, and since when (milliseconds since it was
/// accepted).
#[derive(Debug)]
pub(super) struct Activity {
    start: Instant,
    phase: AtomicU8,
    since: AtomicU64,
    /// When a write began to wait for the peer to read; [`NOT_BLOCKED`].
    write_blocked: AtomicU64,
    /// Whether a request has been served (`idle` rather than `first_byte`).
    served: AtomicBool,
    /// Requests being served now (HTTP/2 serves several at once): the
    /// connection is busy while this is not 0, whatever `phase` says.
    requests: AtomicU32,
    /// Whether requests are multiplexed (HTTP/2): bytes while idle are
    /// frames, not a request head arriving.
    multiplexed: AtomicBool,
}

impl Activity {
    /// A connection accepted now, waiting for its first request.
    pub(super) fn new() -> Arc<Activity> {
        Arc::new(Activity {
            start: Instant::now(),
            phase: AtomicU8::new(IDLE),
            since: AtomicU64::new(0),
            write_blocked: AtomicU64::new(NOT_BLOCKED),
            served: AtomicBool::new(false),
            requests: AtomicU32::new(0),
            multiplexed: AtomicBool::new(false),
        })
    }

    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    /// Enters `phase` now (the time first, so that a reader that sees the
    /// phase sees its time).
    fn enter(&self, phase: u8) {
        self.since.store(self.now(), Ordering::Release);
        self.phase.store(phase, Ordering::Release);
    }

    /// A request is being served until the guard is dropped; `multiplexed`
    /// when it came on HTTP/2.
    pub(super) fn busy(self: &Arc<Self>, multiplexed: bool) -> Busy {
        if multiplexed {
            self.multiplexed.store(true, Ordering::Relaxed);
        }
        self.requests.fetch_add(1, Ordering::AcqRel);
        self.phase.store(BUSY, Ordering::Release);
        Busy(Arc::clone(self))
    }

    fn read_some(&self) {
        if self.phase.load(Ordering::Acquire) == IDLE && !self.multiplexed.load(Ordering::Relaxed) {
            self.enter(HEAD);
        }
    }

    fn write_outcome<T>(&self, poll: &Poll<T>) {
        let blocked = self.write_blocked.load(Ordering::Relaxed);
        match (poll.is_pending(), blocked == NOT_BLOCKED) {
            (true, true) => self.write_blocked.store(self.now(), Ordering::Relaxed),
            (false, false) => self.write_blocked.store(NOT_BLOCKED, Ordering::Relaxed),
            _ => {}
        }
    }
}

/// A request being served; when the last one is dropped (answered, or
/// given up), the connection waits for the next.
#[derive(Debug)]
pub(super) struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.served.store(true, Ordering::Relaxed);
        if self.0.requests.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.enter(IDLE);
        }
    }
}

/// Returns when the connection has outlived one of `timeouts`: silent too
/// long before a request, a head arriving too slowly, or an answer not taken.
/// A request being served is bounded by the service's own timeout.
pub(super) async fn watchdog(activity: &Activity, timeouts: Timeouts) {
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX / 4);
    loop {
        let phase = match activity.requests.load(Ordering::Acquire) {
            0 => activity.phase.load(Ordering::Acquire),
            _ => BUSY,
        };
        let since = activity.since.load(Ordering::Acquire);
        let limit = match phase {
            IDLE if activity.served.load(Ordering::Relaxed) => timeouts.idle,
            IDLE => timeouts.first_byte,
            _ => timeouts.request,
        };
        let mut deadline = since.saturating_add(ms(limit));
        if phase == BUSY {
            deadline = activity.now().saturating_add(ms(limit));
        }
        let blocked = activity.write_blocked.load(Ordering::Relaxed);
        if blocked != NOT_BLOCKED {
            deadline = deadline.min(blocked.saturating_add(ms(timeouts.request)));
        }
        if activity.now() >= deadline {
            return;
        }
        let wake = activity.start + Duration::from_millis(deadline);
        tokio::time::sleep_until(wake).await;
    }
}

/// A socket that keeps its connection's [`Activity`].
#[derive(Debug)]
pub(super) struct Watched<S> {
    io: S,
    activity: Arc<Activity>,
}

impl<S> Watched<S> {
    pub(super) fn new(io: S, activity: Arc<Activity>) -> Self {
        Watched { io, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.read_some();
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write(cx, buf);
        self.activity.write_outcome(&poll);
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.activity.write_outcome(&poll);
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.io).poll_flush(cx);
        self.activity.write_outcome(&poll);
        poll
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeouts() -> Timeouts {
        Timeouts {
            first_byte: Duration::from_secs(1),
            idle: Duration::from_secs(5),
            request: Duration::from_secs(2),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_connection_ends_at_the_first_byte_timeout() {
        let a = Activity::new();
        let start = Instant::now();
        watchdog(&a, timeouts()).await;
        let took = start.elapsed();
        assert!((Duration::from_secs(1)..Duration::from_millis(1100)).contains(&took));
    }

    #[tokio::test(start_paused = true)]
    async fn a_served_connection_waits_the_idle_timeout_and_a_busy_one_waits() {
        let a = Activity::new();
        drop(a.busy(false));
        let start = Instant::now();
        let busy = a.busy(false);
        let dog = watchdog(&a, timeouts());
        tokio::pin!(dog);
        // Busy for 10 s: never ended by the watchdog.
        assert!(
            tokio::time::timeout(Duration::from_secs(10), &mut dog)
                .await
                .is_err()
        );
        drop(busy);
        dog.await;
        let took = start.elapsed();
        assert!((Duration::from_secs(15)..Duration::from_millis(15100)).contains(&took));
    }

    #[tokio::test(start_paused = true)]
    async fn a_multiplexed_connection_is_busy_while_any_request_is_and_frames_do_not_start_a_head()
    {
        let a = Activity::new();
        let (one, two) = (a.busy(true), a.busy(true));
        drop(one);
        let start = Instant::now();
        let dog = watchdog(&a, timeouts());
        tokio::pin!(dog);
        // One request still served: busy, never ended.
        assert!(
            tokio::time::timeout(Duration::from_secs(10), &mut dog)
                .await
                .is_err()
        );
        drop(two);
        // A ping while idle: still idle (5 s), not a head (2 s).
        a.read_some();
        dog.await;
        let took = start.elapsed();
        assert!((Duration::from_secs(15)..Duration::from_millis(15100)).contains(&took));
    }
}
