//! The WGSL in `shaders/` against the Rust that drives it: every file parses
//! and validates with naga; every struct that crosses to WGSL
//! (`gpu::types`) has its Rust twin's size and member offsets, in one test;
//! and the kernel table (`gpu::shaders::KERNELS`: entry points, workgroup
//! sizes, bindings), which the host builds its layouts and bind groups from,
//! matches each shader, as do the shared constants.

use std::mem::{offset_of, size_of};
use std::path::{Path, PathBuf};

use naga::valid::{Capabilities, ModuleInfo, ValidationFlags, Validator};
use naga::{AddressSpace, Module, ShaderStage, StorageAccess, TypeInner};
use osprey_kernels::gpu::freeze;
use osprey_kernels::gpu::shaders::{Access, KERNELS, SHARED};
use osprey_kernels::gpu::types::{
    self, AggParams, BlurFrame, DownscaleParams, FrameHist, FrameParams, FreezeFrame, MotionFrame,
    PlaneParams, SadTotal,
};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the kernels crate sits in the workspace")
        .to_path_buf()
}

fn wgsl_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("shaders/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            wgsl_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "wgsl") {
            out.push(path);
        }
    }
}

fn parse(name: &str, source: &str) -> Module {
    validate(name, source).0
}

fn validate(name: &str, source: &str) -> (Module, ModuleInfo) {
    let module = naga::front::wgsl::parse_str(source)
        .unwrap_or_else(|e| panic!("{name} does not parse:\n{}", e.emit_to_string(source)));
    let info = Validator::new(ValidationFlags::all(), Capabilities::default())
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name} does not validate:\n{}", e.emit_to_string(source)));
    (module, info)
}

#[test]
fn every_wgsl_file_is_compiled_and_validates() {
    let root = workspace_root();
    let mut files = Vec::new();
    wgsl_files(&root.join("shaders"), &mut files);
    assert!(files.len() >= 3, "{files:?}");
    for file in files {
        let rel = file
            .strip_prefix(&root)
            .expect("under the root")
            .to_string_lossy()
            .replace('\\', "/");
        let on_disk = std::fs::read_to_string(&file).expect("readable");
        if let Some(k) = KERNELS.iter().find(|k| k.file == rel) {
            // What the binary carries is the shared modules then the file.
            let mut composed = String::new();
            for shared in k.shared {
                composed += &std::fs::read_to_string(root.join(shared)).expect("readable");
                composed += "\n";
            }
            composed += &on_disk;
            assert_eq!(k.source, composed, "{rel}: the embedded source is stale");
            parse(&rel, k.source);
        } else if let Some(at) = SHARED.iter().position(|(f, _)| *f == rel) {
            assert_eq!(SHARED[at].1, on_disk, "{rel}: the embedded source is stale");
            // A shared module may use the ones listed before it.
            let composed: String = SHARED[..=at]
                .iter()
                .map(|(_, s)| format!("{s}\n"))
                .collect();
            parse(&rel, &composed);
        } else {
            panic!("{rel} is neither a kernel nor a shared module the backend loads");
        }
    }
}

/// A WGSL struct's size and member offsets, as naga lays it out.
fn naga_layout(module: &Module, name: &str) -> Option<(u32, Vec<(String, u32)>)> {
    let ty = module
        .types
        .iter()
        .map(|(_, ty)| ty)
        .find(|ty| ty.name.as_deref() == Some(name))?;
    Some(match &ty.inner {
        TypeInner::Struct { members, span } => (
            *span,
            members
                .iter()
                .map(|m| (m.name.clone().unwrap_or_default(), m.offset))
                .collect(),
        ),
        other => panic!("{name} is not a struct: {other:?}"),
    })
}

/// A Rust struct's size and member offsets, members named as in WGSL.
macro_rules! rust_layout {
    ($ty:ty { $($field:ident),* $(,)? }) => {
        (
            size_of::<$ty>() as u32,
            vec![$((stringify!($field).to_owned(), offset_of!($ty, $field) as u32)),*],
        )
    };
}

#[test]
fn every_struct_shared_with_wgsl_matches_its_rust_twin() {
    let twins = [
        (
            "FrameParams",
            rust_layout!(FrameParams {
                frame,
                width,
                height,
                format,
                y_offset,
                y_stride,
                u_offset,
                u_stride,
                v_offset,
                v_stride,
                chroma_width,
                chroma_height,
                prev_source,
                prev_offset,
                prev_stride,
                prev_u_offset,
                prev_u_stride,
                prev_v_offset,
                prev_v_stride,
                prev_chroma,
                _pad0,
                _pad1,
                _pad2,
                _pad3,
            }),
        ),
        ("FrameHist", rust_layout!(FrameHist { bins, hue })),
        ("SadTotal", rust_layout!(SadTotal { lo, hi })),
        (
            "FreezeFrame",
            rust_layout!(FreezeFrame {
                y_offset,
                y_stride,
                u_offset,
                u_stride,
                v_offset,
                v_stride,
                start,
                words,
                bound_lo,
                bound_hi,
                comparable,
                _pad0,
            }),
        ),
        (
            "MotionFrame",
            rust_layout!(MotionFrame {
                table,
                small_width,
                small_height,
                out_offset,
            }),
        ),
        (
            "BlurFrame",
            rust_layout!(BlurFrame {
                block_width,
                block_height,
                cols,
                rows,
                out_offset,
                low,
                high,
                radius,
            }),
        ),
        (
            "PlaneParams",
            rust_layout!(PlaneParams {
                src_offset,
                src_stride,
                src_width,
                src_height,
                step,
                phase,
                dst_offset,
                dst_stride,
                dst_width,
                dst_height,
                _pad0,
                _pad1,
            }),
        ),
        ("DownscaleParams", rust_layout!(DownscaleParams { planes })),
        (
            "AggParams",
            rust_layout!(AggParams {
                rows,
                slot_count,
                columns,
                slot_words,
                valid_words,
                first_last,
                squares,
                _pad0,
            }),
        ),
    ];
    let modules: Vec<_> = KERNELS
        .iter()
        .map(|k| (k.name, parse(k.file, k.source)))
        .collect();
    for (name, rust) in &twins {
        let mut seen = 0;
        for (kernel, module) in &modules {
            if let Some(wgsl) = naga_layout(module, name) {
                assert_eq!(&wgsl, rust, "{kernel}: {name}");
                seen += 1;
            }
        }
        assert!(seen > 0, "{name} is in no shader");
    }
    // And no struct crosses without a twin here: every struct a binding
    // holds (directly or as an array's element) is in the list.
    for (kernel, module) in &modules {
        for (_, var) in module.global_variables.iter() {
            if var.binding.is_none() {
                continue;
            }
            let mut ty = &module.types[var.ty];
            if let TypeInner::Array { base, .. } = ty.inner {
                ty = &module.types[base];
            }
            if let (TypeInner::Struct { .. }, Some(name)) = (&ty.inner, &ty.name) {
                assert!(
                    twins.iter().any(|(n, _)| n == name),
                    "{kernel}: {name} crosses to WGSL without a Rust twin in the layout test"
                );
            }
        }
    }
}

