//! Shard iterators as Kinesis hands them out: opaque tokens that a client
//! cannot forge or alter, and that expire (after 5 minutes, as Kinesis'
//! do; `--iterator-lifetime` shortens it for tests).
//!
//! A token is the base64 of a version byte, the server run's id, the time
//! it was issued (milliseconds on this run's monotonic clock), the next
//! sequence number, the stream and the shard, followed by an HMAC-SHA256 of
//! all of that under a key drawn from the operating system when the server
//! starts. A token whose MAC does not match is refused as
//! `InvalidArgumentException`; one older than its lifetime, or one issued
//! by an earlier run of the server (whose key is gone, so that its MAC
//! cannot be checked), as `ExpiredIteratorException`, which tells a client
//! such as the KCL to get a new iterator from its checkpoint.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::store::ShardIterator;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

use crate::codec::base64;

type HmacSha256 = Hmac<Sha256>;

/// The layout version, the first byte of every token.
const VERSION: u8 = 1;

/// Bytes of the MAC at the end of a token.
const MAC_LEN: usize = 32;

/// Bytes before the stream name: version, run id, issue time, sequence
/// number, the stream name's length.
const FIXED: usize = 1 + 8 + 8 + 8 + 2;

/// Why a token is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Not a token this server issued, or one altered since.
    Invalid,
    /// A token past its lifetime, or one of an earlier run of the server;
    /// the text says which.
    Expired(String),
}

/// Issues and checks shard iterators for one run of the server.
pub struct Iterators {
    /// The MAC key, drawn when the server starts and never written out.
    key: [u8; 32],
    /// This run's id, drawn with the key.
    run: [u8; 8],
    /// How long a token stays valid, in milliseconds.
    lifetime_ms: u64,
    /// Milliseconds on a clock that never goes back within the run.
    clock: fn() -> u64,
}

impl std::fmt::Debug for Iterators {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key stays out of logs.
        f.debug_struct("Iterators")
            .field("lifetime_ms", &self.lifetime_ms)
            .finish_non_exhaustive()
    }
}

