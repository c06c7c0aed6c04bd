//! One random cut tree (Guha, Mishra, Roy and Schrijvers, "Robust Random Cut
//! Forest Based Anomaly Detection on Streams", ICML 2016), kept as the
//! `rrcf` PyPI package keeps it: points are inserted and deleted one at a
//! time, each branch holds its cut, its leaf count and the bounding box of
//! the points below it, and a point's score is its collusive displacement
//! (CoDisp).
//!
//! Nodes live in one arena (`Vec`) addressed by `u32`, freed slots reused,
//! and the bounding boxes in a second `Vec<f64>` (`2·dims` numbers a node:
//! the minimums, then the maximums; a leaf's box is its point). A tree of
//! `n` distinct points holds `2n − 1` nodes.
//!
//! Insertion follows `rrcf`'s `insert_point` (the InsertPoint algorithm of
//! the paper): from the root down, a cut is drawn over the node's box
//! grown to take in the new point, a dimension chosen with probability
//! proportional to its span and the position uniform along it; a cut that
//! separates the point from the node's box makes a new branch there, else
//! the point follows the node's own cut down. A point equal to one already
//! in the tree adds to that leaf's count, as `rrcf` does with duplicates.

use super::rng::Rng;

/// No node.
const NONE: u32 = u32::MAX;

/// A node: a branch (two children) or a leaf (none).
#[derive(Debug, Clone, Copy)]
struct Node {
    parent: u32,
    left: u32,
    right: u32,
    /// Points below (a leaf: its copies of the same point).
    count: u32,
    /// A branch's cut: points with `x[dim] <= cut` go left.
    dim: u32,
    cut: f64,
}

impl Node {
    fn is_leaf(&self) -> bool {
        self.left == NONE
    }
}

/// A random cut tree over points of `dims` numbers.
#[derive(Debug, Clone)]
pub struct Tree {
    dims: usize,
    nodes: Vec<Node>,
    /// Per node: `dims` minimums then `dims` maximums.
    boxes: Vec<f64>,
    free: Vec<u32>,
    root: u32,
}

/// A leaf of a [`Tree`], as [`Tree::insert`] hands it out.
pub type Leaf = u32;

impl Tree {
    /// An empty tree of points with `dims` numbers.
    pub fn new(dims: usize) -> Self {
        Tree {
            dims,
            nodes: Vec::new(),
            boxes: Vec::new(),
            free: Vec::new(),
            root: NONE,
        }
    }

    /// Points held, copies of the same point included.
    pub fn len(&self) -> u32 {
        match self.root {
            NONE => 0,
            r => self.nodes[r as usize].count,
        }
    }

    /// Whether the tree holds no point.
    pub fn is_empty(&self) -> bool {
        self.root == NONE
    }

    /// Bytes the tree's arenas hold.
    pub fn bytes(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.boxes.capacity() * 8
            + self.free.capacity() * 4
    }

    /// Bytes a tree of `points` distinct points of `dims` numbers holds.
    pub fn bytes_for(points: usize, dims: usize) -> usize {
        (2 * points).saturating_sub(1) * (std::mem::size_of::<Node>() + 2 * dims * 8)
    }

    fn lo(&self, node: u32) -> &[f64] {
        let at = node as usize * 2 * self.dims;
        &self.boxes[at..at + self.dims]
    }

    fn hi(&self, node: u32) -> &[f64] {
        let at = node as usize * 2 * self.dims + self.dims;
        &self.boxes[at..at + self.dims]
    }

    /// A new node, its box left for the caller to set.
    fn alloc(&mut self, node: Node) -> u32 {
        if let Some(id) = self.free.pop() {
            self.nodes[id as usize] = node;
            return id;
        }
        let id = u32::try_from(self.nodes.len()).expect("a tree holds under 2^31 nodes");
        self.nodes.push(node);
        self.boxes.resize(self.boxes.len() + 2 * self.dims, 0.0);
        id
    }

    fn leaf(&mut self, point: &[f64], parent: u32) -> u32 {
        let id = self.alloc(Node {
            parent,
            left: NONE,
            right: NONE,
            count: 1,
            dim: 0,
            cut: 0.0,
        });
        let at = id as usize * 2 * self.dims;
        self.boxes[at..at + self.dims].copy_from_slice(point);
        self.boxes[at + self.dims..at + 2 * self.dims].copy_from_slice(point);
        id
    }

