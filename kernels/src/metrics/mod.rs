//! Host-side finishing: the float metrics users see, derived in f64 from the
//! integer state every backend produces ([`crate::FrameRaw`]).
//!
//! One piece of code serves both backends, so GPU and CPU results can only
//! differ if their integers do, and the parity tests forbid that.

pub mod scene;
pub mod stats;

pub use scene::{Scene, SceneTracker};
pub use stats::{ChannelStats, Stats};
