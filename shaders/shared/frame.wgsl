// Shared by every frame kernel (prepended to `stats.wgsl` and `scene.wgsl` when
// they are loaded): the per-frame parameters, the packed frame words and the
// helpers that walk a plane one 32-bit word at a time.
//
// Rust twin: `kernels/src/gpu/types.rs` (struct layout and constants) and
// `kernels/src/gpu/upload.rs` (how frames are packed).
//
// A chunk's frames are packed one after another into `frames`; every plane row
// starts on a word boundary, and the bytes past a row's width in its last word
// are padding that the kernels mask out.

// Invocations per workgroup of every frame kernel (`types::WORKGROUP_SIZE`).
const WORKGROUP_SIZE: u32 = 256u;
// Words each invocation reads in one dispatch (`types::WORDS_PER_INVOCATION`).
const WORDS_PER_INVOCATION: u32 = 8u;

// `FrameParams::format` (`types::FORMAT_*`).
const FORMAT_I420: u32 = 0u;
const FORMAT_NV12: u32 = 1u;

// `FrameParams::prev_source` (`types::PREV_*`): where the frame before this
// one lives, for `scene`.
const PREV_NONE: u32 = 0u;
const PREV_CHUNK: u32 = 1u;
const PREV_KEPT: u32 = 2u;

// Where one frame's planes lie in `frames`, and what to compare it with.
// Offsets and strides count 32-bit words.
struct FrameParams {
    // Slot of this frame in the per-frame outputs (histograms, sums).
    frame: u32,
    // Luma size in pixels.
    width: u32,
    height: u32,
    // FORMAT_I420 or FORMAT_NV12.
    format: u32,
    y_offset: u32,
    y_stride: u32,
    // U plane (I420) or interleaved UV plane (NV12).
    u_offset: u32,
    u_stride: u32,
    // V plane (I420 only).
    v_offset: u32,
    v_stride: u32,
    // Chroma size in samples (ceil(width / 2) x ceil(height / 2)).
    chroma_width: u32,
    chroma_height: u32,
    // PREV_NONE, PREV_CHUNK (the previous frame's planes in `frames`) or
    // PREV_KEPT (in `prev_frame`, the last frame of the previous chunk).
    prev_source: u32,
    // The previous frame's luma, U (or UV) and V planes.
    prev_offset: u32,
    prev_stride: u32,
    prev_u_offset: u32,
    prev_u_stride: u32,
    prev_v_offset: u32,
    prev_v_stride: u32,
    // 1 when the previous frame has this frame's format, so its chroma
    // compares too (signalstats' UDIF/VDIF); 0 otherwise.
    prev_chroma: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    _pad3: u32,
}

@group(0) @binding(0) var<uniform> params: FrameParams;
@group(0) @binding(1) var<storage, read> frames: array<u32>;

// Linear index of this workgroup in a dispatch that may spill into y when a
// plane needs more workgroups than one dimension allows.
fn group_index(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.x + wid.y * nwg.x;
}

// The first word this invocation reads; it then steps by WORKGROUP_SIZE, so
// neighbouring invocations read neighbouring words.
fn first_word(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return group_index(wid, nwg) * WORKGROUP_SIZE * WORDS_PER_INVOCATION + lid;
}

// Words a row of `row_bytes` bytes occupies.
fn words_per_row(row_bytes: u32) -> u32 {
    return (row_bytes + 3u) / 4u;
}

// How many bytes of word `col` lie inside a row of `row_bytes` bytes (1 to 4):
// the rest is padding.
fn bytes_in_word(col: u32, row_bytes: u32) -> u32 {
    return min(4u, row_bytes - col * 4u);
}

// Byte `i` (0 = lowest address) of a little-endian word.
fn byte_of(word: u32, i: u32) -> u32 {
    return (word >> (8u * i)) & 0xffu;
}
