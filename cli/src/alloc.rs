//! The allocator: mimalloc, with its purge delay raised from 10 ms to 1 s.
//!
//! mimalloc hands freed memory back to the OS 10 ms after it is freed by
//! default. The Kinesis API's operations build answers of up to about 13 MB
//! (GetRecords of 10,000 records of 1 KB) on a pool of threads, and with a
//! 10 ms delay each call found its memory given back and faulted it in
//! again: `perf` showed 40 to 60% of the server's time in the kernel zeroing
//! fresh (transparent huge) pages. Kept for a second, the memory is reused;
//! it still goes back to the OS when a burst is over, so RSS stays bounded
//! by what a second of work uses.

/// mimalloc's `mi_option_purge_delay` (its `mi_option_t` value in mimalloc
/// v2 and v3; `libmimalloc-sys` exports no constant for it). A test checks
/// that the option at this index has the purge delay's default.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// The purge delay osprey runs with, in milliseconds.
pub const PURGE_DELAY_MS: i32 = 1000;

/// Sets mimalloc's options; call first in `main`.
#[expect(
    unsafe_code,
    reason = "mi_option_set is a C call; it takes two integers and has no memory-safety preconditions"
)]
pub fn tune() {
    // SAFETY: mi_option_set only stores an integer in mimalloc's option
    // table; any option index below _mi_option_last is valid.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, PURGE_DELAY_MS.into()) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[expect(unsafe_code, reason = "reads mimalloc's option table")]
    fn the_option_set_is_the_purge_delay() {
        // SAFETY: as in tune(): an integer read from the option table.
        let before = unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
        // The purge delay's documented default is 10 ms (the neighbouring
        // options default to 1 and 0): a renumbered enum fails here.
        assert!(
            before == 10 || before == i64::from(PURGE_DELAY_MS),
            "option {PURGE_DELAY} is {before}, not mimalloc's purge delay"
        );
        tune();
        // SAFETY: as above.
        let after = unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
        assert_eq!(after, i64::from(PURGE_DELAY_MS));
    }
}
