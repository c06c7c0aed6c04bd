// Shared by the kernels that sum absolute differences (prepended after
// `frame.wgsl` to `scene.wgsl` and `stats.wgsl`): the per-frame exact 64-bit
// sums and how to add to them.
//
// Rust twin: `kernels/src/gpu/types.rs` (`SadTotal`, `SAD_PER_FRAME`,
// `binding::SAD`).

// An exact 64-bit sum kept as two u32 words (`types::SadTotal`).
struct SadTotal {
    lo: atomic<u32>,
    hi: atomic<u32>,
}

// Sums a frame (`types::SAD_PER_FRAME`): luma, U, V.
const SAD_PER_FRAME: u32 = 3u;
const SAD_Y: u32 = 0u;
const SAD_U: u32 = 1u;
const SAD_V: u32 = 2u;

// SAD_PER_FRAME sums a frame: luma (`scene.wgsl`), U and V (`stats.wgsl`).
@group(0) @binding(3) var<storage, read_write> sad: array<SadTotal>;

// Sum of |a - b| over the first `n` bytes of two words (`cpu::scene::row_sad`).
fn word_sad(a: u32, b: u32, n: u32) -> u32 {
    var s = 0u;
    for (var i = 0u; i < n; i++) {
        let x = byte_of(a, i);
        let y = byte_of(b, i);
        s += max(x, y) - min(x, y);
    }
    return s;
}

// Adds `part` to sum `which` (SAD_Y, SAD_U, SAD_V) of this frame. Whichever
// addition wraps the low word carries one into the high word, so the pair is
// exact in any order.
fn add_u64(which: u32, part: u32) {
    let i = SAD_PER_FRAME * params.frame + which;
    let old = atomicAdd(&sad[i].lo, part);
    if old > 0xffffffffu - part {
        atomicAdd(&sad[i].hi, 1u);
    }
}
