// motion: the motion detector's small luma image (Frigate's INTER_NEAREST
// resize to `frame_height` rows), gathered from the frame's luma plane through
// index tables the host computes once per frame size.
//
// CPU twin: `kernels/src/cpu/motion.rs`; host side: `kernels/src/gpu/motion.rs`;
// the tables: `kernels/src/metrics/motion/resample.rs`. Needs
// `shared/frame.wgsl` prepended.
//
// Each invocation writes whole words of the output: four small pixels, row by
// row, one byte each, so no two invocations touch the same word.

// Where one frame's tables and output lie (`motion::MotionFrame`).
struct MotionFrame {
    // Word offset in `motion_tables` of the source column of each small
    // column; the source row of each small row follows them.
    table: u32,
    // Small image size in pixels.
    small_width: u32,
    small_height: u32,
    // Word offset of the frame's small image in `motion_out`.
    out_offset: u32,
}

@group(0) @binding(6) var<storage, read> motion_frames: array<MotionFrame>;
@group(0) @binding(7) var<storage, read> motion_tables: array<u32>;
@group(0) @binding(8) var<storage, read_write> motion_out: array<u32>;

// Luma sample `col` of row `row`.
fn luma_at(row: u32, col: u32) -> u32 {
    let word = frames[params.y_offset + row * params.y_stride + col / 4u];
    return byte_of(word, col % 4u);
}

// One frame's small image; dispatched with enough workgroups to cover
// ceil(small_width * small_height / 4) words.
@compute @workgroup_size(WORKGROUP_SIZE)
fn motion_gather(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let m = motion_frames[params.frame];
    let pixels = m.small_width * m.small_height;
    let words = (pixels + 3u) / 4u;
    let first = first_word(wid, nwg, lid);
    for (var k = 0u; k < WORDS_PER_INVOCATION; k++) {
        let i = first + k * WORKGROUP_SIZE;
        if i < words {
            var word = 0u;
            for (var b = 0u; b < 4u; b++) {
                let p = i * 4u + b;
                if p < pixels {
                    let y = p / m.small_width;
                    let x = p - y * m.small_width;
                    let row = motion_tables[m.table + m.small_width + y];
                    let col = motion_tables[m.table + x];
                    word |= luma_at(row, col) << (8u * b);
                }
            }
            motion_out[m.out_offset + i] = word;
        }
    }
}
