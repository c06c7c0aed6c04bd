//! A small ISO BMFF (fragmented MP4) writer: an initialisation segment
//! (`ftyp` + `moov` with one video track, `avc1`/`hvc1` with the stored
//! `avcC`/`hvcC`, and `mvex`) and media fragments (`moof` + `mdat`, one
//! `trun` with every sample's duration, size, sync flag and composition
//! offset). Clips are an initialisation segment and one media fragment per
//! stored fragment; HLS serves the same pieces separately. The media
//! timescale is 90 kHz.

use osprey_ingest::video::{Codec, Frame, Track};

/// Ticks per second of the media timeline.
pub(crate) const TIMESCALE: u32 = 90_000;

/// Nanoseconds to 90 kHz ticks, rounded to the nearest (negative times
/// clamp to zero).
pub(crate) fn ticks(ns: i128) -> u64 {
    let t = (ns.max(0) * i128::from(TIMESCALE) + 500_000_000) / 1_000_000_000;
    u64::try_from(t).unwrap_or(u64::MAX)
}

/// Writes a box: its size (patched once `body` has written it), `kind` and
/// the body.
fn boxed(out: &mut Vec<u8>, kind: &[u8; 4], body: impl FnOnce(&mut Vec<u8>)) {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(kind);
    body(out);
    let size = u32::try_from(out.len() - at).unwrap_or(u32::MAX);
    out[at..at + 4].copy_from_slice(&size.to_be_bytes());
}

/// Writes a full box: a box whose body starts with a version and 24 bits of
/// flags.
fn full_box(
    out: &mut Vec<u8>,
    kind: &[u8; 4],
    version: u8,
    flags: u32,
    body: impl FnOnce(&mut Vec<u8>),
) {
    boxed(out, kind, |out| {
        out.extend_from_slice(&((u32::from(version) << 24) | (flags & 0x00ff_ffff)).to_be_bytes());
        body(out);
    });
}

