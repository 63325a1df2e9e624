//! Feature hashes → a sparse, weighted, normalized vector over the vocabulary.
//! Used for training rows and for serving alike.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use super::ClassifierError;
use super::features::{FeatureConfig, HashSink, NameHash, ScoringInput, Tokens, extract};

/// Per-document weighting of a feature that occurs `n` times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weighting {
    /// 1 if present.
    Binary,
    /// `ln(1 + n)`.
    Log,
    /// `n`.
    Count,
}

/// Scaling of the whole document vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Norm {
    None,
    /// Unit Euclidean length (Rennie et al. 2003: evens out long and short texts).
    L2,
    /// Unit sum.
    L1,
}

/// How feature occurrences become vector values; stored in the artifact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VectorizerConfig {
    pub weighting: Weighting,
    pub norm: Norm,
    /// Multiplier per feature group (the name's first letter: `w`, `c`, `s`, `a`,
    /// `u`), applied before normalization; absent groups weigh 1.
    pub group_weights: BTreeMap<String, f64>,
    /// Multiplier applied after normalization.
    pub scale: f64,
}

/// A hasher for keys that are already 64-bit hashes.
#[derive(Default)]
pub struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type HashIndex = HashMap<u64, u32, BuildHasherDefault<IdentityHasher>>;

/// Maps a document to its sparse vector.
#[derive(Debug, Clone)]
pub struct Vectorizer {
    features: FeatureConfig,
    config: VectorizerConfig,
    index: HashIndex,
    group_weight: Vec<f64>,
}

/// `(index, value)` pairs, each index once, in no particular order.
pub type SparseVector = Vec<(u32, f64)>;

impl Vectorizer {
    /// # Errors
    /// Two vocabulary entries with the same 64-bit hash (practically impossible;
    /// checked so it could never go unnoticed).
    pub fn new(
        features: FeatureConfig,
        config: VectorizerConfig,
        vocabulary: &[String],
    ) -> Result<Self, ClassifierError> {
        let mut index = HashIndex::with_capacity_and_hasher(vocabulary.len(), Default::default());
        let mut group_weight = Vec::with_capacity(vocabulary.len());
        for (i, name) in vocabulary.iter().enumerate() {
            let i = u32::try_from(i)
                .map_err(|_| ClassifierError::Invalid("vocabulary too large".into()))?;
            if index.insert(NameHash::of(name), i).is_some() {
                return Err(ClassifierError::Invalid(format!(
                    "vocabulary hash collision at `{name}`"
                )));
            }
            let group = name.get(..1).unwrap_or("");
            group_weight.push(config.group_weights.get(group).copied().unwrap_or(1.0));
        }
        Ok(Self {
            features,
            config,
            index,
            group_weight,
        })
    }

    pub fn len(&self) -> usize {
        self.group_weight.len()
    }

    /// The vocabulary index of the feature whose name hashes to `hash`.
    pub fn index_of_hash(&self, hash: u64) -> Option<u32> {
        self.index.get(&hash).copied()
    }

    /// Which features this vectorizer extracts.
    pub fn features(&self) -> &FeatureConfig {
        &self.features
    }

    pub fn is_empty(&self) -> bool {
        self.group_weight.is_empty()
    }

    /// The document's vector; features outside the vocabulary are ignored.
    pub fn transform(&self, input: &ScoringInput<'_>) -> SparseVector {
        let mut vector = self.weigh(input);
        self.normalize(&mut vector);
        vector
    }

    /// The document's weighted features (weighting × group weight), before
    /// normalization.
    pub fn weigh(&self, input: &ScoringInput<'_>) -> SparseVector {
        self.weigh_hashes(&self.hashes(input))
    }

    /// The name hashes of every feature the document has, in or out of the
    /// vocabulary: what [`Self::transform_hashes`] maps, so that models with
    /// the same features but different vocabularies (a site's model and the
    /// base model it is added to) extract a comment's features once.
    pub fn hashes(&self, input: &ScoringInput<'_>) -> Vec<u64> {
        let mut sink = HashSink(Vec::with_capacity(256));
        extract(&self.features, input, &mut sink);
        sink.0
    }

