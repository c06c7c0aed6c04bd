//! The WGSL in `shaders/` against the Rust that drives it: every file parses
//! and validates with naga, shared structs have the Rust twins' sizes and
//! member offsets, and workgroup sizes, constants and binding numbers match
//! the values the host dispatches and binds with.

use std::mem::{offset_of, size_of};
use std::path::{Path, PathBuf};

use naga::valid::{Capabilities, ValidationFlags, Validator};
use naga::{AddressSpace, Module, ShaderStage, StorageAccess, TypeInner};
use osprey_kernels::gpu::freeze::{self, FreezeFrame};
use osprey_kernels::gpu::shaders::{KERNELS, KernelSource, SHARED};
use osprey_kernels::gpu::types::{self, FrameHist, FrameParams, SadTotal, binding};

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
    let module = naga::front::wgsl::parse_str(source)
        .unwrap_or_else(|e| panic!("{name} does not parse:\n{}", e.emit_to_string(source)));
    Validator::new(ValidationFlags::all(), Capabilities::default())
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name} does not validate:\n{}", e.emit_to_string(source)));
    module
}

fn kernel(name: &str) -> (KernelSource, Module) {
    let source = KERNELS
        .into_iter()
        .find(|k| k.name == name)
        .unwrap_or_else(|| panic!("no kernel {name}"));
    (source, parse(source.file, source.source))
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
fn naga_layout(module: &Module, name: &str) -> (u32, Vec<(String, u32)>) {
    let ty = module
        .types
        .iter()
        .map(|(_, ty)| ty)
        .find(|ty| ty.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no struct {name} in the module"));
    match &ty.inner {
        TypeInner::Struct { members, span } => (
            *span,
            members
                .iter()
                .map(|m| (m.name.clone().unwrap_or_default(), m.offset))
                .collect(),
        ),
        other => panic!("{name} is not a struct: {other:?}"),
    }
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
fn shared_structs_match_their_rust_twins() {
    let frame_params = rust_layout!(FrameParams {
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
    });
    let frame_hist = rust_layout!(FrameHist { bins, hue });
    let sad_total = rust_layout!(SadTotal { lo, hi });
    let freeze_frame = rust_layout!(FreezeFrame {
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
    });
    for (kernel_name, structs) in [
        (
            "stats",
            vec![
                ("FrameParams", &frame_params),
                ("FrameHist", &frame_hist),
                ("SadTotal", &sad_total),
            ],
        ),
        (
            "scene",
            vec![("FrameParams", &frame_params), ("SadTotal", &sad_total)],
        ),
        (
            "freeze",
            vec![
                ("FrameParams", &frame_params),
                ("SadTotal", &sad_total),
                ("FreezeFrame", &freeze_frame),
            ],
        ),
    ] {
        let (_, module) = kernel(kernel_name);
        for (name, rust) in structs {
            assert_eq!(&naga_layout(&module, name), rust, "{kernel_name}: {name}");
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
            assert_eq!(
                entry.workgroup_size,
                [types::WORKGROUP_SIZE, 1, 1],
                "{}",
                entry.name
            );
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
        ("PREV_SLOT", types::PREV_SLOT),
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

/// What a binding should be: name, binding number, and its address space.
type Expected = (&'static str, u32, AddressSpace);

#[test]
fn bindings_match_the_layouts() {
    let read = AddressSpace::Storage {
        access: StorageAccess::LOAD,
    };
    let read_write = AddressSpace::Storage {
        access: StorageAccess::LOAD | StorageAccess::STORE,
    };
    let stats: Vec<Expected> = vec![
        ("params", binding::PARAMS, AddressSpace::Uniform),
        ("frames", binding::FRAMES, read),
        ("prev_frame", binding::PREV_FRAME, read),
        ("sad", binding::SAD, read_write),
        ("hist", binding::HIST, read_write),
        ("hue_table", binding::HUE_TABLE, read),
    ];
    let scene: Vec<Expected> = vec![
        ("params", binding::PARAMS, AddressSpace::Uniform),
        ("frames", binding::FRAMES, read),
        ("prev_frame", binding::PREV_FRAME, read),
        ("sad", binding::SAD, read_write),
    ];
    let freeze: Vec<Expected> = vec![
        ("params", binding::PARAMS, AddressSpace::Uniform),
        ("frames", binding::FRAMES, read),
        ("sad", binding::SAD, read_write),
        ("freeze_frames", freeze::binding::FREEZE_FRAMES, read),
        ("freeze_state", freeze::binding::FREEZE_STATE, read_write),
        ("freeze_slot", freeze::binding::FREEZE_SLOT, read_write),
    ];
    for (kernel_name, want) in [("stats", stats), ("scene", scene), ("freeze", freeze)] {
        let (_, module) = kernel(kernel_name);
        let mut got: Vec<Expected> = Vec::new();
        for (_, var) in module.global_variables.iter() {
            let Some(rb) = &var.binding else { continue };
            assert_eq!(rb.group, 0, "{kernel_name}: {:?}", var.name);
            let name = var.name.clone().unwrap_or_default();
            let want_name = want
                .iter()
                .find(|w| w.0 == name)
                .unwrap_or_else(|| panic!("{kernel_name}: unexpected binding {name}"));
            got.push((want_name.0, rb.binding, var.space));
        }
        got.sort_by_key(|b| b.1);
        assert_eq!(got, want, "{kernel_name}");
    }
}
