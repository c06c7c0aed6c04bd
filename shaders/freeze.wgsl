// freeze: ffmpeg's freezedetect, each frame's SAD over Y, U and V against its
// reference frame, and the decision that moves the reference.
//
// CPU twin: `kernels/src/cpu/freeze.rs`; host side: `kernels/src/gpu/freeze.rs`.
// Needs `shared/frame.wgsl` and `shared/sad.wgsl` prepended.
//
// The reference is the last frame that was not frozen, so it depends on the
// decisions before it: `freeze_state` says where it is (a frame of this chunk,
// PREV_CHUNK, or the earlier chunk's frame kept in `freeze_kept`, PREV_KEPT),
// and each frame gets two dispatches in order: `freeze_sad` (skipped when the
// host knows the frame cannot be compared: no reference yet, or a new size or
// format) and the one-workgroup `freeze_decide`. `freeze_keep` ends the
// submission by copying the reference into `freeze_kept` when it is in the
// chunk. The chroma planes count `height >> 1` rows, as freezedetect does.

// Where a frame's planes lie and what freezedetect compares it with
// (`gpu::freeze::FreezeFrame`). Offsets and strides count 32-bit words.
struct FreezeFrame {
    y_offset: u32,
    y_stride: u32,
    // U plane (I420) or interleaved UV plane (NV12).
    u_offset: u32,
    u_stride: u32,
    // V plane (I420 only).
    v_offset: u32,
    v_stride: u32,
    // The frame's first word (its luma plane) and its words up to its end.
    start: u32,
    words: u32,
    // The largest frozen SAD, a u32 pair (`metrics::frozen_sad_bound`).
    bound_lo: u32,
    bound_hi: u32,
    // 1 when the frame has the reference's size and format.
    comparable: u32,
    _pad0: u32,
}

// Word of `freeze_state` holding PREV_CHUNK or PREV_KEPT (PREV_NONE before
// the first frame of a stream).
const STATE_SOURCE: u32 = 0u;
// Word holding the reference's entry in `freeze_frames`.
const STATE_ENTRY: u32 = 1u;
// Word of frame 0's decision (1 = frozen); frame i's follows at + i.
const STATE_FROZEN: u32 = 2u;

@group(0) @binding(6) var<storage, read> freeze_frames: array<FreezeFrame>;
@group(0) @binding(7) var<storage, read_write> freeze_state: array<u32>;
@group(0) @binding(8) var<storage, read_write> freeze_kept: array<u32>;

var<workgroup> group_sad: atomic<u32>;

// Word `at` of the reference, in the chunk or in `freeze_kept`.
fn reference_word(from_kept: bool, at: u32) -> u32 {
    if from_kept {
        return freeze_kept[at];
    }
    return frames[at];
}

// SAD of this frame against the reference over Y and the `height >> 1` rows
// of each chroma plane, added to the frame's SAD_Y total.
@compute @workgroup_size(WORKGROUP_SIZE)
fn freeze_sad(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let from_kept = freeze_state[STATE_SOURCE] == PREV_KEPT;
    let r = freeze_frames[freeze_state[STATE_ENTRY]];
    let nv12 = params.format == FORMAT_NV12;
    let luma_row = words_per_row(params.width);
    let luma_words = luma_row * params.height;
    let chroma_bytes = select(params.chroma_width, 2u * params.chroma_width, nv12);
    let chroma_row = words_per_row(chroma_bytes);
    let chroma_words = chroma_row * (params.height >> 1u);
    let total = luma_words + select(2u, 1u, nv12) * chroma_words;
    let first = first_word(wid, nwg, lid);
    var s = 0u;
    for (var k = 0u; k < WORDS_PER_INVOCATION; k++) {
        let i = first + k * WORKGROUP_SIZE;
        if i < total {
            var cur_at = 0u;
            var ref_at = 0u;
            var col = 0u;
            var row_bytes = 0u;
            if i < luma_words {
                let row = i / luma_row;
                col = i - row * luma_row;
                row_bytes = params.width;
                cur_at = params.y_offset + row * params.y_stride + col;
                ref_at = r.y_offset + row * r.y_stride + col;
            } else {
                let j = i - luma_words;
                let plane = j / chroma_words;
                let w = j - plane * chroma_words;
                let row = w / chroma_row;
                col = w - row * chroma_row;
                row_bytes = chroma_bytes;
                if plane == 0u {
                    cur_at = params.u_offset + row * params.u_stride + col;
                    ref_at = r.u_offset + row * r.u_stride + col;
                } else {
                    cur_at = params.v_offset + row * params.v_stride + col;
                    ref_at = r.v_offset + row * r.v_stride + col;
                }
            }
            s += word_sad(frames[cur_at], reference_word(from_kept, ref_at), bytes_in_word(col, row_bytes));
        }
    }
    if s != 0u {
        atomicAdd(&group_sad, s);
    }
    workgroupBarrier();
    if lid == 0u {
        let part = atomicLoad(&group_sad);
        if part != 0u {
            add_u64(SAD_Y, part);
        }
    }
}

// Decides whether this frame is frozen (comparable and its SAD within the
// bound) and, if it is not, makes it the reference. One workgroup; only its
// first invocation works.
@compute @workgroup_size(WORKGROUP_SIZE)
fn freeze_decide(@builtin(local_invocation_index) lid: u32) {
    if lid != 0u {
        return;
    }
    let f = params.frame;
    let me = freeze_frames[f];
    let total = SAD_PER_FRAME * f + SAD_Y;
    let lo = atomicLoad(&sad[total].lo);
    let hi = atomicLoad(&sad[total].hi);
    let within = hi < me.bound_hi || (hi == me.bound_hi && lo <= me.bound_lo);
    let frozen = me.comparable != 0u && within;
    freeze_state[STATE_FROZEN + f] = u32(frozen);
    if !frozen {
        freeze_state[STATE_SOURCE] = PREV_CHUNK;
        freeze_state[STATE_ENTRY] = f;
    }
}

// Copies the reference's words into `freeze_kept` when it is a frame of this
// chunk, for the next chunk to compare with.
@compute @workgroup_size(WORKGROUP_SIZE)
fn freeze_keep(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    if freeze_state[STATE_SOURCE] != PREV_CHUNK {
        return;
    }
    let r = freeze_frames[freeze_state[STATE_ENTRY]];
    let first = first_word(wid, nwg, lid);
    for (var k = 0u; k < WORDS_PER_INVOCATION; k++) {
        let i = first + k * WORKGROUP_SIZE;
        if i < r.words {
            freeze_kept[i] = frames[r.start + i];
        }
    }
}