/// Milliseconds since the first call in this process, on the monotonic clock.
fn monotonic_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl Iterators {
    /// Iterators that live for `lifetime`, under a key drawn from the
    /// operating system's random source.
    ///
    /// # Errors
    /// The random source cannot be read.
    pub fn new(lifetime: Duration) -> Result<Self, getrandom::Error> {
        let mut seed = [0; 40];
        getrandom::fill(&mut seed)?;
        let (key, run) = seed.split_at(32);
        monotonic_ms();
        Ok(Self::with_key(
            key.try_into().expect("32 bytes"),
            run.try_into().expect("8 bytes"),
            lifetime,
            monotonic_ms,
        ))
    }

    /// Iterators with a given key, run id and clock (tests).
    fn with_key(key: [u8; 32], run: [u8; 8], lifetime: Duration, clock: fn() -> u64) -> Self {
        Self {
            key,
            run,
            lifetime_ms: u64::try_from(lifetime.as_millis()).unwrap_or(u64::MAX),
            clock,
        }
    }

    /// Iterators under a fixed key that live 300 s on `clock` (tests).
    #[cfg(test)]
    pub(super) fn with_clock(clock: fn() -> u64) -> Self {
        Self::with_key([3; 32], [4; 8], Duration::from_secs(300), clock)
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any length")
    }

    /// A token for `it`, issued now.
    pub fn issue(&self, it: &ShardIterator) -> String {
        let mut bytes = Vec::with_capacity(FIXED + it.stream.len() + it.shard.len() + MAC_LEN);
        bytes.push(VERSION);
        bytes.extend_from_slice(&self.run);
        bytes.extend_from_slice(&(self.clock)().to_be_bytes());
        bytes.extend_from_slice(&it.next_seq.to_be_bytes());
        // Stream names are at most 128 bytes; a longer one cannot exist.
        let len = u16::try_from(it.stream.len()).unwrap_or(u16::MAX);
        bytes.extend_from_slice(&len.to_be_bytes());
        bytes.extend_from_slice(it.stream.as_bytes());
        bytes.extend_from_slice(it.shard.as_bytes());
        let mut mac = self.mac();
        mac.update(&bytes);
        bytes.extend_from_slice(&mac.finalize().into_bytes());
        base64::encode(&bytes)
    }

    /// The iterator a token stands for, when this run issued it, it is
    /// intact and it has not expired.
    ///
    /// # Errors
    /// [`Refused::Invalid`] for a token that is not one, or that was
    /// altered; [`Refused::Expired`] for one too old or of an earlier run.
    pub fn open(&self, token: &str) -> Result<ShardIterator, Refused> {
        let bytes = base64::decode(token).ok_or(Refused::Invalid)?;
        if bytes.len() < FIXED + MAC_LEN || bytes[0] != VERSION {
            return Err(Refused::Invalid);
        }
        let (body, tag) = bytes.split_at(bytes.len() - MAC_LEN);
        let word = |at: usize| {
            u64::from_be_bytes(body[at..at + 8].try_into().expect("8 bytes within FIXED"))
        };
        if body[1..9] != self.run {
            return Err(Refused::Expired(
                "the shard iterator was issued by an earlier run of the server; get a new one"
                    .into(),
            ));
        }
        let mut mac = self.mac();
        mac.update(body);
        mac.verify_slice(tag).map_err(|_| Refused::Invalid)?;
        let (issued, next_seq) = (word(9), word(17));
        let age = (self.clock)().saturating_sub(issued);
        if age > self.lifetime_ms {
            return Err(Refused::Expired(format!(
                "the shard iterator expired: it was issued {:.1} s ago and lives {:.1} s; get a new one",
                age as f64 / 1000.0,
                self.lifetime_ms as f64 / 1000.0
            )));
        }
        let len = usize::from(u16::from_be_bytes([body[25], body[26]]));
        let names = &body[FIXED..];
        if names.len() < len {
            return Err(Refused::Invalid);
        }
        let (stream, shard) = names.split_at(len);
        let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| Refused::Invalid);
        Ok(ShardIterator {
            stream: text(stream)?,
            shard: text(shard)?,
            next_seq,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    static NOW: AtomicU64 = AtomicU64::new(1_000);

    fn clock() -> u64 {
        NOW.load(Ordering::Relaxed)
    }

    fn fixed() -> u64 {
        5_000
    }

    fn it() -> ShardIterator {
        ShardIterator {
            stream: "a.b-c/d".into(),
            shard: "shardId-000000000001".into(),
            next_seq: 42,
        }
    }

    #[test]
    fn tokens_round_trip_and_refuse_every_altered_byte() {
        let iters = Iterators::with_key([7; 32], [1; 8], Duration::from_secs(300), fixed);
        let token = iters.issue(&it());
        assert_eq!(iters.open(&token), Ok(it()));
        let bytes = base64::decode(&token).unwrap();
        for i in 0..bytes.len() {
            let mut altered = bytes.clone();
            altered[i] ^= 0x10;
            let refused = iters.open(&base64::encode(&altered)).unwrap_err();
            // The run id's bytes say "an earlier run"; every other byte "invalid".
            if (1..9).contains(&i) {
                assert!(matches!(refused, Refused::Expired(_)), "byte {i}");
            } else {
                assert_eq!(refused, Refused::Invalid, "byte {i}");
            }
        }
        // Cut short, empty, not base64, the old plain format, another key.
        for bad in [
            &token[..token.len() - 8],
            "",
            "***",
            &base64::encode(b"a.b-c/shardId-000000000001/0"),
        ] {
            assert_eq!(iters.open(bad), Err(Refused::Invalid), "{bad}");
        }
        let other = Iterators::with_key([8; 32], [1; 8], Duration::from_secs(300), fixed);
        assert_eq!(other.open(&token), Err(Refused::Invalid));
        let later_run = Iterators::with_key([7; 32], [2; 8], Duration::from_secs(300), fixed);
        assert!(matches!(later_run.open(&token), Err(Refused::Expired(_))));
    }

    #[test]
    fn tokens_expire_after_their_lifetime() {
        let iters = Iterators::with_key([7; 32], [1; 8], Duration::from_secs(300), clock);
        let token = iters.issue(&it());
        let issued = NOW.load(Ordering::Relaxed);
        let at = |ms: u64| {
            NOW.store(issued + ms, Ordering::Relaxed);
            iters.open(&token)
        };
        assert_eq!(at(300_000), Ok(it()));
        assert!(matches!(at(300_001), Err(Refused::Expired(m)) if m.contains("300.0 s")));
        NOW.store(issued, Ordering::Relaxed);
        assert!(Iterators::new(Duration::from_secs(1)).is_ok());
    }
}
