//! Shingling: a group's last `size` records' values made into one point,
//! so a forest scores the shape of a series (a step, a change of rhythm),
//! not only single values, as Kinesis Data Analytics' `shingleSize` and
//! `rrcf.shingle` do. With several columns the point is the oldest record's
//! values (in column order), then the next record's, up to the newest.

/// The last `size` records' values of one group.
#[derive(Debug, Clone)]
pub struct Shingle {
    columns: usize,
    size: usize,
    /// A ring of `size` records' values.
    ring: Vec<f64>,
    /// Records seen (the next one goes to `seen % size`).
    seen: u64,
}

impl Shingle {
    /// An empty shingle of `size` records of `columns` values.
    pub fn new(columns: usize, size: usize) -> Self {
        Shingle {
            columns,
            size,
            ring: vec![0.0; columns * size],
            seen: 0,
        }
    }

    /// Numbers in a point: `columns · size`.
    pub fn dims(&self) -> usize {
        self.columns * self.size
    }

    /// Adds one record's values and, once `size` records have come, writes
    /// the point into `point` (of [`Shingle::dims`] numbers) and returns true.
    pub fn push(&mut self, values: &[f64], point: &mut [f64]) -> bool {
        let slot = (self.seen % self.size as u64) as usize;
        self.ring[slot * self.columns..(slot + 1) * self.columns].copy_from_slice(values);
        self.seen += 1;
        if self.seen < self.size as u64 {
            return false;
        }
        // The oldest record sits just after the newest.
        let oldest = (slot + 1) % self.size;
        for i in 0..self.size {
            let from = (oldest + i) % self.size;
            point[i * self.columns..(i + 1) * self.columns]
                .copy_from_slice(&self.ring[from * self.columns..(from + 1) * self.columns]);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_the_last_records_oldest_first() {
        let mut s = Shingle::new(2, 3);
        let mut p = [0.0; 6];
        assert!(!s.push(&[1.0, 10.0], &mut p));
        assert!(!s.push(&[2.0, 20.0], &mut p));
        assert!(s.push(&[3.0, 30.0], &mut p));
        assert_eq!(p, [1.0, 10.0, 2.0, 20.0, 3.0, 30.0]);
        assert!(s.push(&[4.0, 40.0], &mut p));
        assert_eq!(p, [2.0, 20.0, 3.0, 30.0, 4.0, 40.0]);
        let mut one = Shingle::new(1, 1);
        let mut q = [0.0];
        assert!(one.push(&[5.0], &mut q));
        assert_eq!(q, [5.0]);
    }
}
