//! The fragment file: one fragment a file, self-describing and checked.
//!
//! ```text
//! offset  size  field
//!      0     8  magic "OSPVFRAG"
//!      8     4  format version (1), little-endian like every number here
//!     12     4  header length H
//!     16     8  body length B (the frames' data, back to back)
//!     24     4  CRC32 of the body
//!     28     4  CRC32 of bytes 0..28 and of the header
//!     32     H  header: number, producer ns, server ns, duration ns,
//!               media bytes (u64 each), frames (u32), codec (u8), width,
//!               height, codec_data length (u32 each), codec_data, then per
//!               frame pts, dts, duration (u64 each), key (u8), length (u32)
//! 32 + H     B  body
//! ```
//!
//! Opening a store reads only the prefix and the header (checked by their
//! own CRC) and compares the file's length with `32 + H + B`, so a torn or
//! truncated file is found without reading the media; `verify` and `read`
//! also check the body's CRC. Every length read from disk is bounded before
//! anything is allocated for it.

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::path::Path;

use bytes::Bytes;

use super::{Codec, Fragment, FragmentMeta, Frame, Track};

/// The first bytes of every fragment file.
const MAGIC: &[u8; 8] = b"OSPVFRAG";
/// The format version written.
const VERSION: u32 = 1;
/// Bytes before the header.
const PREFIX: usize = 32;
/// Header bytes of the fixed fields.
const FIXED: usize = 5 * 8 + 4 + 1 + 3 * 4;
/// Header bytes of each frame's entry.
const PER_FRAME: usize = 3 * 8 + 1 + 4;

/// Most bytes of media a fragment may hold.
pub const MAX_FRAGMENT_BYTES: u64 = 64 << 20;
/// Most bytes of one frame.
pub const MAX_FRAME_BYTES: u64 = 16 << 20;
/// Most frames in one fragment.
pub const MAX_FRAMES: usize = 1 << 16;
/// Most bytes of a track's `codec_data`.
pub const MAX_CODEC_DATA: usize = 1 << 20;
/// The largest header a valid file can have.
const MAX_HEADER: usize = FIXED + MAX_CODEC_DATA + MAX_FRAMES * PER_FRAME;

/// What is read from a file's prefix and header.
#[derive(Debug, Clone)]
pub(super) struct Header {
    pub meta: FragmentMeta,
    pub track: Track,
    /// Each frame's timing, key flag and data length.
    pub frames: Vec<(u64, u64, u64, bool, u32)>,
    pub body_len: u64,
    pub body_crc: u32,
}

