//! Anomaly scores, as Kinesis Data Analytics' `RANDOM_CUT_FOREST` gives
//! them: each record's score over a streaming random cut forest (one a
//! group), seeded and deterministic, written beside the record's fields as
//! `ANOMALY_SCORE`.
//!
//! ```text
//! record ─► its group's shingle ─► point ─► each tree: sample, insert, CoDisp ─► average
//! ```
//!
//! - [`plan`]: the SQL call and the flags, the parameters and their defaults.
//! - [`tree`]: one random cut tree (insert, delete, CoDisp, as `rrcf`).
//! - [`sampler`]: which points a tree keeps (time-decayed reservoir).
//! - [`shingle`]: the last records' values made into one point.
//! - [`forest`]: the trees and the average score.
//! - [`rng`]: seeded random numbers, the same bits on every platform.
//! - [`score`]: the per-group state and the output rows ([`Scorer`]).
//!
//! The score of a point is its collusive displacement averaged over the
//! trees: how many points of a tree its removal would displace, relative to
//! the points it shares a subtree with. A point like the rest scores near
//! `ln(sample)`-ish single figures; an isolated one scores up to the sample
//! size. Scores are comparable within a query (same parameters), not across
//! sample sizes.
//!
//! The trees run on the CPU: an update walks from the root to a leaf and
//! back, pointer-chasing with a branch at every node and each tree's
//! updates in sequence, which a GPU does not speed up; the trees of the
//! forests are spread over the CPU's threads instead ([`score`]).

pub mod forest;
pub mod plan;
pub mod rng;
pub mod sampler;
pub mod score;
pub mod shingle;
pub mod tree;

pub use forest::Params;
pub use plan::{AnomalyOutput, AnomalyPlan, SCORE_COLUMN};
pub use score::Scorer;