    /// The leaf a point's path ends at (`rrcf`'s `query`).
    fn descend(&self, point: &[f64]) -> u32 {
        let mut node = self.root;
        loop {
            let n = &self.nodes[node as usize];
            if n.is_leaf() {
                return node;
            }
            node = if point[n.dim as usize] <= n.cut {
                n.left
            } else {
                n.right
            };
        }
    }

    /// Adds `by` to the counts of `node` and every node above it.
    fn count_up(&mut self, mut node: u32, by: i64) {
        while node != NONE {
            let n = &mut self.nodes[node as usize];
            n.count = (i64::from(n.count) + by) as u32;
            node = n.parent;
        }
    }

    /// Puts `new` where `old` hung (under `parent`, or as the root).
    fn replace_child(&mut self, parent: u32, old: u32, new: u32) {
        if parent == NONE {
            self.root = new;
        } else if self.nodes[parent as usize].left == old {
            self.nodes[parent as usize].left = new;
        } else {
            self.nodes[parent as usize].right = new;
        }
        self.nodes[new as usize].parent = parent;
    }

    /// Inserts `point` (of the tree's `dims` numbers, none NaN) and returns
    /// its leaf, drawing cuts from `rng`.
    pub fn insert(&mut self, point: &[f64], rng: &mut Rng) -> Leaf {
        debug_assert_eq!(point.len(), self.dims);
        if self.root == NONE {
            let leaf = self.leaf(point, NONE);
            self.root = leaf;
            return leaf;
        }
        let near = self.descend(point);
        if self.lo(near) == point {
            self.count_up(near, 1);
            return near;
        }
        let (node, dim, cut, left_is_new) = self.find_cut(point, rng);
        let parent = self.nodes[node as usize].parent;
        let count = self.nodes[node as usize].count + 1;
        let branch = self.alloc(Node {
            parent,
            left: NONE,
            right: NONE,
            count,
            dim: dim as u32,
            cut,
        });
        let leaf = self.leaf(point, branch);
        let (l, r) = if left_is_new {
            (leaf, node)
        } else {
            (node, leaf)
        };
        self.nodes[branch as usize].left = l;
        self.nodes[branch as usize].right = r;
        self.replace_child(parent, node, branch);
        self.nodes[node as usize].parent = branch;
        // The branch's box: the node's, grown to take in the point.
        let d = self.dims;
        let (b, n) = (branch as usize * 2 * d, node as usize * 2 * d);
        for (j, &x) in point.iter().enumerate() {
            self.boxes[b + j] = self.boxes[n + j].min(x);
            self.boxes[b + d + j] = self.boxes[n + d + j].max(x);
        }
        // Every branch above: one more point, its box grown.
        let mut up = parent;
        let mut grow = true;
        while up != NONE {
            self.nodes[up as usize].count += 1;
            if grow {
                let at = up as usize * 2 * d;
                grow = false;
                for (j, &x) in point.iter().enumerate() {
                    if x < self.boxes[at + j] {
                        self.boxes[at + j] = x;
                        grow = true;
                    }
                    if x > self.boxes[at + d + j] {
                        self.boxes[at + d + j] = x;
                        grow = true;
                    }
                }
            }
            up = self.nodes[up as usize].parent;
        }
        leaf
    }

    /// The collusive displacement `point` would have once inserted
    /// ([`Tree::insert`] then [`Tree::codisp`]), found without changing the
    /// tree: the same cuts are drawn from `rng`, and the counts read as
    /// they would be with the point in. A tree that will not keep a point
    /// scores it so, without inserting and deleting it.
    pub fn codisp_if_inserted(&self, point: &[f64], rng: &mut Rng) -> f64 {
        if self.root == NONE {
            return 0.0;
        }
        let near = self.descend(point);
        if self.lo(near) == point {
            // One more copy at `near`.
            return self.codisp_with_one_more(near, 0.0);
        }
        let (node, ..) = self.find_cut(point, rng);
        // The new leaf's sibling would be `node`, and a new branch (of
        // `node`'s points and one more) would stand in `node`'s place.
        let alone = f64::from(self.nodes[node as usize].count);
        self.codisp_with_one_more(node, alone)
    }

    /// The largest of `best` and, for `node` and each node above it below
    /// the root, its sibling's points over its own plus one.
    fn codisp_with_one_more(&self, mut node: u32, mut best: f64) -> f64 {
        loop {
            let n = &self.nodes[node as usize];
            if n.parent == NONE {
                return best;
            }
            let p = &self.nodes[n.parent as usize];
            let sibling = if p.left == node { p.right } else { p.left };
            let ratio = f64::from(self.nodes[sibling as usize].count) / f64::from(n.count + 1);
            best = best.max(ratio);
            node = n.parent;
        }
    }

