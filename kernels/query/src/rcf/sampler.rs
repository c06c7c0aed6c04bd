//! Which points a tree keeps: time-decayed reservoir sampling, as Kinesis
//! Data Analytics describes `timeDecay` and as the AWS random cut forest
//! library samples (Efraimidis and Spirakis' weighted reservoir with
//! exponential time decay). Point `t` (the `t`th of its group) draws the
//! weight `ln(−ln u) − t / decay` for a uniform `u`, and a tree keeps the
//! `sample` points of smallest weight: every point has the same chance
//! while a stream is shorter than about `decay` points, and a point `decay`
//! points older than another is `e` times less likely to be kept.

use std::collections::BinaryHeap;

use super::rng::{Rng, ln};
use super::tree::Leaf;

/// One kept point: its weight and its leaf.
#[derive(Debug, Clone, Copy)]
struct Entry {
    weight: f64,
    leaf: Leaf,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.weight
            .total_cmp(&other.weight)
            .then(self.leaf.cmp(&other.leaf))
    }
}

/// A tree's sample: at most `size` points, the heaviest on top.
#[derive(Debug, Clone)]
pub struct Sampler {
    kept: BinaryHeap<Entry>,
    size: usize,
}

impl Sampler {
    /// An empty sample of at most `size` points.
    pub fn new(size: usize) -> Self {
        Sampler {
            kept: BinaryHeap::new(),
            size,
        }
    }

    /// The weight of point `seq` under `decay`, from one draw of `rng`.
    pub fn weight(seq: u64, decay: f64, rng: &mut Rng) -> f64 {
        ln(-ln(rng.open01())) - seq as f64 / decay
    }

    /// Whether a point of `weight` enters the sample.
    pub fn accepts(&self, weight: f64) -> bool {
        self.kept.len() < self.size || self.kept.peek().is_some_and(|top| weight < top.weight)
    }

    /// Makes room for one point when the sample is full: the leaf of the
    /// heaviest point, taken out.
    pub fn make_room(&mut self) -> Option<Leaf> {
        if self.kept.len() < self.size {
            return None;
        }
        self.kept.pop().map(|e| e.leaf)
    }

    /// Keeps the point of `weight` at `leaf`.
    pub fn keep(&mut self, weight: f64, leaf: Leaf) {
        self.kept.push(Entry { weight, leaf });
    }

    /// Points kept.
    pub fn len(&self) -> usize {
        self.kept.len()
    }

    /// Whether no point is kept.
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// Bytes the sample holds.
    pub fn bytes(&self) -> usize {
        self.kept.capacity() * std::mem::size_of::<Entry>()
    }

    /// Bytes a full sample of `size` points holds.
    pub fn bytes_for(size: usize) -> usize {
        size * std::mem::size_of::<Entry>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Offers points 0..n to a sample of `size` and returns those kept.
    fn run(n: u64, size: usize, decay: f64, seed: u64) -> Vec<Leaf> {
        let mut rng = Rng::new(seed, 0);
        let mut s = Sampler::new(size);
        for t in 0..n {
            let w = Sampler::weight(t, decay, &mut rng);
            if s.accepts(w) {
                s.make_room();
                s.keep(w, t as Leaf);
            }
        }
        s.kept.into_iter().map(|e| e.leaf).collect()
    }

    #[test]
    fn a_long_decay_samples_uniformly_and_a_short_one_keeps_the_recent() {
        // decay far above the stream: the kept points' mean index is the
        // stream's middle (uniform), over many seeds.
        let mean =
            |kept: &[Leaf]| kept.iter().map(|&l| f64::from(l)).sum::<f64>() / kept.len() as f64;
        let uniform: f64 = (0..40).map(|s| mean(&run(4000, 100, 1e9, s))).sum::<f64>() / 40.0;
        assert!((uniform - 2000.0).abs() < 60.0, "{uniform}");
        // decay 100: the sample holds the last few hundred points.
        let recent = run(4000, 100, 100.0, 1);
        assert_eq!(recent.len(), 100);
        assert!(recent.iter().all(|&l| l > 3000), "{recent:?}");
    }
}