    /// The document's character n-grams only, token by token: what an
    /// explanation folds back into words ([`super::explain::word_pushes`]).
    pub fn char_ngram_tokens(&self, input: &ScoringInput<'_>) -> Tokens {
        let only_chars = FeatureConfig {
            word_ngrams: None,
            char_ngrams: self.features.char_ngrams,
            signals: false,
            author: false,
        };
        let mut sink = Tokens::with_capacity(256, input.text.len());
        extract(&only_chars, input, &mut sink);
        sink
    }

    /// [`Self::transform`] of a document whose feature hashes are `hashes`
    /// ([`Self::hashes`] of a vectorizer with the same features).
    pub fn transform_hashes(&self, hashes: &[u64]) -> SparseVector {
        let mut vector = self.weigh_hashes(hashes);
        self.normalize(&mut vector);
        vector
    }

    fn weigh_hashes(&self, hashes: &[u64]) -> SparseVector {
        let hits: Vec<u32> = hashes
            .iter()
            .filter_map(|h| self.index.get(h).copied())
            .collect();
        count_distinct(&hits)
            .into_iter()
            .map(|(idx, n)| {
                let base = match self.config.weighting {
                    Weighting::Binary => 1.0,
                    Weighting::Log => f64::from(n).ln_1p(),
                    Weighting::Count => f64::from(n),
                };
                (idx, base * self.group_weight[idx as usize])
            })
            .collect()
    }

    /// Applies the configured norm and scale to a weighted vector.
    pub fn normalize(&self, vector: &mut SparseVector) {
        normalize(self.config.norm, self.config.scale, vector);
    }
}

/// Each distinct vocabulary index with its number of occurrences, in order of
/// first occurrence: one pass over an open-addressing table at least twice the
/// input's size. Sorting the hits to merge repeats cost about a sixth of
/// scoring a comment. The keys are vocabulary indices, not the feature hashes
/// they come from (which could be forged to collide in a table's low bits),
/// and a multiplier drawn once per process spreads them ([`slot_of`]).
fn count_distinct(keys: &[u32]) -> Vec<(u32, u32)> {
    let slots = (keys.len() * 2).next_power_of_two().max(16);
    let mask = slots - 1;
    let mut table = vec![u32::MAX; slots];
    let mut distinct: Vec<(u32, u32)> = Vec::with_capacity(keys.len());
    let multiplier = *SLOT_MULTIPLIER;
    for &key in keys {
        let mut slot = slot_of(key, slots, multiplier);
        loop {
            let at = table[slot];
            if at == u32::MAX {
                // At most `keys.len()` entries: a comment's features, far below u32::MAX.
                table[slot] = distinct.len() as u32;
                distinct.push((key, 1));
                break;
            }
            let entry = &mut distinct[at as usize];
            if entry.0 == key {
                entry.1 += 1;
                break;
            }
            slot = (slot + 1) & mask;
        }
    }
    distinct
}

/// Where each vocabulary index of a vector is in it: an open-addressing table
/// like `count_distinct`'s, keyed on vocabulary indices for the same reason.
pub struct Positions {
    table: Vec<u32>,
    keys: Vec<u32>,
    multiplier: u64,
}

impl Positions {
    /// The positions of `vector`'s indices (each once, as a vector has them).
    pub fn of(vector: &SparseVector) -> Self {
        let slots = (vector.len() * 2).next_power_of_two().max(16);
        let mask = slots - 1;
        let mut table = vec![u32::MAX; slots];
        let keys: Vec<u32> = vector.iter().map(|&(i, _)| i).collect();
        let multiplier = *SLOT_MULTIPLIER;
        for (position, &key) in keys.iter().enumerate() {
            let mut slot = slot_of(key, slots, multiplier);
            while table[slot] != u32::MAX {
                slot = (slot + 1) & mask;
            }
            // A vector holds one comment's features, far below u32::MAX.
            table[slot] = position as u32;
        }
        Self {
            table,
            keys,
            multiplier,
        }
    }

