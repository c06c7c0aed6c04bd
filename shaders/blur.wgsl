// blur: ffmpeg's blurdetect on luma (libavfilter/edge_common.c and
// vf_blurdetect.c) and the sums of the 3x3 Laplacian of luma.
//
// CPU twin: `kernels/src/cpu/blur/`; host side: `kernels/src/gpu/blur.rs`.
// Needs `shared/frame.wgsl` prepended.
//
// Four dispatches per frame, one invocation a pixel, over scratch images
// sized for the largest frame (one u32 a pixel, `params.width` a row):
//   blur_gauss  5x5 Gaussian of luma into `img`; Laplacian sums of luma
//   blur_sobel  |gx| + |gy| and the rounded direction of `img` into `grad`
//   blur_nms    non-maximum suppression of `grad` into `nms`
//   blur_edges  double threshold of `nms`; the width of every edge pixel,
//               searched in `img`, added to its block in `results`
// Sums are exact 64-bit integers kept as u32 pairs with carry; widths are
// fixed point with 24 fractional bits (`BlurBlock::WIDTH_ONE`), diagonal
// ones read from the host's table of ffmpeg's float `0.7 * n`.

// Per-frame blur parameters (`gpu::blur::BlurFrame`).
struct BlurFrame {
    // blurdetect's block size and whole blocks across and down.
    block_width: u32,
    block_height: u32,
    cols: u32,
    rows: u32,
    // First word of this frame's results: Laplacian sum (biased by
    // LAPLACIAN_BIAS a pixel) and sum of squares as u32 pairs, then one
    // BLOCK_WORDS record a block (width lo, width hi, edges, unused).
    out_offset: u32,
    // Double threshold on the 0-255 scale.
    low: u32,
    high: u32,
    // Steps searched on each side of an edge pixel.
    radius: u32,
}

// Added to every Laplacian value so that the workgroup sums are unsigned
// (`gpu::blur::LAPLACIAN_BIAS`).
const LAPLACIAN_BIAS: i32 = 1020;
// Words of one block's record in `results` (`gpu::blur::BLOCK_WORDS`).
const BLOCK_WORDS: u32 = 4u;
// Side of the square tile of pixels one workgroup covers, TILE * TILE =
// WORKGROUP_SIZE (`gpu::blur::TILE`).
const TILE: u32 = 16u;

// Rounded directions, numbered as edge_common.h does.
const DIR_UP45: u32 = 0u;
const DIR_DOWN45: u32 = 1u;
const DIR_HORIZONTAL: u32 = 2u;
const DIR_VERTICAL: u32 = 3u;

@group(0) @binding(2) var<uniform> blur: BlurFrame;
@group(0) @binding(3) var<storage, read> diagonal: array<u32>;
@group(0) @binding(4) var<storage, read_write> img: array<u32>;
@group(0) @binding(5) var<storage, read_write> grad: array<u32>;
@group(0) @binding(6) var<storage, read_write> nms: array<u32>;
@group(0) @binding(7) var<storage, read_write> results: array<atomic<u32>>;

var<workgroup> lap_sum: atomic<u32>;
var<workgroup> lap_sq: atomic<u32>;
// Width sums (lo, hi) and edge counts of the 2x2 blocks starting at the
// block of the tile's top-left pixel.
var<workgroup> quad_lo: array<atomic<u32>, 4>;
var<workgroup> quad_hi: array<atomic<u32>, 4>;
var<workgroup> quad_edges: array<atomic<u32>, 4>;

// The pixel of invocation `lid` in the TILE x TILE tile `wid`; a dispatch
// has ceil(width / TILE) x ceil(height / TILE) workgroups of TILE * TILE.
fn pixel(wid: vec3<u32>, lid: u32) -> vec2<u32> {
    return vec2<u32>(wid.x * TILE + lid % TILE, wid.y * TILE + lid / TILE);
}

// Luma sample (x, y) of the frame.
fn luma(x: u32, y: u32) -> u32 {
    return byte_of(frames[params.y_offset + y * params.y_stride + x / 4u], x % 4u);
}

// Adds the 64-bit value (lo, hi) to the u32 pair at `at`; the addition that
// wraps the low word carries into the high one, so any order is exact.
fn add_wide(at: u32, lo: u32, hi: u32) {
    let old = atomicAdd(&results[at], lo);
    let carry = select(0u, 1u, old > 0xffffffffu - lo);
    if hi + carry != 0u {
        atomicAdd(&results[at + 1u], hi + carry);
    }
}

// One row of the 5x5 kernel: weights a, b, c, b, a around column x.
fn gauss_row(x: u32, y: u32, a: u32, b: u32, c: u32) -> u32 {
    return (luma(x - 2u, y) + luma(x + 2u, y)) * a + (luma(x - 1u, y) + luma(x + 1u, y)) * b
        + luma(x, y) * c;
}

