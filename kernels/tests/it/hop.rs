//! Hopping windows, where every row falls into several windows: the engine's
//! results on the GPU equal the CPU twin's on seeded rows cut into several
//! batches and pieces. Their timing is a benchmark: `cargo bench -p
//! osprey-benches --bench hop`.

use osprey_kernels::cpu::aggregate::CpuAggregator;
use osprey_kernels::gpu::aggregate::GpuAggregator;
use osprey_kernels::synth::rows::{Rows, run};
use osprey_kernels::window::WindowSpec;
use osprey_kernels::window::acc::AggValue;
use osprey_kernels::window::spec::AggFunc;

use crate::common::gpu_context;

const HOP: WindowSpec = WindowSpec::Hop {
    slide: 10_000_000,
    size: 60_000_000,
};

#[test]
fn hopping_windows_agree_on_both_backends() {
    let rows = Rows::new(20_000, 37, 5);
    let cpu = run(HOP, Box::new(CpuAggregator), &rows, 4096, 1024);
    let gpu = GpuAggregator::new(gpu_context()).expect("pipelines build");
    let gpu = run(HOP, Box::new(gpu), &rows, 4096, 1024);
    assert!(cpu.len() > 37 * 30, "{} windows", cpu.len());
    // The merged state is exact integers on both sides: equal as a whole.
    assert!(cpu == gpu, "the GPU's windows differ from the CPU twin's");
    // Every row is in six windows: the counts say so.
    let count: u64 = cpu
        .iter()
        .map(|r| match r.acc.finish(AggFunc::CountStar, 0) {
            AggValue::Int(n) => n,
            other => panic!("count is {other:?}"),
        })
        .sum();
    assert_eq!(count, 6 * 20_000);
}