    /// The position of vocabulary index `key`, if the vector has it.
    pub fn get(&self, key: u32) -> Option<usize> {
        let mask = self.table.len() - 1;
        let mut slot = slot_of(key, self.table.len(), self.multiplier);
        loop {
            let position = *self.table.get(slot)?;
            if position == u32::MAX {
                return None;
            }
            if self.keys.get(position as usize) == Some(&key) {
                return Some(position as usize);
            }
            slot = (slot + 1) & mask;
        }
    }
}

/// A random odd multiplier, drawn once per process. The vocabulary is public
/// (it ships in the binary), so with a fixed multiplier a commenter could
/// pick words whose indices crowd one stretch of a table and make every
/// lookup probe far; multiply-shift with a secret odd multiplier is a
/// universal hash family (Dietzfelbinger et al. 1997): two keys share a slot
/// with probability at most 2 / slots, whatever keys are chosen.
static SLOT_MULTIPLIER: LazyLock<u64> = LazyLock::new(|| {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(0x9E37_79B9_7F4A_7C15_u64) | 1
});

/// The slot of `key` in a table of `slots` (a power of two): the top bits of
/// the key times `multiplier` ([`SLOT_MULTIPLIER`], read once per table).
fn slot_of(key: u32, slots: usize, multiplier: u64) -> usize {
    let bits = slots.trailing_zeros();
    // The shift leaves `bits` bits, and `slots` fits a usize.
    (u64::from(key).wrapping_mul(multiplier) >> (64 - bits)) as usize
}

/// Scales `vector` to unit `norm`, then by `scale`; an empty vector stays empty.
pub fn normalize(norm: Norm, scale: f64, vector: &mut SparseVector) {
    let length = match norm {
        Norm::None => 1.0,
        Norm::L2 => vector.iter().map(|(_, v)| v * v).sum::<f64>().sqrt(),
        Norm::L1 => vector.iter().map(|(_, v)| v).sum::<f64>(),
    };
    if length > 0.0 {
        let factor = scale / length;
        for (_, v) in vector {
            *v *= factor;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected_counts(keys: &[u32]) -> Vec<(u32, u32)> {
        let mut expected: Vec<(u32, u32)> = Vec::new();
        for &k in keys {
            match expected.iter_mut().find(|(seen, _)| *seen == k) {
                Some(entry) => entry.1 += 1,
                None => expected.push((k, 1)),
            }
        }
        expected
    }

    #[test]
    fn count_distinct_counts_each_key_once_in_first_seen_order() {
        let mut keys: Vec<u32> = (0..500u32).map(|i| (i % 37) * 1_000 + i % 5).collect();
        keys.extend([0, 0, u32::MAX - 1, 7, u32::MAX - 1]);
        assert_eq!(count_distinct(&keys), expected_counts(&keys));
        assert!(count_distinct(&[]).is_empty());
    }

    #[test]
    fn positions_find_each_index_of_a_vector_and_no_other() {
        let vector: SparseVector = (0..300u32).map(|i| (i * 7919 % 100_003, 1.0)).collect();
        let positions = Positions::of(&vector);
        for (at, &(i, _)) in vector.iter().enumerate() {
            assert_eq!(positions.get(i), Some(at));
        }
        assert_eq!(positions.get(100_004), None);
        assert_eq!(Positions::of(&Vec::new()).get(0), None);
    }

    #[test]
    fn count_distinct_probes_past_the_end_of_its_table() {
        // Three keys that all hash to the last of 16 slots (six inputs get a
        // 16-slot table): the second and third must wrap around to slot 0.
        let last: Vec<u32> = (0..u32::MAX)
            .filter(|&k| slot_of(k, 16, *SLOT_MULTIPLIER) == 15)
            .take(3)
            .collect();
        let keys = [last[0], last[1], last[2], last[2], last[1], last[0]];
        assert_eq!(count_distinct(&keys), expected_counts(&keys));
    }
}
