// stats: 256-bin histograms of Y, U, V and saturation and the 360-bin hue
// histogram per frame, and the U/V differences against the previous frame
// (ffmpeg's signalstats reads its figures from these; YDIF comes from
// `scene.wgsl`'s luma sum).
//
// CPU twin: `kernels/src/cpu/stats.rs` (and `cpu/scene.rs` for the sums);
// host side: `kernels/src/gpu/stats.rs`.
// Needs `shared/frame.wgsl` and `shared/sad.wgsl` prepended.
//
// Each invocation reads whole words of a plane and counts their bytes into a
// workgroup-local histogram; at the end the workgroup adds its non-zero bins to
// the frame's histogram in `hist`. Addition commutes, so the counts equal the
// CPU twin's exactly.

// One frame's histograms, channel-major: Y, U, V, SAT (`kernel::channel`),
// 256 bins each, then hue, 360 bins padded to 384 (`types::FrameHist`).
struct FrameHist {
    bins: array<atomic<u32>, 1024>,
    hue: array<atomic<u32>, 384>,
}

@group(0) @binding(2) var<storage, read> prev_frame: array<u32>;
@group(0) @binding(4) var<storage, read_write> hist: array<FrameHist>;
// signalstats' hue of every (u, v), at u * 256 + v (`cpu::stats::hue_table`).
@group(0) @binding(5) var<storage, read> hue_table: array<u32>;

// This workgroup's counts: `FrameHist::bins`, then the hue bins.
var<workgroup> local_hist: array<atomic<u32>, 1384>;
// This workgroup's U and V differences.
var<workgroup> group_sad_u: atomic<u32>;
var<workgroup> group_sad_v: atomic<u32>;

const Y_BASE: u32 = 0u;
const U_BASE: u32 = 256u;
const V_BASE: u32 = 512u;
const SAT_BASE: u32 = 768u;
const HUE_BASE: u32 = 1024u;
const HUE_END: u32 = 1384u;

// Saturation of a chroma pair as signalstats computes it for 8-bit input:
// floor(hypot(u - 128, v - 128)), as an exact integer square root (the twin of
// `kernel::saturation`). The float root is only a first guess: it may be off by
// one on GPUs whose sqrt is not correctly rounded, and the loops correct it.
fn saturation(u: u32, v: u32) -> u32 {
    let du = i32(u) - 128;
    let dv = i32(v) - 128;
    let n = u32(du * du + dv * dv);
    var s = u32(sqrt(f32(n)));
    while s * s > n {
        s -= 1u;
    }
    while (s + 1u) * (s + 1u) <= n {
        s += 1u;
    }
    return s;
}

// Counts the first `n` bytes of a luma word (`LumaHistogram::add_row`).
fn add_word(word: u32, n: u32) {
    for (var b = 0u; b < n; b++) {
        atomicAdd(&local_hist[Y_BASE + byte_of(word, b)], 1u);
    }
}

// Counts one chroma pair into U, V, SAT and hue.
fn add_pair(u: u32, v: u32) {
    atomicAdd(&local_hist[U_BASE + u], 1u);
    atomicAdd(&local_hist[V_BASE + v], 1u);
    atomicAdd(&local_hist[SAT_BASE + saturation(u, v)], 1u);
    atomicAdd(&local_hist[HUE_BASE + hue_table[u * 256u + v]], 1u);
}

// Word `col` of row `row` of the previous frame's plane at `offset`.
fn prev_word(offset: u32, stride: u32, row: u32, col: u32) -> u32 {
    let at = offset + row * stride + col;
    if params.prev_source == PREV_KEPT {
        return prev_frame[at];
    }
    return frames[at];
}

// Sums of |a - b| over the even and odd bytes of the first `n` bytes of two
// interleaved `u v u v` words (`cpu::scene::interleaved_row_sad`).
fn interleaved_sad(a: u32, b: u32, n: u32) -> vec2<u32> {
    var s = vec2<u32>(0u, 0u);
    for (var i = 0u; i < n; i++) {
        let x = byte_of(a, i);
        let y = byte_of(b, i);
        s[i & 1u] += max(x, y) - min(x, y);
    }
    return s;
}

