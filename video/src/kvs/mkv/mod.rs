//! Matroska, as much as Kinesis Video Streams needs: a streaming reader of
//! the producers' MKV ([`reader`], for PutMedia) and a writer of the MKV
//! that GetMedia streams back ([`writer`]), over EBML's variable-length
//! integers ([`ebml`]).

pub(crate) mod ebml;
pub(crate) mod reader;
pub(crate) mod writer;

/// Element ids used by both sides.
pub(crate) mod id {
    pub(crate) const EBML: u32 = 0x1A45_DFA3;
    pub(crate) const DOC_TYPE: u32 = 0x4282;
    pub(crate) const DOC_TYPE_VERSION: u32 = 0x4287;
    pub(crate) const DOC_TYPE_READ_VERSION: u32 = 0x4285;
    pub(crate) const SEGMENT: u32 = 0x1853_8067;
    pub(crate) const INFO: u32 = 0x1549_A966;
    pub(crate) const TIMECODE_SCALE: u32 = 0x2A_D7B1;
    pub(crate) const MUXING_APP: u32 = 0x4D80;
    pub(crate) const WRITING_APP: u32 = 0x5741;
    pub(crate) const TRACKS: u32 = 0x1654_AE6B;
    pub(crate) const TRACK_ENTRY: u32 = 0xAE;
    pub(crate) const TRACK_NUMBER: u32 = 0xD7;
    pub(crate) const TRACK_UID: u32 = 0x73C5;
    pub(crate) const TRACK_TYPE: u32 = 0x83;
    pub(crate) const CODEC_ID: u32 = 0x86;
    pub(crate) const CODEC_PRIVATE: u32 = 0x63A2;
    pub(crate) const DEFAULT_DURATION: u32 = 0x23_E383;
    pub(crate) const VIDEO: u32 = 0xE0;
    pub(crate) const PIXEL_WIDTH: u32 = 0xB0;
    pub(crate) const PIXEL_HEIGHT: u32 = 0xBA;
    pub(crate) const CLUSTER: u32 = 0x1F43_B675;
    pub(crate) const TIMECODE: u32 = 0xE7;
    pub(crate) const SIMPLE_BLOCK: u32 = 0xA3;
    pub(crate) const BLOCK_GROUP: u32 = 0xA0;
    pub(crate) const BLOCK: u32 = 0xA1;
    pub(crate) const REFERENCE_BLOCK: u32 = 0xFB;
    pub(crate) const TAGS: u32 = 0x1254_C367;
    pub(crate) const TAG: u32 = 0x7373;
    pub(crate) const TARGETS: u32 = 0x63C0;
    pub(crate) const SIMPLE_TAG: u32 = 0x67C8;
    pub(crate) const TAG_NAME: u32 = 0x45A3;
    pub(crate) const TAG_STRING: u32 = 0x4487;
}

/// Matroska's codec ids of the two codecs a video stream keeps.
pub(crate) const CODEC_AVC: &str = "V_MPEG4/ISO/AVC";
/// H.265's.
pub(crate) const CODEC_HEVC: &str = "V_MPEGH/ISO/HEVC";

#[cfg(test)]
mod tests;
