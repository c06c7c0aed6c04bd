//! A random cut forest: `trees` trees, each with its own sample and its own
//! random numbers, and a point's anomaly score, the average over the trees
//! of its collusive displacement.
//!
//! Each tree sees every point: the point goes into the tree (its sampler
//! first makes room when it will keep the point) and its CoDisp is read; a
//! point the sampler does not keep is scored as if inserted, without
//! changing the tree ([`Tree::codisp_if_inserted`]). So every point is scored
//! against the tree's sample as it stands, the new point included, as the
//! `rrcf` streaming example scores (insert, then `codisp`), and the sample
//! follows [`super::sampler`]'s time decay.

use super::rng::Rng;
use super::sampler::Sampler;
use super::tree::Tree;

/// A forest's parameters, as Kinesis Data Analytics names them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// `numberOfTrees`: trees in the forest.
    pub trees: usize,
    /// `subSampleSize`: points each tree keeps.
    pub sample: usize,
    /// `timeDecay`: records after which a record is `e` times less likely
    /// to stay in a sample than a new one.
    pub decay: f64,
    /// `shingleSize`: consecutive records a point is made of.
    pub shingle: usize,
    /// The seed of every random number.
    pub seed: u64,
}

impl Default for Params {
    /// Kinesis Data Analytics' defaults (100 trees, 256 points, a decay of
    /// 100,000 records, shingles of 1), seed 0.
    fn default() -> Self {
        Params {
            trees: 100,
            sample: 256,
            decay: 100_000.0,
            shingle: 1,
            seed: 0,
        }
    }
}

/// One tree with its sample and its random numbers.
#[derive(Debug, Clone)]
pub struct Member {
    tree: Tree,
    sample: Sampler,
    rng: Rng,
}

impl Member {
    /// Scores `point`, the `seq`th of its group, and updates the sample:
    /// the point's CoDisp in this tree.
    pub fn update(&mut self, point: &[f64], seq: u64, decay: f64) -> f64 {
        let weight = Sampler::weight(seq, decay, &mut self.rng);
        if !self.sample.accepts(weight) {
            // Scored as if inserted, and left out: the same score as an
            // insert, a CoDisp and a delete, for a walk down and up.
            return self.tree.codisp_if_inserted(point, &mut self.rng);
        }
        if let Some(old) = self.sample.make_room() {
            self.tree.delete(old);
        }
        let leaf = self.tree.insert(point, &mut self.rng);
        self.sample.keep(weight, leaf);
        self.tree.codisp(leaf)
    }

    /// Bytes the tree and its sample hold.
    pub fn bytes(&self) -> usize {
        self.tree.bytes() + self.sample.bytes()
    }
}

/// The trees of one forest.
#[derive(Debug, Clone)]
pub struct Forest {
    /// The trees, in order: scores are summed in this order.
    pub members: Vec<Member>,
}

impl Forest {
    /// An empty forest of points with `dims` numbers; `stream` (a group's
    /// hash) is mixed into each tree's seed, so groups draw apart.
    pub fn new(params: &Params, dims: usize, stream: u64) -> Self {
        let members = (0..params.trees as u64)
            .map(|t| Member {
                tree: Tree::new(dims),
                sample: Sampler::new(params.sample),
                rng: Rng::new(params.seed, super::rng::mix(stream) ^ t),
            })
            .collect();
        Forest { members }
    }

    /// Scores `point` and updates every tree: the average CoDisp.
    pub fn update(&mut self, point: &[f64], seq: u64, decay: f64) -> f64 {
        // Summed from +0 in tree order, as `score::score_run` sums the
        // trees it spreads over threads: the same bits either way.
        let sum = self
            .members
            .iter_mut()
            .fold(0.0, |sum, m| sum + m.update(point, seq, decay));
        sum / self.members.len() as f64
    }

    /// Bytes a forest of full samples holds: what the memory limit counts
    /// for each group.
    pub fn bytes_for(params: &Params, dims: usize) -> u64 {
        let per_tree = Tree::bytes_for(params.sample + 1, dims)
            + Sampler::bytes_for(params.sample)
            + std::mem::size_of::<Member>();
        (params.trees * per_tree) as u64
    }

    /// Bytes the forest holds now.
    pub fn bytes(&self) -> usize {
        self.members.iter().map(Member::bytes).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(n: usize) -> Vec<f64> {
        let mut rng = Rng::new(11, 0);
        (0..n)
            .map(|i| (i as f64 * 0.2).sin() + 0.1 * (rng.open01() - 0.5))
            .collect()
    }

    #[test]
    fn a_spike_scores_far_above_the_rest() {
        let params = Params {
            trees: 40,
            sample: 64,
            ..Params::default()
        };
        let mut forest = Forest::new(&params, 1, 0);
        let mut values = series(800);
        values[700] = 6.0;
        let scores: Vec<f64> = values
            .iter()
            .enumerate()
            .map(|(i, v)| forest.update(&[*v], i as u64, params.decay))
            .collect();
        let mut rest: Vec<f64> = scores[200..].to_vec();
        rest.remove(500);
        let max_rest = rest.iter().copied().fold(0.0, f64::max);
        assert!(
            scores[700] > 2.0 * max_rest,
            "{} vs {max_rest}",
            scores[700]
        );
        assert!(forest.bytes() as u64 <= Forest::bytes_for(&params, 1) * 2);
    }

    #[test]
    fn the_same_seed_gives_the_same_bits_and_another_seed_others() {
        let run = |seed: u64| -> Vec<u64> {
            let params = Params {
                trees: 10,
                sample: 32,
                seed,
                ..Params::default()
            };
            let mut forest = Forest::new(&params, 1, 7);
            series(300)
                .iter()
                .enumerate()
                .map(|(i, v)| forest.update(&[*v], i as u64, 50.0).to_bits())
                .collect()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }
}
