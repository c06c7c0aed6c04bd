//! A streaming Matroska reader: bytes go in as they arrive ([`MkvReader::feed`]),
//! [`Event`]s come out ([`MkvReader::next`]) — the tracks, each cluster's
//! timecode, each block — while only the element being read is held (at
//! most [`MAX_ELEMENT`] bytes). Master elements are entered without their
//! sizes being needed (a Segment or Cluster of unknown size streams);
//! elements it has no use for are skipped as they pass, never held. A new
//! EBML header (a producer that starts again) starts a new segment.

use bytes::{Buf as _, Bytes, BytesMut};

use super::ebml::{UNKNOWN_SIZE, Vint, read_id, read_size, uint};
use super::id;

/// The largest element held whole (a frame): larger is refused.
pub(crate) const MAX_ELEMENT: u64 = 16 << 20;

/// Matroska's default: timecodes in milliseconds.
const DEFAULT_SCALE_NS: u64 = 1_000_000;

/// Malformed Matroska, and where.
#[derive(Debug, thiserror::Error)]
#[error("invalid Matroska at byte {offset}: {why}")]
pub(crate) struct MkvError {
    /// The stream offset of the element at fault.
    pub(crate) offset: u64,
    /// What is wrong.
    pub(crate) why: String,
}

/// A track as the Tracks element declares it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TrackEntry {
    /// TrackNumber, as blocks name it.
    pub(crate) number: u64,
    /// TrackType (1 video, 2 audio, ...).
    pub(crate) kind: u64,
    /// CodecID.
    pub(crate) codec_id: String,
    /// CodecPrivate.
    pub(crate) codec_private: Vec<u8>,
    /// DefaultDuration, ns.
    pub(crate) default_duration_ns: Option<u64>,
    /// PixelWidth.
    pub(crate) width: u32,
    /// PixelHeight.
    pub(crate) height: u32,
}

/// A frame of a track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Block {
    /// The track number.
    pub(crate) track: u64,
    /// Its timecode (cluster's plus its own), ns on the stream's clock.
    pub(crate) time_ns: u64,
    /// A key frame.
    pub(crate) key: bool,
    /// Its data.
    pub(crate) data: Bytes,
}

/// What the reader found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// The tracks (declared anew), before the first cluster that follows.
    Tracks(Vec<TrackEntry>),
    /// A cluster starts at this timecode (ns on the stream's clock).
    Cluster(u64),
    /// A frame.
    Block(Block),
}

/// A block group being read: where it ends, its block, whether a
/// ReferenceBlock said it is not a key frame.
#[derive(Debug)]
struct Group {
    end: u64,
    block: Option<Block>,
    referenced: bool,
}

/// What handling one element led to.
enum Step {
    /// An event to hand out.
    Event(Event),
    /// The element is not all here yet.
    More,
    /// Go on with the next element.
    Next,
}

/// The reader's state.
#[derive(Debug)]
pub(crate) struct MkvReader {
    buf: BytesMut,
    /// Stream offset of `buf[0]`.
    offset: u64,
    /// Bytes of a skipped element still to pass.
    skip: u64,
    scale_ns: u64,
    tracks: Vec<TrackEntry>,
    tracks_new: bool,
    cluster_ns: Option<u64>,
    group: Option<Group>,
}

impl Default for MkvReader {
    fn default() -> Self {
        MkvReader {
            buf: BytesMut::new(),
            offset: 0,
            skip: 0,
            scale_ns: DEFAULT_SCALE_NS,
            tracks: Vec::new(),
            tracks_new: false,
            cluster_ns: None,
            group: None,
        }
    }
}

impl MkvReader {
    /// Takes the next bytes of the stream.
    pub(crate) fn feed(&mut self, data: &[u8]) {
        let pass = usize::try_from(self.skip)
            .unwrap_or(usize::MAX)
            .min(data.len());
        self.skip -= pass as u64;
        self.offset += pass as u64;
        self.buf.extend_from_slice(&data[pass..]);
    }

