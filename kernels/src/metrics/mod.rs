//! Host-side finishing: the float metrics users see, derived in f64 from the
//! integer state every backend produces ([`crate::FrameRaw`]).
//!
//! One piece of code serves both backends, so GPU and CPU results can only
//! differ if their integers do, and the parity tests forbid that.

pub mod black;
pub mod blur;
pub mod freeze;
pub mod freeze_bound;
pub mod motion;
pub mod period;
pub mod scene;
pub mod stats;
pub mod zones;

pub use freeze_bound::frozen_sad_bound;
pub use motion::{Motion, MotionConfig, MotionDetector, ZoneMotion};
pub use scene::{Scene, SceneTracker};
pub use stats::{ChannelStats, Stats};
pub use zones::{Polygon, Zone};