// ff_gaussian_blur (pixels within two of the border are copied), and the
// Laplacian of the interior.
@compute @workgroup_size(WORKGROUP_SIZE)
fn blur_gauss(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let gid = pixel(wid, lid);
    let w = params.width;
    let h = params.height;
    let x = gid.x;
    let y = gid.y;
    if x < w && y < h {
        var v = luma(x, y);
        if x >= 2u && x + 2u < w && y >= 2u && y + 2u < h {
            let s = gauss_row(x, y - 2u, 2u, 4u, 5u) + gauss_row(x, y + 2u, 2u, 4u, 5u)
                + gauss_row(x, y - 1u, 4u, 9u, 12u) + gauss_row(x, y + 1u, 4u, 9u, 12u)
                + gauss_row(x, y, 5u, 12u, 15u);
            v = s / 159u;
        }
        img[y * w + x] = v;
        if x >= 1u && x + 1u < w && y >= 1u && y + 1u < h {
            let l = i32(luma(x, y - 1u) + luma(x, y + 1u) + luma(x - 1u, y) + luma(x + 1u, y))
                - 4 * i32(luma(x, y));
            atomicAdd(&lap_sum, u32(l + LAPLACIAN_BIAS));
            atomicAdd(&lap_sq, u32(l * l));
        }
    }
    workgroupBarrier();
    if lid == 0u {
        // At most 256 * 2040 and 256 * 1020^2: no u32 overflows.
        add_wide(blur.out_offset, atomicLoad(&lap_sum), 0u);
        add_wide(blur.out_offset + 2u, atomicLoad(&lap_sq), 0u);
    }
}

// Blurred sample (x, y).
fn blurred(x: i32, y: i32) -> i32 {
    return i32(img[u32(y) * params.width + u32(x)]);
}

// get_rounded_direction: the gradient angle rounded to 45 degrees.
fn rounded_direction(gx_in: i32, gy_in: i32) -> u32 {
    if gx_in != 0 {
        var gx = gx_in;
        var gy = gy_in;
        if gx < 0 {
            gx = -gx;
            gy = -gy;
        }
        gy = gy * 65536;
        let t1 = 27146 * gx;
        let t3 = 158218 * gx;
        if gy > -t3 && gy < -t1 {
            return DIR_UP45;
        }
        if gy > -t1 && gy < t1 {
            return DIR_HORIZONTAL;
        }
        if gy > t1 && gy < t3 {
            return DIR_DOWN45;
        }
    }
    return DIR_VERTICAL;
}

// Whether (x, y) has a full 3x3 neighbourhood.
fn interior(x: u32, y: u32) -> bool {
    return x >= 1u && x + 1u < params.width && y >= 1u && y + 1u < params.height;
}

// ff_sobel: gradient in the low 16 bits, direction above; 0 on the border.
@compute @workgroup_size(WORKGROUP_SIZE)
fn blur_sobel(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let gid = pixel(wid, lid);
    let w = params.width;
    if gid.x >= w || gid.y >= params.height {
        return;
    }
    var out = 0u;
    if interior(gid.x, gid.y) {
        let x = i32(gid.x);
        let y = i32(gid.y);
        let gx = -blurred(x - 1, y - 1) + blurred(x + 1, y - 1) - 2 * blurred(x - 1, y)
            + 2 * blurred(x + 1, y) - blurred(x - 1, y + 1) + blurred(x + 1, y + 1);
        let gy = -blurred(x - 1, y - 1) + blurred(x - 1, y + 1) - 2 * blurred(x, y - 1)
            + 2 * blurred(x, y + 1) - blurred(x + 1, y - 1) + blurred(x + 1, y + 1);
        out = u32(abs(gx) + abs(gy)) | (rounded_direction(gx, gy) << 16u);
    }
    grad[gid.y * w + gid.x] = out;
}

// Gradient at (x, y).
fn gradient(x: u32, y: u32) -> u32 {
    return grad[y * params.width + x] & 0xffffu;
}