    /// Bytes held now.
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.buf.len()
    }

    fn error(&self, why: impl Into<String>) -> MkvError {
        MkvError {
            offset: self.offset,
            why: why.into(),
        }
    }

    fn consume(&mut self, n: usize) -> Bytes {
        self.offset += n as u64;
        self.buf.split_to(n).freeze()
    }

    /// The next event, or `None` until more bytes come.
    ///
    /// # Errors
    /// Malformed Matroska: the stream cannot go on.
    pub(crate) fn next(&mut self) -> Result<Option<Event>, MkvError> {
        loop {
            if self.skip > 0 {
                let pass = usize::try_from(self.skip)
                    .unwrap_or(usize::MAX)
                    .min(self.buf.len());
                self.buf.advance(pass);
                self.offset += pass as u64;
                self.skip -= pass as u64;
                if self.skip > 0 {
                    return Ok(None);
                }
            }
            if let Some(event) = self.group_done()? {
                return Ok(Some(event));
            }
            let (element, id_len) = match read_id(&self.buf) {
                Vint::Short => return Ok(None),
                Vint::Invalid => return Err(self.error("not an element id")),
                Vint::Value(id, len) => (u32::try_from(id).unwrap_or(0), len),
            };
            let (size, size_len) = match read_size(&self.buf[id_len..]) {
                Vint::Short => return Ok(None),
                Vint::Invalid => return Err(self.error("not an element size")),
                Vint::Value(size, len) => (size, len),
            };
            match self.element(element, id_len + size_len, size)? {
                Step::Event(event) => return Ok(Some(event)),
                Step::More => return Ok(None),
                Step::Next => {}
            }
        }
    }

    /// Handles one element whose head is in the buffer: enters it, reads
    /// it whole, or skips it.
    fn element(&mut self, element: u32, head: usize, size: u64) -> Result<Step, MkvError> {
        let unknown = size == UNKNOWN_SIZE;
        match element {
            id::SEGMENT
            | id::CLUSTER
            | id::EBML
            | id::INFO
            | id::TRACKS
            | id::TRACK_ENTRY
            | id::VIDEO
            | id::BLOCK_GROUP => {
                if unknown && !matches!(element, id::SEGMENT | id::CLUSTER) {
                    return Err(self.error(format!("element {element:#x} of unknown size")));
                }
                let start = self.offset;
                self.consume(head);
                match element {
                    id::EBML => {
                        self.scale_ns = DEFAULT_SCALE_NS;
                        self.cluster_ns = None;
                    }
                    id::TRACKS => {
                        self.tracks.clear();
                        self.tracks_new = true;
                    }
                    id::TRACK_ENTRY => self.tracks.push(TrackEntry::default()),
                    id::BLOCK_GROUP => {
                        self.group = Some(Group {
                            end: start + head as u64 + size,
                            block: None,
                            referenced: false,
                        });
                    }
                    id::CLUSTER => {
                        self.cluster_ns = None;
                        if self.tracks_new {
                            self.tracks_new = false;
                            return Ok(Step::Event(Event::Tracks(self.tracks.clone())));
                        }
                    }
                    _ => {}
                }
                Ok(Step::Next)
            }
            id::TIMECODE_SCALE
            | id::TRACK_NUMBER
            | id::TRACK_TYPE
            | id::CODEC_ID
            | id::CODEC_PRIVATE
            | id::DEFAULT_DURATION
            | id::PIXEL_WIDTH
            | id::PIXEL_HEIGHT
            | id::TIMECODE
            | id::SIMPLE_BLOCK
            | id::BLOCK
            | id::REFERENCE_BLOCK => {
                if unknown || size > MAX_ELEMENT {
                    return Err(self.error(format!(
                        "element {element:#x} of size {size} (at most {MAX_ELEMENT})"
                    )));
                }
                let size = usize::try_from(size).unwrap_or(usize::MAX);
                if self.buf.len() < head + size {
                    self.buf.reserve(head + size - self.buf.len());
                    return Ok(Step::More);
                }
                self.consume(head);
                let body = self.consume(size);
                Ok(self.leaf(element, &body)?.map_or(Step::Next, Step::Event))
            }
            _ => {
                if unknown {
                    return Err(self.error(format!("element {element:#x} of unknown size")));
                }
                self.consume(head);
                self.skip = size;
                Ok(Step::Next)
            }
        }
    }

    /// Takes a leaf element's body.
    fn leaf(&mut self, element: u32, body: &Bytes) -> Result<Option<Event>, MkvError> {
        let number = || uint(body).ok_or_else(|| self.error("integer longer than 8 bytes"));
        match element {
            id::TIMECODE_SCALE => self.scale_ns = number()?.max(1),
            id::TIMECODE => {
                let ns = number()?
                    .checked_mul(self.scale_ns)
                    .ok_or_else(|| self.error("cluster timecode out of range"))?;
                self.cluster_ns = Some(ns);
                return Ok(Some(Event::Cluster(ns)));
            }
            id::SIMPLE_BLOCK => return Ok(Some(Event::Block(self.block(body.clone())?))),
            id::BLOCK => {
                let block = self.block(body.clone())?;
                match &mut self.group {
                    Some(group) => group.block = Some(block),
                    None => return Err(self.error("Block outside a BlockGroup")),
                }
            }
            id::REFERENCE_BLOCK => {
                if let Some(group) = &mut self.group {
                    group.referenced = true;
                }
            }
            id::CODEC_ID | id::CODEC_PRIVATE => {
                if let Some(entry) = self.tracks.last_mut() {
                    if element == id::CODEC_ID {
                        entry.codec_id = String::from_utf8_lossy(body)
                            .trim_end_matches('\0')
                            .to_owned();
                    } else {
                        entry.codec_private = body.to_vec();
                    }
                }
            }
            _ => {
                let n = number()?;
                let pixels = || u32::try_from(n).map_err(|_| self.error("picture too large"));
                let (width, height) = match element {
                    id::PIXEL_WIDTH => (Some(pixels()?), None),
                    id::PIXEL_HEIGHT => (None, Some(pixels()?)),
                    _ => (None, None),
                };
                if let Some(entry) = self.tracks.last_mut() {
                    match element {
                        id::TRACK_NUMBER => entry.number = n,
                        id::TRACK_TYPE => entry.kind = n,
                        id::DEFAULT_DURATION => entry.default_duration_ns = Some(n),
                        _ => {}
                    }
                    entry.width = width.unwrap_or(entry.width);
                    entry.height = height.unwrap_or(entry.height);
                }
            }
        }
        Ok(None)
    }

    /// A finished block group's block, once the reader has passed its end.
    fn group_done(&mut self) -> Result<Option<Event>, MkvError> {
        match &self.group {
            Some(group) if self.offset >= group.end => {}
            _ => return Ok(None),
        }
        let Some(group) = self.group.take() else {
            return Ok(None);
        };
        match group.block {
            Some(mut block) => {
                block.key = !group.referenced;
                Ok(Some(Event::Block(block)))
            }
            None => Err(self.error("BlockGroup without a Block")),
        }
    }

    /// Parses a (Simple)Block's body: track, relative timecode, flags, data.
    fn block(&self, mut body: Bytes) -> Result<Block, MkvError> {
        let (track, len) = match read_size(&body) {
            Vint::Value(track, len) if track != UNKNOWN_SIZE => (track, len),
            _ => return Err(self.error("bad block track number")),
        };
        if body.len() < len + 3 {
            return Err(self.error("block too short"));
        }
        body.advance(len);
        let relative = i64::from(body.get_i16());
        let flags = body.get_u8();
        if flags & 0x06 != 0 {
            return Err(self.error("laced blocks are not supported"));
        }
        let cluster = self
            .cluster_ns
            .ok_or_else(|| self.error("block before its cluster's timecode"))?;
        let time_ns = i128::from(cluster) + i128::from(relative) * i128::from(self.scale_ns);
        let time_ns = u64::try_from(time_ns).map_err(|_| self.error("block time out of range"))?;
        Ok(Block {
            track,
            time_ns,
            key: flags & 0x80 != 0,
            data: body,
        })
    }
}
