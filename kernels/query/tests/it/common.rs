//! What the query tests share: a writer the test reads back, a minute
//! in the engine's microseconds, and the per-minute query most tests run.

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

/// A writer whose bytes the test reads back.
#[derive(Clone, Default)]
pub struct Shared(pub Rc<RefCell<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One minute in microseconds.
pub const MINUTE: i64 = 60_000_000;

/// Per-minute count and sum of `v` by `k` over `input`, with `options`.
pub fn per_minute(options: osprey_query::QueryOptions) -> osprey_query::Query {
    let plan = osprey_query::sql::parse(
        "SELECT k, COUNT(*) AS n, SUM(v) AS total FROM input \
         GROUP BY k, TUMBLE(ts, INTERVAL '1' MINUTE)",
    )
    .expect("the query plans");
    let cpu = Box::new(osprey_kernels::cpu::aggregate::CpuAggregator);
    osprey_query::Query::new(plan, options, cpu).expect("the CPU engine opens")
}