// ff_non_maximum_suppression: a gradient strictly above both neighbours
// along its direction, clipped to 255; otherwise 0.
@compute @workgroup_size(WORKGROUP_SIZE)
fn blur_nms(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let gid = pixel(wid, lid);
    let w = params.width;
    let x = gid.x;
    let y = gid.y;
    if x >= w || y >= params.height {
        return;
    }
    var out = 0u;
    if interior(x, y) {
        let word = grad[y * w + x];
        let g = word & 0xffffu;
        var a: u32;
        var b: u32;
        switch word >> 16u {
            case DIR_UP45: {
                a = gradient(x - 1u, y + 1u);
                b = gradient(x + 1u, y - 1u);
            }
            case DIR_DOWN45: {
                a = gradient(x - 1u, y - 1u);
                b = gradient(x + 1u, y + 1u);
            }
            case DIR_HORIZONTAL: {
                a = gradient(x - 1u, y);
                b = gradient(x + 1u, y);
            }
            default: {
                a = gradient(x, y - 1u);
                b = gradient(x, y + 1u);
            }
        }
        if g > a && g > b {
            out = min(g, 255u);
        }
    }
    nms[y * w + x] = out;
}

// ff_double_threshold at an interior pixel.
fn is_edge(x: u32, y: u32) -> bool {
    let w = params.width;
    let t = nms[y * w + x];
    if t > blur.high {
        return true;
    }
    if t <= blur.low {
        return false;
    }
    for (var dy = 0u; dy < 3u; dy++) {
        for (var dx = 0u; dx < 3u; dx++) {
            if nms[(y + dy - 1u) * w + x + dx - 1u] > blur.high {
                return true;
            }
        }
    }
    return false;
}

// blurdetect's edge_width in steps: to the nearest local extremum on each
// side along direction `d`, at most `radius` each; 0 when a search would step
// off the frame.
fn edge_steps(x: i32, y: i32, d: u32) -> u32 {
    var dx = 1;
    var dy = 1;
    if d == DIR_HORIZONTAL {
        dy = 0;
    } else if d == DIR_VERTICAL {
        dx = 0;
    } else if d == DIR_UP45 {
        dy = -1;
    }
    let w = i32(params.width);
    let h = i32(params.height);
    let radius = i32(blur.radius);
    let sign = select(-1, 1, blurred(x, y) > blurred(x - dx, y - dy));
    var steps = 0u;
    for (var s = -1; s <= 1; s += 2) {
        var k = 0;
        loop {
            if k >= radius {
                break;
            }
            let x1 = x + s * k * dx;
            let y1 = y + s * k * dy;
            let x2 = x1 + s * dx;
            let y2 = y1 + s * dy;
            if x2 < 0 || x2 >= w || y2 < 0 || y2 >= h {
                return 0u;
            }
            let t = (blurred(x1, y1) - blurred(x2, y2)) * sign;
            if (s < 0 && t <= 0) || (s > 0 && t >= 0) {
                break;
            }
            k += 1;
        }
        steps += u32(k);
    }
    return steps;
}

// Word of block (bx, by)'s record in `results`.
fn block_at(bx: u32, by: u32) -> u32 {
    return blur.out_offset + 4u + (by * blur.cols + bx) * BLOCK_WORDS;
}

// Double threshold and edge widths; each tile sums the widths of the (up
// to) 2x2 blocks at its top-left corner in workgroup memory and adds those
// once, other pixels add straight to their block.
@compute @workgroup_size(WORKGROUP_SIZE)
fn blur_edges(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let gid = pixel(wid, lid);
    let x = gid.x;
    let y = gid.y;
    let bx0 = wid.x * TILE / blur.block_width;
    let by0 = wid.y * TILE / blur.block_height;
    if x < params.width && y < params.height && interior(x, y) && is_edge(x, y) {
        let bx = x / blur.block_width;
        let by = y / blur.block_height;
        if bx < blur.cols && by < blur.rows {
            let d = grad[y * params.width + x] >> 16u;
            let steps = edge_steps(i32(x), i32(y), d);
            if steps > 0u {
                var width = steps << 24u;
                if d == DIR_UP45 || d == DIR_DOWN45 {
                    width = diagonal[steps];
                }
                let sx = bx - bx0;
                let sy = by - by0;
                if sx < 2u && sy < 2u {
                    let quad = sy * 2u + sx;
                    let old = atomicAdd(&quad_lo[quad], width);
                    if old > 0xffffffffu - width {
                        atomicAdd(&quad_hi[quad], 1u);
                    }
                    atomicAdd(&quad_edges[quad], 1u);
                } else {
                    let at = block_at(bx, by);
                    add_wide(at, width, 0u);
                    atomicAdd(&results[at + 2u], 1u);
                }
            }
        }
    }
    workgroupBarrier();
    if lid < 4u {
        let bx = bx0 + lid % 2u;
        let by = by0 + lid / 2u;
        let edges = atomicLoad(&quad_edges[lid]);
        if edges != 0u && bx < blur.cols && by < blur.rows {
            let at = block_at(bx, by);
            add_wide(at, atomicLoad(&quad_lo[lid]), atomicLoad(&quad_hi[lid]));
            atomicAdd(&results[at + 2u], edges);
        }
    }
}
