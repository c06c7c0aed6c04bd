//! GStreamer's RTSP server, in-process, serving live H.264 test patterns on
//! 127.0.0.1: the camera that osprey's tests, benchmarks and demos point at.
//!
//! [`TestServer`] runs the server on its own thread (a glib main loop on its
//! own main context). Each [`Mount`] is a shared media (every client shares
//! one encode) built from
//! `videotestsrc is-live=true ! capsfilter ! valve ! x264enc ! rtph264pay`
//! (or, for a [`Mount::clip`], a clip in a loop, not encoded again),
//! plus an audio track when asked. The server sends RTCP sender reports with
//! NTP time, so clients can stamp frames with the sender's clock.
//!
//! The test hooks act like a failing camera: [`TestServer::stop`] drops every
//! connection and stops listening (the server died),
//! [`TestServer::restart`] listens again on the same port,
//! [`TestServer::stall`] keeps the connection open but sends no frames, and
//! [`TestServer::set_size`] changes the resolution mid-stream.

mod mount;
mod server;

pub use mount::Mount;
pub use server::{ServerError, TestServer};