    /// Where a new `point` (not in the tree) branches off: the node it is
    /// cut off from, the cut's dimension and value, and whether the point
    /// goes left of it.
    fn find_cut(&self, point: &[f64], rng: &mut Rng) -> (u32, usize, f64, bool) {
        let mut node = self.root;
        loop {
            let (dim, cut) = self.draw_cut(node, point, rng);
            let (lo, hi, p) = (self.lo(node)[dim], self.hi(node)[dim], point[dim]);
            if p <= cut && cut < lo {
                return (node, dim, cut, true);
            }
            if hi <= cut && cut < p {
                return (node, dim, cut, false);
            }
            let n = self.nodes[node as usize];
            if n.is_leaf() {
                // Only when the cut fell exactly on the far end (a
                // measure-zero draw): cut at the near end instead.
                if p < lo {
                    return (node, dim, p, true);
                }
                return (node, dim, hi, false);
            }
            node = if point[n.dim as usize] <= n.cut {
                n.left
            } else {
                n.right
            };
        }
    }

    /// `rrcf`'s `_insert_point_cut`: over the node's box grown to take in
    /// `point`, a dimension with probability proportional to its span and a
    /// position uniform along it.
    fn draw_cut(&self, node: u32, point: &[f64], rng: &mut Rng) -> (usize, f64) {
        let (lo, hi) = (self.lo(node), self.hi(node));
        let span = |j: usize| hi[j].max(point[j]) - lo[j].min(point[j]);
        let total: f64 = (0..self.dims).map(span).sum();
        let r = rng.open01() * total;
        let mut sum = 0.0;
        let mut last = 0;
        for j in 0..self.dims {
            let s = span(j);
            if s > 0.0 {
                last = j;
            }
            sum += s;
            // Strictly past `r`: a dimension of no span is never cut.
            if sum > r && s > 0.0 {
                let low = lo[j].min(point[j]);
                let high = hi[j].max(point[j]);
                return (j, (low + sum - r).clamp(low, high));
            }
        }
        // Rounding left `r` at the very end: the last dimension with a span.
        (last, hi[last].max(point[last]))
    }

    /// Deletes one copy of the point at `leaf` (from [`Tree::insert`]).
    pub fn delete(&mut self, leaf: Leaf) {
        if self.nodes[leaf as usize].count > 1 {
            self.count_up(leaf, -1);
            return;
        }
        self.free.push(leaf);
        let parent = self.nodes[leaf as usize].parent;
        if parent == NONE {
            self.root = NONE;
            return;
        }
        let p = self.nodes[parent as usize];
        let sibling = if p.left == leaf { p.right } else { p.left };
        let grand = p.parent;
        self.replace_child(grand, parent, sibling);
        self.free.push(parent);
        // Every branch above: one point fewer, its box the union of its
        // children's again until a box no longer changes.
        let d = self.dims;
        let mut up = grand;
        let mut relax = true;
        while up != NONE {
            let n = self.nodes[up as usize];
            self.nodes[up as usize].count -= 1;
            if relax {
                relax = false;
                let (at, l, r) = (
                    up as usize * 2 * d,
                    n.left as usize * 2 * d,
                    n.right as usize * 2 * d,
                );
                for j in 0..2 * d {
                    let v = if j < d {
                        self.boxes[l + j].min(self.boxes[r + j])
                    } else {
                        self.boxes[l + j].max(self.boxes[r + j])
                    };
                    if v != self.boxes[at + j] {
                        self.boxes[at + j] = v;
                        relax = true;
                    }
                }
            }
            up = n.parent;
        }
    }

    /// The collusive displacement of the point at `leaf` (`rrcf`'s
    /// `codisp`): over the nodes from the leaf up to below the root, the
    /// largest ratio of the sibling's points to the node's. 0 for a tree of
    /// one leaf.
    pub fn codisp(&self, leaf: Leaf) -> f64 {
        let mut node = leaf;
        let mut best = 0.0f64;
        loop {
            let n = &self.nodes[node as usize];
            if n.parent == NONE {
                return best;
            }
            let p = &self.nodes[n.parent as usize];
            let sibling = if p.left == node { p.right } else { p.left };
            let ratio = f64::from(self.nodes[sibling as usize].count) / f64::from(n.count);
            best = best.max(ratio);
            node = n.parent;
        }
    }

