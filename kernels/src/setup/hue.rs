//! signalstats' hue of a chroma pair, and its table over every pair,
//! computed once on the host: the CPU twin counts through it and the GPU
//! reads it from a storage buffer, so one libm evaluates the float formula.

use std::sync::OnceLock;

/// signalstats' hue of a chroma pair, in whole degrees 0 to 359, computed as
/// ffmpeg 5.1's `compute_sat_hue_metrics8` does in C:
/// `fmodf(floorf((180.f / M_PI) * atan2f(u - 128, v - 128) + 180.f), 360.f)`.
///
/// `180.f / M_PI` is a double, so the product and the sum are doubles, which C
/// converts to float for `floorf`; `atan2f` is the platform's float `atan2`,
/// as in ffmpeg. Every (u, v) gives 0 to 359 (checked by a test over all of
/// them), so the clamp below never changes a value; it only keeps an index in
/// range should a libm differ.
pub fn hue(u: u8, v: u8) -> u16 {
    let du = f32::from(u) - 128.0;
    let dv = f32::from(v) - 128.0;
    let degrees = (180.0 / std::f64::consts::PI) * f64::from(du.atan2(dv)) + 180.0;
    let h = (degrees as f32).floor() % 360.0;
    h.clamp(0.0, 359.0) as u16
}

/// [`hue`] of every (u, v) pair, indexed `u * 256 + v`: computed once on the
/// host and used by both backends (the GPU reads it from a storage buffer),
/// so the float formula is evaluated by one libm only.
pub fn hue_table() -> &'static [u16; 65536] {
    static TABLE: OnceLock<Box<[u16; 65536]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Box::new([0u16; 65536]);
        for u in 0..256usize {
            for v in 0..256usize {
                t[u * 256 + v] = hue(u as u8, v as u8);
            }
        }
        t
    })
}