// Counts the first `n` samples of a U word and the V word at the same place
// (I420; `ChromaHistograms::add_planar_row`).
fn add_planar_words(u: u32, v: u32, n: u32) {
    for (var b = 0u; b < n; b++) {
        add_pair(byte_of(u, b), byte_of(v, b));
    }
}

// Counts the first `n` bytes (whole pairs) of an interleaved `u0 v0 u1 v1`
// word (NV12; `ChromaHistograms::add_interleaved_row`).
fn add_interleaved_word(uv: u32, n: u32) {
    for (var b = 0u; b < n; b += 2u) {
        add_pair(byte_of(uv, b), byte_of(uv, b + 1u));
    }
}

// Adds this workgroup's bins `first..end` to the frame's histograms
// (`LumaHistogram::merge_into` and `ChromaHistograms::merge_into`). Call from uniform control flow.
fn merge_into(lid: u32, first: u32, end: u32) {
    workgroupBarrier();
    for (var i = first + lid; i < end; i += WORKGROUP_SIZE) {
        let n = atomicLoad(&local_hist[i]);
        if n != 0u {
            if i < HUE_BASE {
                atomicAdd(&hist[params.frame].bins[i], n);
            } else {
                atomicAdd(&hist[params.frame].hue[i - HUE_BASE], n);
            }
        }
    }
}

// Luma histogram of one frame; dispatched with enough workgroups to cover
// words_per_row(width) * height words.
@compute @workgroup_size(WORKGROUP_SIZE)
fn stats_luma(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let row_words = words_per_row(params.width);
    let total = row_words * params.height;
    let first = first_word(wid, nwg, lid);
    for (var k = 0u; k < WORDS_PER_INVOCATION; k++) {
        let i = first + k * WORKGROUP_SIZE;
        if i < total {
            let row = i / row_words;
            let col = i - row * row_words;
            let word = frames[params.y_offset + row * params.y_stride + col];
            add_word(word, bytes_in_word(col, params.width));
        }
    }
    merge_into(lid, Y_BASE, U_BASE);
}

// U, V, saturation and hue histograms of one frame, I420 or NV12, and the U
// and V differences against the previous frame when it has this frame's
// format (prev_chroma); dispatched with enough workgroups to cover one chroma
// row's words times chroma_height.
@compute @workgroup_size(WORKGROUP_SIZE)
fn stats_chroma(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let nv12 = params.format == FORMAT_NV12;
    let row_bytes = select(params.chroma_width, 2u * params.chroma_width, nv12);
    let row_words = words_per_row(row_bytes);
    let total = row_words * params.chroma_height;
    let first = first_word(wid, nwg, lid);
    let diff = params.prev_chroma != 0u;
    var sad_uv = vec2<u32>(0u, 0u);
    for (var k = 0u; k < WORDS_PER_INVOCATION; k++) {
        let i = first + k * WORKGROUP_SIZE;
        if i < total {
            let row = i / row_words;
            let col = i - row * row_words;
            let n = bytes_in_word(col, row_bytes);
            let u = frames[params.u_offset + row * params.u_stride + col];
            let pu = select(0u, prev_word(params.prev_u_offset, params.prev_u_stride, row, col), diff);
            if nv12 {
                add_interleaved_word(u, n);
                sad_uv += interleaved_sad(u, pu, n);
            } else {
                let v = frames[params.v_offset + row * params.v_stride + col];
                add_planar_words(u, v, n);
                if diff {
                    let pv = prev_word(params.prev_v_offset, params.prev_v_stride, row, col);
                    sad_uv += vec2<u32>(word_sad(u, pu, n), word_sad(v, pv, n));
                }
            }
        }
    }
    if diff {
        if sad_uv.x != 0u {
            atomicAdd(&group_sad_u, sad_uv.x);
        }
        if sad_uv.y != 0u {
            atomicAdd(&group_sad_v, sad_uv.y);
        }
    }
    merge_into(lid, U_BASE, HUE_END);
    // merge_into ends past a barrier: the group's sums are complete.
    if diff && lid == 0u {
        let su = atomicLoad(&group_sad_u);
        let sv = atomicLoad(&group_sad_v);
        if su != 0u {
            add_u64(SAD_U, su);
        }
        if sv != 0u {
            add_u64(SAD_V, sv);
        }
    }
}