/// Writes `meta`, `track` and `frames` to `file` in the format above.
pub(super) fn write(
    file: &mut File,
    meta: &FragmentMeta,
    track: &Track,
    frames: &[Frame],
) -> std::io::Result<()> {
    let mut header = Vec::with_capacity(FIXED + track.codec_data.len() + frames.len() * PER_FRAME);
    for v in [
        meta.number,
        meta.producer_ns,
        meta.server_ns,
        meta.duration_ns,
        meta.size,
    ] {
        header.extend_from_slice(&v.to_le_bytes());
    }
    header.extend_from_slice(&meta.frames.to_le_bytes());
    header.push(codec_byte(track.codec));
    header.extend_from_slice(&track.width.to_le_bytes());
    header.extend_from_slice(&track.height.to_le_bytes());
    header.extend_from_slice(&len32(track.codec_data.len()).to_le_bytes());
    header.extend_from_slice(&track.codec_data);
    let mut body_crc = crc32fast::Hasher::new();
    for f in frames {
        for v in [f.pts_ns, f.dts_ns, f.duration_ns] {
            header.extend_from_slice(&v.to_le_bytes());
        }
        header.push(u8::from(f.key));
        header.extend_from_slice(&len32(f.data.len()).to_le_bytes());
        body_crc.update(&f.data);
    }
    let mut prefix = [0u8; PREFIX];
    prefix[..8].copy_from_slice(MAGIC);
    prefix[8..12].copy_from_slice(&VERSION.to_le_bytes());
    prefix[12..16].copy_from_slice(&len32(header.len()).to_le_bytes());
    prefix[16..24].copy_from_slice(&meta.size.to_le_bytes());
    prefix[24..28].copy_from_slice(&body_crc.finalize().to_le_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(&prefix[..28]);
    crc.update(&header);
    prefix[28..32].copy_from_slice(&crc.finalize().to_le_bytes());
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    out.write_all(&prefix)?;
    out.write_all(&header)?;
    for f in frames {
        out.write_all(&f.data)?;
    }
    out.flush()
}

/// A length the store's limits keep far below `u32::MAX`.
fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn codec_byte(codec: Codec) -> u8 {
    match codec {
        Codec::H264 => 1,
        Codec::H265 => 2,
    }
}

/// Reads and checks the prefix and header of the file at `path` (not the
/// body, but the file's length must match); `Err` says what is wrong.
pub(super) fn read_header(path: &Path) -> Result<(File, Header), String> {
    let mut file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let file_len = file
        .metadata()
        .map_err(|e| format!("cannot stat: {e}"))?
        .len();
    let mut prefix = [0u8; PREFIX];
    file.read_exact(&mut prefix)
        .map_err(|_| format!("{file_len} bytes: shorter than the {PREFIX}-byte prefix"))?;
    if &prefix[..8] != MAGIC {
        return Err("not a fragment file (bad magic)".into());
    }
    let version = u32_at(&prefix, 8);
    if version != VERSION {
        return Err(format!("format version {version}, expected {VERSION}"));
    }
    let header_len = u32_at(&prefix, 12) as usize;
    if !(FIXED..=MAX_HEADER).contains(&header_len) {
        return Err(format!("header length {header_len} out of bounds"));
    }
    let body_len = u64_at(&prefix, 16);
    if body_len > MAX_FRAGMENT_BYTES {
        return Err(format!("body length {body_len} out of bounds"));
    }
    let expected = PREFIX as u64 + header_len as u64 + body_len;
    if file_len != expected {
        return Err(format!(
            "{file_len} bytes, expected {expected} (torn or truncated)"
        ));
    }
    let mut header = vec![0u8; header_len];
    file.read_exact(&mut header)
        .map_err(|e| format!("cannot read the header: {e}"))?;
    let mut crc = crc32fast::Hasher::new();
    crc.update(&prefix[..28]);
    crc.update(&header);
    if crc.finalize() != u32_at(&prefix, 28) {
        return Err("header CRC mismatch".into());
    }
    let parsed = parse_header(&header, body_len, u32_at(&prefix, 24))
        .ok_or_else(|| "header inconsistent with its lengths".to_owned())?;
    Ok((file, parsed))
}

/// Parses a header whose CRC matched; `None` when its fields disagree.
fn parse_header(h: &[u8], body_len: u64, body_crc: u32) -> Option<Header> {
    let mut c = Cursor { buf: h, at: 0 };
    let number = c.u64()?;
    let producer_ns = c.u64()?;
    let server_ns = c.u64()?;
    let duration_ns = c.u64()?;
    let size = c.u64()?;
    let frame_count = c.u32()?;
    let codec = match c.u8()? {
        1 => Codec::H264,
        2 => Codec::H265,
        _ => return None,
    };
    let width = c.u32()?;
    let height = c.u32()?;
    let cd_len = c.u32()? as usize;
    if cd_len > MAX_CODEC_DATA || frame_count as usize > MAX_FRAMES || size != body_len {
        return None;
    }
    let codec_data = c.take(cd_len)?.to_vec();
    let mut frames = Vec::with_capacity(frame_count as usize);
    let mut total = 0u64;
    for _ in 0..frame_count {
        let (pts, dts, dur) = (c.u64()?, c.u64()?, c.u64()?);
        let key = c.u8()? != 0;
        let len = c.u32()?;
        total += u64::from(len);
        frames.push((pts, dts, dur, key, len));
    }
    if c.at != h.len() || total != body_len {
        return None;
    }
    Some(Header {
        meta: FragmentMeta {
            number,
            producer_ns,
            server_ns,
            duration_ns,
            size,
            frames: frame_count,
            codec,
            width,
            height,
        },
        track: Track {
            codec,
            codec_data,
            width,
            height,
        },
        frames,
        body_len,
        body_crc,
    })
}

/// Reads the whole fragment at `path`, checking every byte.
pub(super) fn read(path: &Path) -> Result<Fragment, String> {
    let (mut file, h) = read_header(path)?;
    let mut body = vec![0u8; usize::try_from(h.body_len).unwrap_or(usize::MAX)];
    file.read_exact(&mut body)
        .map_err(|e| format!("cannot read the frames: {e}"))?;
    if crc32fast::hash(&body) != h.body_crc {
        return Err("frame data CRC mismatch".into());
    }
    let body = Bytes::from(body);
    let mut at = 0usize;
    let frames = h
        .frames
        .iter()
        .map(|&(pts_ns, dts_ns, duration_ns, key, len)| {
            let data = body.slice(at..at + len as usize);
            at += len as usize;
            Frame {
                pts_ns,
                dts_ns,
                duration_ns,
                key,
                data,
            }
        })
        .collect();
    Ok(Fragment {
        meta: h.meta,
        track: h.track,
        frames,
    })
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Reads little-endian fields from a header, `None` past its end.
struct Cursor<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.buf.get(self.at..end)?;
        self.at = end;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32_at(self.take(4)?, 0))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64_at(self.take(8)?, 0))
    }
}
