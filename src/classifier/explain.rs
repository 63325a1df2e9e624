//! Why a comment scored as it did, in words a moderator recognises. Most of a
//! score's evidence is in character n-grams (`c: ch`, `che`, …), which name no
//! word; each n-gram's push toward spam is given back to the words it came
//! from (split evenly when several words share it) and added to the word's
//! own feature, so the word that tipped a score is the one named.

use std::collections::HashMap;

use super::features::{FeatureConfig, FeatureSink, NameHash, ScoringInput, extract, is_word_char};
use super::vectorizer::{SparseVector, Vectorizer};

/// The character n-grams of each whitespace-separated token, by name hash,
/// in the order the vectorizer sees them.
#[derive(Default)]
struct TokenSink {
    tokens: Vec<(String, Vec<u64>)>,
}

impl FeatureSink for TokenSink {
    fn feature(&mut self, prefix: &str, parts: &[&str]) {
        let mut hash = NameHash::new();
        hash.write(prefix.as_bytes());
        for part in parts {
            hash.write(part.as_bytes());
        }
        if let Some((_, grams)) = self.tokens.last_mut() {
            grams.push(hash.finish());
        }
    }

    fn char_ngrams(&mut self, prefix: &str, padded: &str, bounds: &[usize], lo: usize, hi: usize) {
        self.tokens.push((padded.trim().to_owned(), Vec::new()));
        let chars = bounds.len() - 1;
        for n in lo..=hi {
            for start in 0..(chars + 1).saturating_sub(n) {
                self.feature(prefix, &[&padded[bounds[start]..bounds[start + n]]]);
            }
        }
    }
}

/// A word as a moderator reads it: the placeholders the features put in place
/// of addresses are named for what they stand for.
fn shown(word: &str) -> &str {
    match word {
        "__link__" => "a link",
        "__email__" => "an email address",
        other => other,
    }
}

/// The pushes toward spam (negative: toward ham) of `vector`'s features by
/// name, with character n-grams folded into their words: a feature's push is
/// its value times its log-likelihood ratio (spam over ham). Two models'
/// pushes on one comment add up word by word ([`strongest`] ranks them).
pub fn word_pushes(
    vectorizer: &Vectorizer,
    vocabulary: &[String],
    log_ratio: impl Fn(u32) -> f64,
    input: &ScoringInput<'_>,
    vector: &SparseVector,
) -> HashMap<String, f64> {
    let push: HashMap<u32, f64> = vector
        .iter()
        .map(|&(i, value)| (i, value * log_ratio(i)))
        .collect();
    let mut by_name: HashMap<String, f64> = HashMap::new();

    let only_chars = FeatureConfig {
        word_ngrams: None,
        char_ngrams: vectorizer.features().char_ngrams,
        signals: false,
        author: false,
    };
    let mut sink = TokenSink::default();
    extract(&only_chars, input, &mut sink);
    let known: Vec<(String, Vec<u32>)> = sink
        .tokens
        .into_iter()
        .map(|(token, grams)| {
            let indices = grams
                .iter()
                .filter_map(|h| vectorizer.index_of_hash(*h))
                .collect();
            (token, indices)
        })
        .collect();
    let mut occurrences: HashMap<u32, usize> = HashMap::new();
    for (_, indices) in &known {
        for i in indices {
            *occurrences.entry(*i).or_default() += 1;
        }
    }
    for (token, indices) in &known {
        let word = shown(token.trim_matches(|c: char| !is_word_char(c)));
        if word.is_empty() {
            continue;
        }
        let total: f64 = indices
            .iter()
            .map(|i| {
                let shares = occurrences.get(i).copied().unwrap_or(1).max(1);
                push.get(i).copied().unwrap_or(0.0) / shares as f64
            })
            .sum();
        *by_name.entry(word.to_owned()).or_default() += total;
    }

    for &(i, _) in vector {
        let Some(name) = vocabulary.get(i as usize) else {
            continue;
        };
        if name.starts_with("c:") {
            continue;
        }
        let name = name.strip_prefix("w:").map_or(name.as_str(), shown);
        *by_name.entry(name.to_owned()).or_default() += push.get(&i).copied().unwrap_or(0.0);
    }
    by_name
}

/// The words that pushed toward spam, strongest first.
pub fn strongest(by_name: HashMap<String, f64>) -> Vec<(String, f64)> {
    let mut pushes: Vec<(String, f64)> = by_name.into_iter().filter(|(_, p)| *p > 0.0).collect();
    // Strongest first; equal pushes by name, so an explanation never varies.
    pushes.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    pushes
}

#[cfg(test)]
mod tests {
    use crate::classifier::{ScoringInput, SpamModel};

    fn explained(text: &str) -> Vec<String> {
        let model = SpamModel::shipped().unwrap();
        let score = model.score(&ScoringInput {
            text,
            ..Default::default()
        });
        assert!(
            score.spam_probability >= 0.5,
            "{text}: {}",
            score.spam_probability
        );
        score
            .top_features
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    }

    #[test]
    fn character_ngrams_are_credited_to_their_words() {
        let names =
            explained("Check out my channel!!! Free money at www.example-cash.com subscribe now");
        assert!(names.iter().all(|n| !n.starts_with("c:")), "{names:?}");
        assert!(names.contains(&"subscribe".to_owned()), "{names:?}");
        assert!(names.contains(&"a link".to_owned()), "{names:?}");
    }

    #[test]
    fn explanations_are_strongest_first_and_stable() {
        let model = SpamModel::shipped().unwrap();
        let input = ScoringInput {
            text: "subscribe to my channel please subscribe",
            ..Default::default()
        };
        let first = model.score(&input).top_features;
        assert_eq!(first, model.score(&input).top_features);
        assert!(first.windows(2).all(|w| w[0].1 >= w[1].1), "{first:?}");
        assert_eq!(first[0].0, "subscribe");
    }
}