fn u16_be(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn u32_be(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn u64_be(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// The unity transformation matrix of `mvhd` and `tkhd`.
fn matrix(out: &mut Vec<u8>) {
    for v in [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000_u32] {
        u32_be(out, v);
    }
}

/// The initialisation segment of `track`: `ftyp` and `moov`. `duration`,
/// in ticks, goes into `mvhd`, `tkhd`, `mdhd` and `mehd` when known (a
/// clip); `None` for a live presentation (HLS).
pub(crate) fn init_segment(track: &Track, duration: Option<u64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024 + track.codec_data.len());
    boxed(&mut out, b"ftyp", |o| {
        o.extend_from_slice(b"isom");
        u32_be(o, 0x200);
        for brand in [b"isom", b"iso6", b"mp41"] {
            o.extend_from_slice(brand);
        }
    });
    let dur = duration.unwrap_or(0);
    boxed(&mut out, b"moov", |o| {
        full_box(o, b"mvhd", 1, 0, |o| {
            u64_be(o, 0); // creation
            u64_be(o, 0); // modification
            u32_be(o, TIMESCALE);
            u64_be(o, dur);
            u32_be(o, 0x0001_0000); // rate 1.0
            u16_be(o, 0x0100); // volume 1.0
            o.extend_from_slice(&[0; 10]);
            matrix(o);
            o.extend_from_slice(&[0; 24]); // pre_defined
            u32_be(o, 2); // next track ID
        });
        boxed(o, b"trak", |o| {
            full_box(o, b"tkhd", 1, 3, |o| {
                u64_be(o, 0);
                u64_be(o, 0);
                u32_be(o, 1); // track ID
                u32_be(o, 0);
                u64_be(o, dur);
                o.extend_from_slice(&[0; 8]);
                u16_be(o, 0); // layer
                u16_be(o, 0); // alternate group
                u16_be(o, 0); // volume
                u16_be(o, 0);
                matrix(o);
                u32_be(o, track.width << 16);
                u32_be(o, track.height << 16);
            });
            boxed(o, b"mdia", |o| {
                full_box(o, b"mdhd", 1, 0, |o| {
                    u64_be(o, 0);
                    u64_be(o, 0);
                    u32_be(o, TIMESCALE);
                    u64_be(o, dur);
                    u16_be(o, 0x55c4); // "und"
                    u16_be(o, 0);
                });
                full_box(o, b"hdlr", 0, 0, |o| {
                    u32_be(o, 0);
                    o.extend_from_slice(b"vide");
                    o.extend_from_slice(&[0; 12]);
                    o.extend_from_slice(b"osprey video\0");
                });
                boxed(o, b"minf", |o| {
                    full_box(o, b"vmhd", 0, 1, |o| o.extend_from_slice(&[0; 8]));
                    boxed(o, b"dinf", |o| {
                        full_box(o, b"dref", 0, 0, |o| {
                            u32_be(o, 1);
                            full_box(o, b"url ", 0, 1, |_| {});
                        });
                    });
                    boxed(o, b"stbl", |o| {
                        full_box(o, b"stsd", 0, 0, |o| {
                            u32_be(o, 1);
                            sample_entry(o, track);
                        });
                        full_box(o, b"stts", 0, 0, |o| u32_be(o, 0));
                        full_box(o, b"stsc", 0, 0, |o| u32_be(o, 0));
                        full_box(o, b"stsz", 0, 0, |o| o.extend_from_slice(&[0; 8]));
                        full_box(o, b"stco", 0, 0, |o| u32_be(o, 0));
                    });
                });
            });
        });
        boxed(o, b"mvex", |o| {
            if let Some(d) = duration {
                full_box(o, b"mehd", 1, 0, |o| u64_be(o, d));
            }
            full_box(o, b"trex", 0, 0, |o| {
                u32_be(o, 1); // track ID
                u32_be(o, 1); // sample description index
                o.extend_from_slice(&[0; 12]);
            });
        });
    });
    out
}

/// The visual sample entry: `avc1` + `avcC` or `hvc1` + `hvcC`.
fn sample_entry(out: &mut Vec<u8>, track: &Track) {
    let (entry, config) = match track.codec {
        Codec::H264 => (b"avc1", b"avcC"),
        Codec::H265 => (b"hvc1", b"hvcC"),
    };
    boxed(out, entry, |o| {
        o.extend_from_slice(&[0; 6]);
        u16_be(o, 1); // data reference index
        o.extend_from_slice(&[0; 16]);
        u16_be(o, u16::try_from(track.width).unwrap_or(u16::MAX));
        u16_be(o, u16::try_from(track.height).unwrap_or(u16::MAX));
        u32_be(o, 0x0048_0000); // 72 dpi
        u32_be(o, 0x0048_0000);
        u32_be(o, 0);
        u16_be(o, 1); // frames per sample
        o.extend_from_slice(&[0; 32]); // compressor name
        u16_be(o, 0x0018); // depth
        u16_be(o, 0xffff); // pre_defined -1
        boxed(o, config, |o| o.extend_from_slice(&track.codec_data));
    });
}

/// Sample flags of a sync sample (depends on no other).
const SYNC: u32 = 0x0200_0000;
/// Sample flags of a non-sync sample (depends on others).
const NON_SYNC: u32 = 0x0101_0000;

/// One media fragment (`moof` + `mdat`) of `frames` (decode order), each
/// frame's decode time taken as `dts_ns + shift_ns`; `sequence` is `mfhd`'s
/// number. Returns it and the tick after its last frame ends.
pub(crate) fn media_fragment(sequence: u32, frames: &[Frame], shift_ns: i128) -> (Vec<u8>, u64) {
    let media: usize = frames.iter().map(|f| f.data.len()).sum();
    let mut out = Vec::with_capacity(128 + 16 * frames.len() + media);
    let at = |f: &Frame| i128::from(f.dts_ns) + shift_ns;
    let end_of = |f: &Frame| at(f) + i128::from(f.duration_ns);
    let first = frames.first().map_or(0, |f| ticks(at(f)));
    let mut end = first;
    let mut data_offset_at = 0;
    boxed(&mut out, b"moof", |o| {
        full_box(o, b"mfhd", 0, 0, |o| u32_be(o, sequence));
        boxed(o, b"traf", |o| {
            // default-base-is-moof
            full_box(o, b"tfhd", 0, 0x02_0000, |o| u32_be(o, 1));
            full_box(o, b"tfdt", 1, 0, |o| u64_be(o, first));
            // data offset, durations, sizes, flags, composition offsets
            full_box(o, b"trun", 1, 0x0f01, |o| {
                u32_be(o, u32::try_from(frames.len()).unwrap_or(u32::MAX));
                data_offset_at = o.len();
                u32_be(o, 0);
                for (i, f) in frames.iter().enumerate() {
                    let start = ticks(at(f));
                    let next = frames
                        .get(i + 1)
                        .map_or_else(|| ticks(end_of(f)), |n| ticks(at(n)));
                    end = end.max(next).max(start);
                    let duration = u32::try_from(next.saturating_sub(start)).unwrap_or(u32::MAX);
                    u32_be(o, duration);
                    u32_be(o, u32::try_from(f.data.len()).unwrap_or(u32::MAX));
                    u32_be(o, if f.key { SYNC } else { NON_SYNC });
                    let pts = ticks(at(f) + i128::from(f.pts_ns) - i128::from(f.dts_ns));
                    let cto = i128::from(pts) - i128::from(start);
                    let cto = i32::try_from(cto).unwrap_or(0);
                    o.extend_from_slice(&cto.to_be_bytes());
                }
            });
        });
    });
    // The samples start right after mdat's header.
    let offset = u32::try_from(out.len() + 8).unwrap_or(u32::MAX);
    out[data_offset_at..data_offset_at + 4].copy_from_slice(&offset.to_be_bytes());
    boxed(&mut out, b"mdat", |o| {
        for f in frames {
            o.extend_from_slice(&f.data);
        }
    });
    (out, end)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    /// The top-level boxes' kinds and sizes, checking they tile the buffer.
    fn top_boxes(data: &[u8]) -> Vec<([u8; 4], usize)> {
        let mut at = 0;
        let mut boxes = Vec::new();
        while at < data.len() {
            let size = u32::from_be_bytes(data[at..at + 4].try_into().unwrap()) as usize;
            boxes.push((data[at + 4..at + 8].try_into().unwrap(), size));
            assert!(size >= 8 && at + size <= data.len());
            at += size;
        }
        assert_eq!(at, data.len());
        boxes
    }

    #[test]
    fn ticks_round_to_the_nearest() {
        assert_eq!(ticks(40_000_000), 3600);
        assert_eq!(ticks(-5), 0);
        assert_eq!(ticks(1_000_000_000 / 3), 30_000);
    }

    #[test]
    fn fragment_points_trun_at_its_mdat_and_ends_where_the_last_frame_ends() {
        let frames: Vec<Frame> = (0..3_u64)
            .map(|i| Frame {
                pts_ns: 1_000_000_000 + i * 40_000_000,
                dts_ns: 1_000_000_000 + i * 40_000_000,
                duration_ns: 40_000_000,
                key: i == 0,
                data: Bytes::from(vec![u8::try_from(i).unwrap(); 10]),
            })
            .collect();
        let (data, end) = media_fragment(7, &frames, -1_000_000_000);
        assert_eq!(end, 3 * 3600);
        let boxes = top_boxes(&data);
        assert_eq!(
            boxes.iter().map(|b| &b.0).collect::<Vec<_>>(),
            [b"moof", b"mdat"]
        );
        let trun = data.windows(4).position(|w| w == b"trun").unwrap();
        // size, "trun", version/flags, count, then the data offset.
        let offset = u32::from_be_bytes(data[trun + 12..trun + 16].try_into().unwrap()) as usize;
        assert_eq!(offset, boxes[0].1 + 8);
        assert_eq!(&data[offset..offset + 10], &[0; 10]);
        assert_eq!(&data[offset + 20..], &[2; 10]);
        let init = init_segment(
            &Track {
                codec: Codec::H264,
                codec_data: vec![1, 2, 3],
                width: 320,
                height: 240,
            },
            Some(end),
        );
        let boxes = top_boxes(&init);
        assert_eq!(
            boxes.iter().map(|b| &b.0).collect::<Vec<_>>(),
            [b"ftyp", b"moov"]
        );
    }
}