    /// Checks every invariant (tests): counts, boxes, cuts, parents.
    #[cfg(test)]
    pub(crate) fn check(&self) {
        if self.root == NONE {
            return;
        }
        assert_eq!(self.nodes[self.root as usize].parent, NONE);
        self.check_node(self.root);
    }

    #[cfg(test)]
    fn check_node(&self, node: u32) -> u32 {
        let n = self.nodes[node as usize];
        if n.is_leaf() {
            assert_eq!(self.lo(node), self.hi(node));
            return n.count;
        }
        for child in [n.left, n.right] {
            assert_eq!(self.nodes[child as usize].parent, node);
        }
        let count = self.check_node(n.left) + self.check_node(n.right);
        assert_eq!(count, n.count, "count of node {node}");
        let d = n.dim as usize;
        assert!(self.hi(n.left)[d] <= n.cut && self.lo(n.right)[d] > n.cut);
        for j in 0..self.dims {
            let lo = self.lo(n.left)[j].min(self.lo(n.right)[j]);
            let hi = self.hi(n.left)[j].max(self.hi(n.right)[j]);
            assert_eq!(
                (self.lo(node)[j], self.hi(node)[j]),
                (lo, hi),
                "box of {node}"
            );
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_and_deletes_keep_every_invariant() {
        let mut rng = Rng::new(3, 0);
        let mut data = Rng::new(4, 0);
        let mut tree = Tree::new(2);
        let mut leaves = Vec::new();
        for i in 0..600 {
            // Some exact repeats, to exercise the duplicate counts.
            let p = if i % 7 == 0 {
                [1.0, 2.0]
            } else {
                [data.open01(), (data.open01() * 4.0).floor()]
            };
            leaves.push(tree.insert(&p, &mut rng));
            if leaves.len() > 64 {
                let at = (data.next_u64() % leaves.len() as u64) as usize;
                tree.delete(leaves.swap_remove(at));
            }
            tree.check();
            assert_eq!(tree.len() as usize, leaves.len());
        }
        for leaf in leaves.drain(..) {
            tree.delete(leaf);
            tree.check();
        }
        assert!(tree.is_empty());
    }

    #[test]
    fn codisp_if_inserted_is_insert_then_codisp() {
        let mut data = Rng::new(21, 0);
        let mut rng = Rng::new(22, 0);
        let mut tree = Tree::new(2);
        for i in 0..300 {
            let p = if i % 5 == 0 {
                [0.5, 0.5]
            } else {
                [data.open01(), data.open01() * 3.0]
            };
            let mut twin = rng.clone();
            let guess = tree.codisp_if_inserted(&p, &mut twin);
            let leaf = tree.insert(&p, &mut rng);
            assert_eq!(guess.to_bits(), tree.codisp(leaf).to_bits(), "point {i}");
            // Both drew the same cuts.
            assert_eq!(twin.next_u64(), rng.clone().next_u64());
        }
        tree.check();
    }

    #[test]
    fn an_outlier_has_a_large_codisp() {
        let mut rng = Rng::new(5, 0);
        let mut tree = Tree::new(1);
        for i in 0..255 {
            tree.insert(&[f64::from(i % 17) * 0.01], &mut rng);
        }
        let far = tree.insert(&[10.0], &mut rng);
        // Cut off alone at the top: its sibling holds every other point.
        assert_eq!(tree.codisp(far), 255.0);
        let one = Tree::new(1);
        let mut single = one.clone();
        let only = single.insert(&[1.0], &mut rng);
        assert_eq!(single.codisp(only), 0.0);
    }

    #[test]
    fn codisp_reads_counts_as_rrcf_does() {
        // Points 0, 1 and 100 on a line: any cut between 1 and 100 isolates
        // 100 (probability 99/100 at the first cut); then 100's codisp is
        // 2/1 and 0's is at least 1 (its sibling 1 over itself).
        let mut rng = Rng::new(9, 0);
        let mut tree = Tree::new(1);
        let a = tree.insert(&[0.0], &mut rng);
        tree.insert(&[1.0], &mut rng);
        let c = tree.insert(&[100.0], &mut rng);
        tree.check();
        assert_eq!(tree.codisp(c), 2.0);
        assert!(tree.codisp(a) >= 1.0);
    }
}