#[test]
fn workgroup_sizes_match_the_dispatch() {
    for k in KERNELS {
        let module = parse(k.file, k.source);
        let entries: Vec<_> = module
            .entry_points
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(entries, k.entry_points, "{}: entry points", k.file);
        for entry in &module.entry_points {
            assert_eq!(entry.stage, ShaderStage::Compute, "{}", entry.name);
            assert_eq!(entry.workgroup_size, k.workgroup_size, "{}", entry.name);
        }
    }
}

fn u32_constant(module: &Module, name: &str) -> Option<u32> {
    let (_, c) = module
        .constants
        .iter()
        .find(|(_, c)| c.name.as_deref() == Some(name))?;
    match module.global_expressions[c.init] {
        naga::Expression::Literal(naga::Literal::U32(v)) => Some(v),
        ref other => panic!("{name} is not a u32 literal: {other:?}"),
    }
}

#[test]
fn constants_match_their_rust_twins() {
    let modules: Vec<_> = KERNELS
        .iter()
        .map(|k| (k.file, parse(k.file, k.source)))
        .collect();
    for (name, want) in [
        ("WORKGROUP_SIZE", types::WORKGROUP_SIZE),
        ("WORDS_PER_INVOCATION", types::WORDS_PER_INVOCATION),
        ("FORMAT_I420", types::FORMAT_I420),
        ("FORMAT_NV12", types::FORMAT_NV12),
        ("SAD_PER_FRAME", types::SAD_PER_FRAME),
        ("PREV_NONE", types::PREV_NONE),
        ("PREV_CHUNK", types::PREV_CHUNK),
        ("PREV_KEPT", types::PREV_KEPT),
        ("STATE_FROZEN", freeze::STATE_FROZEN),
    ] {
        let mut seen = 0;
        for (file, module) in &modules {
            if let Some(got) = u32_constant(module, name) {
                assert_eq!(got, want, "{file}: {name}");
                seen += 1;
            }
        }
        assert!(seen > 0, "{name} is in no shader");
    }
}

/// A binding as the test compares it: name, binding number, address space.
type Seen = (String, u32, AddressSpace);

#[test]
fn the_kernel_table_holds_exactly_the_bindings_each_shader_uses() {
    let read = AddressSpace::Storage {
        access: StorageAccess::LOAD,
    };
    let read_write = AddressSpace::Storage {
        access: StorageAccess::LOAD | StorageAccess::STORE,
    };
    for k in KERNELS {
        let (module, info) = validate(k.file, k.source);
        // The globals any entry point uses: a layout needs these and no more.
        let mut used: Vec<Seen> = Vec::new();
        let mut uniform_sizes = Vec::new();
        for (handle, var) in module.global_variables.iter() {
            let Some(rb) = &var.binding else { continue };
            let is_used =
                (0..module.entry_points.len()).any(|e| !info.get_entry_point(e)[handle].is_empty());
            if !is_used {
                continue;
            }
            assert_eq!(rb.group, 0, "{}: {:?}", k.name, var.name);
            let name = var.name.clone().unwrap_or_default();
            if var.space == AddressSpace::Uniform {
                let size = module.types[var.ty].inner.size(module.to_ctx());
                uniform_sizes.push((name.clone(), u64::from(size)));
            }
            used.push((name, rb.binding, var.space));
        }
        used.sort_by_key(|b| b.1);
        let mut table: Vec<Seen> = Vec::new();
        for b in k.bindings {
            let space = match b.access {
                Access::Uniform { size, .. } => {
                    let wgsl = uniform_sizes.iter().find(|(n, _)| n == b.name);
                    assert_eq!(
                        wgsl.map(|(_, s)| *s),
                        Some(size),
                        "{}: {} size",
                        k.name,
                        b.name
                    );
                    AddressSpace::Uniform
                }
                Access::Read => read,
                Access::ReadWrite => read_write,
            };
            assert_eq!(k.number(b.name), b.number, "{}: {}", k.name, b.name);
            table.push((b.name.to_owned(), b.number, space));
        }
        assert_eq!(table, used, "{}: the table against the shader", k.name);
    }
}
