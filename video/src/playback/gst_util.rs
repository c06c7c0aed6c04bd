//! Small GStreamer helpers shared by playback's pipelines.

use gst::prelude::*;
use gstreamer as gst;

/// Sets a pipeline to `Null` when dropped, however its owner ends.
pub(crate) struct Stopper(pub(crate) gst::Pipeline);

impl Drop for Stopper {
    fn drop(&mut self) {
        if let Err(e) = self.0.set_state(gst::State::Null) {
            tracing::warn!(error = %e, "Cannot stop a playback pipeline.");
        }
    }
}
