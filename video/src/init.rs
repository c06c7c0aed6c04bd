//! GStreamer set-up: `gst::init()` exactly once, and element creation that
//! names the Debian package to install when a plugin is missing.

use std::sync::OnceLock;

use gstreamer as gst;

use crate::error::VideoError;

/// The outcome of the one `gst::init()` call, shared by every caller.
static INIT: OnceLock<Result<(), String>> = OnceLock::new();

/// The error tracer, kept for the life of the process.
static WATCH: OnceLock<crate::watch::ErrorWatch> = OnceLock::new();

/// Initialises GStreamer once per process; later calls return the first result.
///
/// Also installs osprey's error tracer (see the `watch` module), so errors
/// that decodebin would swallow still end a decode.
///
/// # Errors
/// [`VideoError::Gstreamer`] when the GStreamer libraries cannot be initialised.
pub fn init() -> Result<(), VideoError> {
    INIT.get_or_init(|| {
        gst::init().map_err(|e| e.to_string())?;
        WATCH.get_or_init(crate::watch::ErrorWatch::install);
        tracing::debug!(version = %gst::version_string(), "GStreamer initialised.");
        Ok(())
    })
    .clone()
    .map_err(|e| VideoError::Gstreamer(format!("cannot initialise GStreamer: {e}")))
}

/// The Debian package that ships each element osprey uses.
fn package_of(factory: &str) -> &'static str {
    match factory {
        "x264enc" => "gstreamer1.0-plugins-ugly",
        "h264parse" => "gstreamer1.0-plugins-bad",
        "mp4mux" => "gstreamer1.0-plugins-good",
        _ => "gstreamer1.0-plugins-base",
    }
}

/// Makes element `factory`, set up by `configure` (properties, name).
///
/// # Errors
/// [`VideoError::Gstreamer`] naming the package to install when the element
/// does not exist, or GStreamer's reason when it cannot be built.
pub(crate) fn make<'a>(
    factory: &'a str,
    configure: impl FnOnce(
        gst::element_factory::ElementBuilder<'a>,
    ) -> gst::element_factory::ElementBuilder<'a>,
) -> Result<gst::Element, VideoError> {
    if gst::ElementFactory::find(factory).is_none() {
        return Err(VideoError::Gstreamer(format!(
            "element {factory} is not installed: install {}",
            package_of(factory)
        )));
    }
    configure(gst::ElementFactory::make(factory))
        .build()
        .map_err(|e| VideoError::Gstreamer(format!("cannot create element {factory}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_twice_is_fine() {
        assert!(init().is_ok());
        assert!(init().is_ok());
    }

    #[test]
    fn missing_element_names_its_package() -> Result<(), VideoError> {
        init()?;
        let err = make("x264enc-that-is-not-there", |b| b).err();
        let msg = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("install gstreamer1.0-plugins-base"), "{msg}");
        assert_eq!(package_of("x264enc"), "gstreamer1.0-plugins-ugly");
        Ok(())
    }
}
