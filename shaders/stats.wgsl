// stats: 256-bin histograms of Y, U, V and saturation per frame (ffmpeg's
// signalstats reads its figures from these).
//
// CPU twin: `kernels/src/cpu/stats.rs`; host side: `kernels/src/gpu/stats.rs`.
// Needs `shared/frame.wgsl` prepended.
//
// Each invocation reads whole words of a plane and counts their bytes into a
// workgroup-local histogram; at the end the workgroup adds its non-zero bins to
// the frame's histogram in `hist`. Addition commutes, so the counts equal the
// CPU twin's exactly.

// One frame's histograms, channel-major: Y, U, V, SAT (`kernel::channel`),
// 256 bins each (`types::FrameHist`).
struct FrameHist {
    bins: array<atomic<u32>, 1024>,
}

@group(0) @binding(2) var<storage, read_write> hist: array<FrameHist>;

// This workgroup's counts, laid out like `FrameHist::bins`.
var<workgroup> local_hist: array<atomic<u32>, 1024>;

const Y_BASE: u32 = 0u;
const U_BASE: u32 = 256u;
const V_BASE: u32 = 512u;
const SAT_BASE: u32 = 768u;

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

// Counts one chroma pair into U, V and SAT.
fn add_pair(u: u32, v: u32) {
    atomicAdd(&local_hist[U_BASE + u], 1u);
    atomicAdd(&local_hist[V_BASE + v], 1u);
    atomicAdd(&local_hist[SAT_BASE + saturation(u, v)], 1u);
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
            atomicAdd(&hist[params.frame].bins[i], n);
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

// U, V and saturation histograms of one frame, I420 or NV12; dispatched with
// enough workgroups to cover one chroma row's words times chroma_height.
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
    for (var k = 0u; k < WORDS_PER_INVOCATION; k++) {
        let i = first + k * WORKGROUP_SIZE;
        if i < total {
            let row = i / row_words;
            let col = i - row * row_words;
            let n = bytes_in_word(col, row_bytes);
            let u = frames[params.u_offset + row * params.u_stride + col];
            if nv12 {
                add_interleaved_word(u, n);
            } else {
                let v = frames[params.v_offset + row * params.v_stride + col];
                add_planar_words(u, v, n);
            }
        }
    }
    merge_into(lid, U_BASE, SAT_BASE + 256u);
}
