// Downscale: an area (box) filter from one packed 4:2:0 frame (I420 or NV12)
// to an I420 frame of a smaller size, in exact integers, for thumbnails.
//
// Rust twin: `kernels/src/cpu/downscale.rs` (the arithmetic, step by step) and
// `kernels/src/gpu/downscale.rs` (`PlaneParams`, the buffers and dispatch).
//
// Output sample `o` of a plane scaled from `s` to `d` samples covers, in units
// of 1/d source sample, `[o * s, (o + 1) * s)`; source sample `x` covers
// `[x * d, (x + 1) * d)`, so each weight is a whole overlap. Each source row's
// weighted sum becomes 8-bit fixed point `round(256 * row_sum / sw)`, and the
// rows are averaged as `round(sum(w_y * h) / (256 * sh))`: every intermediate
// stays below 2^32 for sides up to 65535.

// Invocations per workgroup, all in x (`types::WORKGROUP_SIZE`, as every kernel).
const WORKGROUP_SIZE: u32 = 256u;

// One plane of the source and the output it becomes. Offsets and strides
// count 32-bit words; widths and heights count samples.
struct PlaneParams {
    src_offset: u32,
    src_stride: u32,
    src_width: u32,
    src_height: u32,
    // Bytes from one sample to the next in a source row (1, or 2 for NV12's
    // interleaved chroma) and the byte of the first one (1 for NV12's V).
    step: u32,
    phase: u32,
    dst_offset: u32,
    dst_stride: u32,
    dst_width: u32,
    dst_height: u32,
    _pad0: u32,
    _pad1: u32,
}

// Y, U, V.
struct DownscaleParams {
    planes: array<PlaneParams, 3>,
}

@group(0) @binding(0) var<uniform> params: DownscaleParams;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

// Sample `x` of row `y` of the source plane.
fn source_sample(p: PlaneParams, x: u32, y: u32) -> u32 {
    let b = x * p.step + p.phase;
    let word = src[p.src_offset + y * p.src_stride + b / 4u];
    return (word >> (8u * (b % 4u))) & 0xffu;
}

// The area-filtered value of output sample (ox, oy).
fn area_sample(p: PlaneParams, ox: u32, oy: u32) -> u32 {
    let sw = p.src_width;
    let sh = p.src_height;
    let dw = p.dst_width;
    let dh = p.dst_height;
    let bx = ox * sw;
    let ex = bx + sw;
    let by = oy * sh;
    let ey = by + sh;
    let last_x = (ex - 1u) / dw;
    let last_y = (ey - 1u) / dh;
    var total = 0u;
    for (var y = by / dh; y <= last_y; y++) {
        let wy = min((y + 1u) * dh, ey) - max(y * dh, by);
        var row_sum = 0u;
        for (var x = bx / dw; x <= last_x; x++) {
            let wx = min((x + 1u) * dw, ex) - max(x * dw, bx);
            row_sum += wx * source_sample(p, x, y);
        }
        total += wy * ((row_sum * 256u + sw / 2u) / sw);
    }
    return (total + 128u * sh) / (256u * sh);
}

// One invocation writes one output word (four samples) of row y of plane z.
@compute @workgroup_size(WORKGROUP_SIZE, 1, 1)
fn downscale(@builtin(global_invocation_id) gid: vec3<u32>) {
    let p = params.planes[gid.z];
    let col = gid.x;
    let oy = gid.y;
    if oy >= p.dst_height || col * 4u >= p.dst_width {
        return;
    }
    var word = 0u;
    for (var i = 0u; i < 4u; i++) {
        let ox = col * 4u + i;
        if ox < p.dst_width {
            word |= area_sample(p, ox, oy) << (8u * i);
        }
    }
    dst[p.dst_offset + oy * p.dst_stride + col] = word;
}
