//! The writer's output read back by the reader, whole and byte by byte;
//! malformed input refused with where.

use bytes::Bytes;
use osprey_ingest::video::{Codec, Fragment, FragmentMeta, Frame, Track};

use super::reader::{Event, MkvReader};
use super::writer;

fn fragment(start_ns: u64, frames: u32) -> Fragment {
    let track = Track {
        codec: Codec::H264,
        codec_data: vec![1, 0x64, 0, 0x1f, 0xff],
        width: 320,
        height: 240,
    };
    let frames: Vec<Frame> = (0..frames)
        .map(|i| Frame {
            pts_ns: start_ns + u64::from(i) * 40_000_000,
            dts_ns: start_ns + u64::from(i) * 40_000_000,
            duration_ns: 40_000_000,
            key: i == 0,
            data: Bytes::from(vec![0, 0, 0, 2, 0x65, u8::try_from(i % 256).unwrap()]),
        })
        .collect();
    Fragment {
        meta: FragmentMeta {
            number: 7,
            producer_ns: start_ns,
            server_ns: start_ns,
            duration_ns: u64::from(frames.len() as u32) * 40_000_000,
            size: 6 * frames.len() as u64,
            frames: frames.len() as u32,
            codec: Codec::H264,
            width: 320,
            height: 240,
        },
        track,
        frames,
    }
}

fn events(reader: &mut MkvReader, out: &mut Vec<Event>) {
    while let Some(event) = reader.next().unwrap() {
        out.push(event);
    }
}

#[test]
fn what_the_writer_writes_the_reader_reads_in_any_pieces() {
    let start = 1_700_000_000_000_000_000;
    // 1000 frames of 40 ms: 40 s, past a block's 16-bit offset, so two clusters.
    let frag = fragment(start, 1000);
    let mut bytes = writer::header(&frag.track);
    bytes.extend(writer::fragment(&frag, start + 50_000_000_000));
    for piece in [bytes.len(), 1, 7] {
        let mut reader = MkvReader::default();
        let mut got = Vec::new();
        for chunk in bytes.chunks(piece) {
            reader.feed(chunk);
            events(&mut reader, &mut got);
            assert!(reader.held() < 64, "{}", reader.held());
        }
        let Event::Tracks(tracks) = &got[0] else {
            panic!("{:?}", got[0]);
        };
        assert_eq!(tracks.len(), 1);
        assert_eq!(tracks[0].codec_id, "V_MPEG4/ISO/AVC");
        assert_eq!(tracks[0].codec_private, frag.track.codec_data);
        assert_eq!((tracks[0].width, tracks[0].height), (320, 240));
        let clusters = got
            .iter()
            .filter(|e| matches!(e, Event::Cluster(_)))
            .count();
        assert_eq!(clusters, 2);
        let blocks: Vec<_> = got
            .iter()
            .filter_map(|e| match e {
                Event::Block(b) => Some(b),
                _ => None,
            })
            .collect();
        assert_eq!(blocks.len(), 1000);
        for (block, frame) in blocks.iter().zip(&frag.frames) {
            assert_eq!(block.time_ns, frame.pts_ns);
            assert_eq!(block.key, frame.key);
            assert_eq!(block.data, frame.data);
            assert_eq!(block.track, 1);
        }
    }
}

#[test]
fn malformed_input_is_refused_and_big_elements_are_not_held() {
    let mut reader = MkvReader::default();
    reader.feed(&[0x1A, 0x45, 0xDF, 0xA3, 0x80, 0x00, 0x00]);
    let e = reader.next().unwrap_err();
    assert_eq!(e.offset, 5, "{e}");
    // A SimpleBlock announcing 1 GiB is refused before any of it is held.
    let mut reader = MkvReader::default();
    reader.feed(&[0xA3, 0x08, 0x40, 0, 0, 0, 0, 0, 0]);
    assert!(reader.next().unwrap_err().why.contains("at most"));
    // A block before any cluster timecode.
    let mut reader = MkvReader::default();
    reader.feed(&[0xA3, 0x85, 0x81, 0, 0, 0x80, 0]);
    assert!(reader.next().unwrap_err().why.contains("timecode"));
}
