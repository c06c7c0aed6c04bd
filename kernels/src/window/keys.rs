//! GROUP BY keys as dense integer ids: a dictionary per key column (strings,
//! integers, booleans, null), and an index of id tuples for several keys.
//!
//! Ids are given in order of first appearance, so they are the same on every
//! backend and in every run over the same input.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A small multiplicative hasher (FxHash's): key lookups are on the hot path
/// and the keys are not adversarial.
#[derive(Debug, Default, Clone, Copy)]
pub struct FastHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        // The product's top bits are the well-mixed ones; hash tables use
        // the low bits for buckets, so fold the top into them.
        self.0 ^ (self.0 >> 29) ^ (self.0 >> 47)
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0; 8];
            w.copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(w) ^ (rest.len() as u64) << 56);
        }
    }

    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(SEED);
    }

    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }

    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
}

/// A `HashMap` with [`FastHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// A key value, as result rows show it.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyValue {
    /// No value.
    Null,
    /// Text.
    Str(Box<str>),
    /// An integer (also timestamps, in microseconds).
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A float, by its bits (NaNs and -0 as they are).
    Float(u64),
}

/// A string of at most 15 bytes held in place, its length in the top byte:
/// looking one up compares two words in the hash table itself instead of
/// following a pointer to the string's bytes, a cache miss a row at a
/// million keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ShortStr(u64, u64);

impl ShortStr {
    /// Bytes a short string holds at most.
    const MAX: usize = 15;

    fn new(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() > Self::MAX {
            return None;
        }
        let mut w = [0u8; 16];
        w[..b.len()].copy_from_slice(b);
        w[15] = b.len() as u8;
        let (lo, hi) = w.split_at(8);
        let word = |h: &[u8]| h.iter().rev().fold(0u64, |acc, &x| acc << 8 | u64::from(x));
        Some(ShortStr(word(lo), word(hi)))
    }
}

/// One key column's dictionary: value to id and back.
#[derive(Debug, Default, Clone)]
pub struct KeyDictionary {
    values: Vec<KeyValue>,
    /// Strings of up to [`ShortStr::MAX`] bytes.
    short: FastMap<ShortStr, u32>,
    /// Longer strings.
    strs: FastMap<Box<str>, u32>,
    ints: FastMap<i64, u32>,
    floats: FastMap<u64, u32>,
    others: Vec<(KeyValue, u32)>,
}

impl KeyDictionary {
    /// An empty dictionary.
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, v: KeyValue) -> u32 {
        let id = self.values.len() as u32;
        self.values.push(v);
        id
    }

    /// The id of a string.
    pub fn str_id(&mut self, s: &str) -> u32 {
        if let Some(key) = ShortStr::new(s) {
            if let Some(&id) = self.short.get(&key) {
                return id;
            }
            let id = self.push(KeyValue::Str(s.into()));
            self.short.insert(key, id);
            return id;
        }
        if let Some(&id) = self.strs.get(s) {
            return id;
        }
        let id = self.push(KeyValue::Str(s.into()));
        self.strs.insert(s.into(), id);
        id
    }

    /// The id of an integer.
    pub fn int_id(&mut self, v: i64) -> u32 {
        if let Some(&id) = self.ints.get(&v) {
            return id;
        }
        let id = self.push(KeyValue::Int(v));
        self.ints.insert(v, id);
        id
    }

    /// The id of a float (by its bits).
    pub fn float_id(&mut self, v: f64) -> u32 {
        let bits = v.to_bits();
        if let Some(&id) = self.floats.get(&bits) {
            return id;
        }
        let id = self.push(KeyValue::Float(bits));
        self.floats.insert(bits, id);
        id
    }

    /// The id of null or a boolean.
    pub fn other_id(&mut self, v: KeyValue) -> u32 {
        if let Some((_, id)) = self.others.iter().find(|(k, _)| *k == v) {
            return *id;
        }
        let id = self.push(v.clone());
        self.others.push((v, id));
        id
    }

    /// The value of an id.
    pub fn value(&self, id: u32) -> Option<&KeyValue> {
        self.values.get(id as usize)
    }

    /// Distinct values so far.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when no value was seen.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// Tuples of key ids (one a key column) to dense group ids.
#[derive(Debug, Default, Clone)]
pub struct GroupIndex {
    tuples: Vec<Box<[u32]>>,
    map: FastMap<Box<[u32]>, u32>,
}

impl GroupIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// The group of a tuple of key ids.
    pub fn group(&mut self, ids: &[u32]) -> u32 {
        if let Some(&g) = self.map.get(ids) {
            return g;
        }
        let g = self.tuples.len() as u32;
        self.tuples.push(ids.into());
        self.map.insert(ids.into(), g);
        g
    }

    /// The key ids of a group.
    pub fn ids(&self, group: u32) -> Option<&[u32]> {
        self.tuples.get(group as usize).map(|t| &t[..])
    }

    /// Groups so far.
    pub fn len(&self) -> usize {
        self.tuples.len()
    }

    /// True when no group was seen.
    pub fn is_empty(&self) -> bool {
        self.tuples.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_in_order_of_appearance() {
        let mut d = KeyDictionary::new();
        assert_eq!(d.str_id("b"), 0);
        assert_eq!(d.str_id("a"), 1);
        assert_eq!(d.str_id("b"), 0);
        assert_eq!(d.int_id(7), 2);
        assert_eq!(d.other_id(KeyValue::Null), 3);
        assert_eq!(d.other_id(KeyValue::Null), 3);
        assert_eq!(d.value(1), Some(&KeyValue::Str("a".into())));
        // Short and long strings, and strings one a prefix of another or
        // differing only in a trailing NUL, are all different keys.
        let words = [
            "",
            "\0",
            "a\0",
            "abcdefghijklmno",
            "abcdefghijklmnop",
            "abcdefghijklmn\0",
            "abcdefghijklmnopq",
            "é",
            "éé",
        ];
        let ids: Vec<u32> = words.iter().map(|w| d.str_id(w)).collect();
        for (w, &id) in words.iter().zip(&ids) {
            assert_eq!(d.str_id(w), id);
            assert_eq!(d.value(id), Some(&KeyValue::Str((*w).into())));
        }
        let mut distinct = ids.clone();
        distinct.dedup();
        assert_eq!(distinct.len(), words.len());
        let mut g = GroupIndex::new();
        assert_eq!(g.group(&[0, 1]), 0);
        assert_eq!(g.group(&[1, 0]), 1);
        assert_eq!(g.group(&[0, 1]), 0);
        assert_eq!(g.ids(1), Some(&[1, 0][..]));
    }
}
