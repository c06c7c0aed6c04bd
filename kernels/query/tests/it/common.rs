//! What the query tests share: a writer the test reads back, and a minute
//! in the engine's microseconds.

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
