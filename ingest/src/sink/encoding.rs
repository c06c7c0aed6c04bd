//! Compression of NDJSON leaving osprey: the same choice for delivered files
//! (`.ndjson.gz`, `.ndjson.zst`) and for webhook bodies (`Content-Encoding`),
//! so the two sinks compress through one piece of code.

use std::io::{self, Write};

/// How NDJSON bytes are compressed on their way out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ContentEncoding {
    /// As they are.
    #[default]
    Identity,
    /// gzip (RFC 1952) at flate2's default level.
    Gzip,
    /// Zstandard (RFC 8878) at zstd's default level, 3.
    Zstd,
}

impl ContentEncoding {
    /// The HTTP `Content-Encoding` token, `None` for [`ContentEncoding::Identity`].
    pub fn http_token(self) -> Option<&'static str> {
        match self {
            ContentEncoding::Identity => None,
            ContentEncoding::Gzip => Some("gzip"),
            ContentEncoding::Zstd => Some("zstd"),
        }
    }

    /// What a file name gets after `.ndjson`: `""`, `".gz"` or `".zst"`.
    pub fn file_suffix(self) -> &'static str {
        match self {
            ContentEncoding::Identity => "",
            ContentEncoding::Gzip => ".gz",
            ContentEncoding::Zstd => ".zst",
        }
    }

    /// Writes `data` compressed into `out` (one whole gzip member or zstd
    /// frame).
    ///
    /// # Errors
    /// The writer's own, and the compressor's.
    pub fn write_to<W: Write>(self, data: &[u8], out: W) -> io::Result<()> {
        match self {
            ContentEncoding::Identity => {
                let mut out = out;
                out.write_all(data)
            }
            ContentEncoding::Gzip => {
                let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
                gz.write_all(data)?;
                gz.finish().map(drop)
            }
            ContentEncoding::Zstd => {
                let mut z =
                    zstd::stream::write::Encoder::new(out, zstd::DEFAULT_COMPRESSION_LEVEL)?;
                z.include_checksum(true)?;
                z.write_all(data)?;
                z.finish().map(drop)
            }
        }
    }

    /// `data` compressed, as a new buffer.
    ///
    /// # Errors
    /// The compressor's (it cannot fail on memory it is given).
    pub fn encode(self, data: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(match self {
            ContentEncoding::Identity => data.len(),
            _ => data.len() / 4 + 64,
        });
        self.write_to(data, &mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    const LINES: &[u8] = b"{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n";

    #[test]
    fn identity_is_the_bytes() {
        assert_eq!(ContentEncoding::Identity.encode(LINES).unwrap(), LINES);
        assert_eq!(ContentEncoding::Identity.encode(b"").unwrap(), b"");
        assert_eq!(ContentEncoding::Identity.http_token(), None);
        assert_eq!(ContentEncoding::Identity.file_suffix(), "");
    }

    #[test]
    fn gzip_round_trips() {
        let packed = ContentEncoding::Gzip.encode(LINES).unwrap();
        assert_eq!(&packed[..2], [0x1f, 0x8b], "gzip magic");
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, LINES);
    }

    #[test]
    fn zstd_round_trips_even_empty() {
        for data in [LINES, b""] {
            let packed = ContentEncoding::Zstd.encode(data).unwrap();
            assert_eq!(&packed[..4], [0x28, 0xb5, 0x2f, 0xfd], "zstd magic");
            assert_eq!(zstd::decode_all(&packed[..]).unwrap(), data);
        }
        assert_eq!(ContentEncoding::Zstd.http_token(), Some("zstd"));
        assert_eq!(ContentEncoding::Zstd.file_suffix(), ".zst");
    }
}
