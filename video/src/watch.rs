//! A process-wide GStreamer tracer that sees every error posted inside an
//! osprey decode pipeline before any bin can swallow it.
//!
//! decodebin (1.22) filters the error messages of an element while it sets
//! that element to PAUSED, and drops them when the state change succeeds.
//! A demuxer whose streaming thread fails at once (a truncated MP4: "no
//! playable streams") can post its only error inside that window; the error
//! never reaches the pipeline bus and the decoder would wait forever. This
//! tracer hooks `element-post-message-pre`, which runs before the parent bin
//! sees the message, and re-posts a copy of each error straight onto the bus
//! of the osprey pipeline it belongs to. Errors that arrive normally are seen
//! twice; the decoder stops at the first.

use gst::glib;
use gstreamer as gst;

/// Pipelines whose name starts with this get their errors re-posted.
pub(crate) const PIPELINE_PREFIX: &str = "osprey-decode";

mod imp {
    use gst::glib;
    use gst::prelude::*;
    use gst::subclass::prelude::*;
    use gstreamer as gst;

    /// The tracer's instance data (none).
    #[derive(Default)]
    pub struct ErrorWatch;

    #[glib::object_subclass]
    impl ObjectSubclass for ErrorWatch {
        const NAME: &'static str = "OspreyErrorWatch";
        type Type = super::ErrorWatch;
        type ParentType = gst::Tracer;
    }

    impl ObjectImpl for ErrorWatch {
        fn constructed(&self) {
            self.parent_constructed();
            self.register_hook(TracerHook::ElementPostMessagePre);
        }
    }

    impl GstObjectImpl for ErrorWatch {}

    impl TracerImpl for ErrorWatch {
        fn element_post_message_pre(
            &self,
            _ts: u64,
            element: &gst::Element,
            message: &gst::Message,
        ) {
            if message.type_() != gst::MessageType::Error {
                return;
            }
            let mut top: gst::Object = element.clone().upcast();
            while let Some(parent) = top.parent() {
                top = parent;
            }
            if top.as_ptr() == element.upcast_ref::<gst::Object>().as_ptr()
                || !top.name().starts_with(super::PIPELINE_PREFIX)
            {
                return;
            }
            let Ok(pipeline) = top.downcast::<gst::Pipeline>() else {
                return;
            };
            if let Some(bus) = pipeline.bus()
                && bus.post(message.copy()).is_err()
            {
                tracing::debug!("Bus refused a re-posted error (pipeline stopping).");
            }
        }
    }
}

glib::wrapper! {
    /// See the module docs.
    pub struct ErrorWatch(ObjectSubclass<imp::ErrorWatch>) @extends gst::Tracer, gst::Object;
}

impl ErrorWatch {
    /// Creates the tracer; its hook stays registered for the process.
    pub(crate) fn install() -> Self {
        glib::Object::new()
    }
}
