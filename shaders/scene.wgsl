// scene: the sum of absolute luma differences between a frame and the one
// before it (the SAD behind ffmpeg's scdet).
//
// CPU twin: `kernels/src/cpu/scene.rs`; host side: `kernels/src/gpu/scene.rs`.
// Needs `shared/frame.wgsl` and `shared/sad.wgsl` prepended.
//
// The previous frame is the one before in the same chunk (PREV_CHUNK), or, for
// the first frame of a chunk, the last frame of the previous chunk, which
// the host keeps on the GPU in `prev_frame` (PREV_KEPT). Each workgroup sums its
// words in a u32 (at most WORKGROUP_SIZE * WORDS_PER_INVOCATION * 4 * 255, far
// below 2^32) and adds that to the frame's exact 64-bit total as a u32 pair
// with carry.

@group(0) @binding(2) var<storage, read> prev_frame: array<u32>;

var<workgroup> group_sad: atomic<u32>;

// Word `col` of luma row `row` of the previous frame.
fn prev_word(row: u32, col: u32) -> u32 {
    let at = params.prev_offset + row * params.prev_stride + col;
    if params.prev_source == PREV_KEPT {
        return prev_frame[at];
    }
    return frames[at];
}

// Luma SAD of one frame against its predecessor; dispatched only for frames
// that have one (prev_source != PREV_NONE), with enough workgroups to cover
// words_per_row(width) * height words.
@compute @workgroup_size(WORKGROUP_SIZE)
fn scene_sad(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let row_words = words_per_row(params.width);
    let total = row_words * params.height;
    let first = first_word(wid, nwg, lid);
    var s = 0u;
    for (var k = 0u; k < WORDS_PER_INVOCATION; k++) {
        let i = first + k * WORKGROUP_SIZE;
        if i < total {
            let row = i / row_words;
            let col = i - row * row_words;
            let cur = frames[params.y_offset + row * params.y_stride + col];
            s += word_sad(cur, prev_word(row, col), bytes_in_word(col, params.width));
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
