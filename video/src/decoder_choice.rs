//! `--decode auto|hw|sw`: which decoders a source may use, chosen per
//! pipeline through uridecodebin's `autoplug-select` signal (global ranks
//! stay as they are), and which decoder a pipeline ended up with.

use std::sync::{Arc, Mutex};

use gst::glib;
use gst::prelude::*;
use gstreamer as gst;

use crate::source::DecodeChoice;

/// Decoders known to be hardware ones whose klass does not say so.
const HARDWARE_PREFIXES: [&str; 11] = [
    "vaapi", "va", "nv", "v4l2", "msdk", "qsv", "d3d11", "d3d12", "vtdec", "amc", "omx",
];

/// Whether a factory decodes video.
pub(crate) fn is_video_decoder(klass: &str) -> bool {
    klass.contains("Decoder") && klass.contains("Video")
}

/// Whether a decoder factory is a hardware one: its klass says `Hardware`,
/// or its name is that of a known hardware decoder family (VA-API, NVDEC,
/// V4L2, Media SDK, Direct3D, VideoToolbox, Android, OpenMAX).
pub(crate) fn is_hardware(name: &str, klass: &str) -> bool {
    klass.contains("Hardware") || HARDWARE_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Whether `choice` lets decodebin try factory `name` of klass `klass`.
/// Only video decoders are ever skipped.
pub(crate) fn allows(choice: DecodeChoice, name: &str, klass: &str) -> bool {
    if !is_video_decoder(klass) {
        return true;
    }
    match choice {
        DecodeChoice::Auto => true,
        DecodeChoice::Hw => is_hardware(name, klass),
        DecodeChoice::Sw => !is_hardware(name, klass),
    }
}

/// The message for a stream no allowed hardware decoder can decode.
pub(crate) fn no_hardware_message(caps: &str, installed: &[String]) -> String {
    let has = if installed.is_empty() {
        "(none)".to_owned()
    } else {
        installed.join(", ")
    };
    format!("no hardware decoder for {caps}; GStreamer has: {has}")
}

/// The hardware video decoders in GStreamer's registry.
pub(crate) fn installed_hardware_decoders() -> Vec<String> {
    let mut names: Vec<String> =
        gst::ElementFactory::factories_with_type(gst::ElementFactoryType::DECODER, gst::Rank::NONE)
            .into_iter()
            .filter(|f| {
                let klass = f.metadata("klass").unwrap_or_default();
                is_video_decoder(klass) && is_hardware(&f.name(), klass)
            })
            .map(|f| f.name().to_string())
            .collect();
    names.sort();
    names
}

/// The caps of a stream `hw` found no hardware decoder for, shared with the
/// `autoplug-select` handler.
pub(crate) type Refused = Arc<Mutex<Option<String>>>;

/// Filters uridecodebin's decoder candidates by `choice`. Returns where the
/// handler notes a video stream it refused every decoder for.
pub(crate) fn connect(uridecodebin: &gst::Element, choice: DecodeChoice) -> Refused {
    let refused: Refused = Arc::default();
    if choice == DecodeChoice::Auto {
        return refused;
    }
    let Some(result_type) = glib::Type::from_name("GstAutoplugSelectResult") else {
        tracing::warn!("GstAutoplugSelectResult is unknown: --decode has no effect.");
        return refused;
    };
    // GstAutoplugSelectResult: 0 try, 2 skip.
    let result = move |value: i32| {
        glib::EnumClass::with_type(result_type).and_then(|class| class.to_value(value))
    };
    let noted = Arc::clone(&refused);
    uridecodebin.connect("autoplug-select", false, move |values| {
        let factory = values
            .get(3)
            .and_then(|v| v.get::<gst::ElementFactory>().ok());
        let Some(factory) = factory else {
            return result(0);
        };
        let klass = factory.metadata("klass").unwrap_or_default();
        if allows(choice, &factory.name(), klass) {
            return result(0);
        }
        if choice == DecodeChoice::Hw {
            let caps = values
                .get(2)
                .and_then(|v| v.get::<gst::Caps>().ok())
                .and_then(|c| c.structure(0).map(|s| s.name().to_string()))
                .unwrap_or_else(|| "this stream".to_owned());
            if let Ok(mut slot) = noted.lock() {
                slot.get_or_insert(caps);
            }
        }
        tracing::debug!(factory = %factory.name(), ?choice, "Decoder skipped.");
        result(2)
    });
    refused
}

/// The video decoder a pipeline picked, noted by `deep-element-added`.
pub(crate) type Picked = Arc<Mutex<Option<gst::Element>>>;

/// Notes the video decoder element when decodebin adds it to `pipeline`.
pub(crate) fn watch_decoder(pipeline: &gst::Pipeline) -> Picked {
    let picked: Picked = Arc::default();
    let slot = Arc::clone(&picked);
    pipeline.connect_deep_element_added(move |_, _, element| {
        let is_decoder = element
            .factory()
            .is_some_and(|f| is_video_decoder(f.metadata("klass").unwrap_or_default()));
        if is_decoder && let Ok(mut slot) = slot.lock() {
            *slot = Some(element.clone());
        }
    });
    picked
}

/// A short codec name for the caps entering a decoder (`h264`, `h265`,
/// `mjpeg`, `vp9`, `raw`, ...), else the caps' media type.
pub(crate) fn codec_name(caps: &gst::StructureRef) -> String {
    let name = caps.name().as_str();
    match name {
        "video/x-h264" => "h264".to_owned(),
        "video/x-h265" => "h265".to_owned(),
        "image/jpeg" => "mjpeg".to_owned(),
        "video/x-vp8" => "vp8".to_owned(),
        "video/x-vp9" => "vp9".to_owned(),
        "video/x-av1" => "av1".to_owned(),
        "video/x-raw" => "raw".to_owned(),
        "video/mpeg" => match caps.get::<i32>("mpegversion") {
            Ok(4) => "mpeg4".to_owned(),
            Ok(v) => format!("mpeg{v}"),
            Err(_) => "mpeg".to_owned(),
        },
        other => other.strip_prefix("video/x-").unwrap_or(other).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    const SW: &str = "Codec/Decoder/Video";
    const HW: &str = "Codec/Decoder/Video/Hardware";

    #[test]
    fn hardware_is_told_by_klass_or_name() {
        assert!(is_hardware("vah264dec", HW));
        assert!(is_hardware("nvh264dec", SW), "known by name");
        assert!(is_hardware("vaapih265dec", SW));
        assert!(is_hardware("v4l2slh264dec", SW));
        assert!(!is_hardware("avdec_h264", SW));
        assert!(!is_hardware("openh264dec", SW));
        assert!(!is_hardware("jpegdec", "Codec/Decoder/Image"));
    }

    #[test]
    fn choices_filter_only_video_decoders() {
        for choice in [DecodeChoice::Auto, DecodeChoice::Hw, DecodeChoice::Sw] {
            assert!(allows(choice, "h264parse", "Codec/Parser/Converter/Video"));
            assert!(allows(choice, "qtdemux", "Codec/Demuxer"));
            assert!(allows(
                choice,
                "rtph264depay",
                "Codec/Depayloader/Network/RTP"
            ));
            assert!(allows(choice, "avdec_aac", "Codec/Decoder/Audio"));
        }
        assert!(allows(DecodeChoice::Auto, "avdec_h264", SW));
        assert!(allows(DecodeChoice::Auto, "vah264dec", HW));
        assert!(!allows(DecodeChoice::Hw, "avdec_h264", SW));
        assert!(allows(DecodeChoice::Hw, "vah264dec", HW));
        assert!(allows(DecodeChoice::Sw, "avdec_h264", SW));
        assert!(!allows(DecodeChoice::Sw, "nvh264dec", HW));
    }

    #[test]
    fn missing_hardware_reads_clearly() {
        assert_eq!(
            no_hardware_message("video/x-h264", &[]),
            "no hardware decoder for video/x-h264; GStreamer has: (none)"
        );
        assert_eq!(
            no_hardware_message("video/x-h265", &["vah264dec".into()]),
            "no hardware decoder for video/x-h265; GStreamer has: vah264dec"
        );
    }

    #[test]
    fn codecs_get_short_names() {
        let name =
            |text: &str| codec_name(gst::Caps::from_str(text).unwrap().structure(0).unwrap());
        crate::init().unwrap();
        assert_eq!(name("video/x-h264,stream-format=avc"), "h264");
        assert_eq!(name("video/x-h265"), "h265");
        assert_eq!(name("image/jpeg"), "mjpeg");
        assert_eq!(name("video/mpeg,mpegversion=4"), "mpeg4");
        assert_eq!(name("video/mpeg,mpegversion=2"), "mpeg2");
        assert_eq!(name("video/x-theora"), "theora");
    }
}
