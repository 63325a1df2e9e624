//! Why a comment scored as it did, in words a moderator recognises. Most of a
//! score's evidence is in character n-grams (`c: ch`, `che`, …), which name no
//! word; each n-gram's push toward spam is given back to the words it came
//! from (split evenly when several words share it) and added to the word's
//! own feature, so the word that tipped a score is the one named.

use super::features::{Tokens, is_word_char};
use super::vectorizer::{Positions, SparseVector, Vectorizer};

/// A word as a moderator reads it: the placeholders the features put in place
/// of addresses are named for what they stand for.
fn shown(word: &str) -> &str {
    match word {
        "__link__" => "a link",
        "__email__" => "an email address",
        other => other,
    }
}

/// The pushes toward spam (negative: toward ham) of `vector`'s features (the
/// vector of the comment whose character n-grams are `tokens`) by
/// name, each name once, with character n-grams folded into their words: a
/// feature's push is its value times its log-likelihood ratio (spam over
/// ham). Two models' pushes on one comment add up word by word ([`strongest`]
/// merges them).
///
/// Sorting, not hashing, brings equal names together: the words are the
/// commenter's, and a sort costs the same whatever they are.
pub fn word_pushes(
    vectorizer: &Vectorizer,
    vocabulary: &[String],
    log_ratio: impl Fn(u32) -> f64,
    tokens: &Tokens,
    vector: &SparseVector,
) -> Vec<(String, f64)> {
    let push: Vec<(u32, f64)> = vector
        .iter()
        .map(|&(i, value)| (i, value * log_ratio(i)))
        .collect();
    let positions = Positions::of(vector);

    // Each n-gram's place in `push` (`None` outside the vocabulary), and how
    // many n-grams of the comment share each place.
    let places: Vec<Option<usize>> = tokens
        .hashes()
        .iter()
        .map(|&hash| positions.get(vectorizer.index_of_hash(hash)?))
        .collect();
    let mut shares = vec![0_u32; push.len()];
    for place in places.iter().flatten() {
        shares[*place] += 1;
    }

    let gram_sizes = vectorizer.features().char_ngrams;
    let mut named: Vec<(&str, f64)> = Vec::with_capacity(vector.len());
    let mut words: Vec<(&str, std::ops::Range<usize>, f64)> = Vec::new();
    for (token, grams) in tokens.tokens() {
        let gram_push: Vec<f64> = places[grams]
            .iter()
            .map(|place| place.map_or(0.0, |p| push[p].1 / f64::from(shares[p].max(1))))
            .collect();
        words.clear();
        words.extend(
            words_of(token)
                .into_iter()
                .map(|(word, span)| (word, span, 0.0)),
        );
        match gram_sizes {
            Some([lo, hi]) if credit_to_words(&mut words, token, lo, hi, &gram_push) => {
                named.extend(words.iter().map(|(word, _, total)| (shown(word), *total)));
            }
            // No words, or an n-gram layout this does not know: the token as
            // one word (nothing, when it has no word characters).
            _ => {
                let word = shown(token.trim_matches(|c: char| !is_word_char(c)));
                if !word.is_empty() {
                    named.push((word, gram_push.iter().sum()));
                }
            }
        }
    }
    for &(i, value) in &push {
        let Some(name) = vocabulary.get(i as usize) else {
            continue;
        };
        if name.starts_with("c:") {
            continue;
        }
        named.push((name.strip_prefix("w:").map_or(name.as_str(), shown), value));
    }
    merge(named)
        .map(|(name, push)| (name.to_owned(), push))
        .collect()
}

/// The words of a whitespace-separated token (runs of word characters, as
/// the word features cut them: `subscribe,soon` is two), each with its span
/// in characters.
fn words_of(token: &str) -> Vec<(&str, std::ops::Range<usize>)> {
    let mut words = Vec::new();
    // The current word's first character: its index and byte offset.
    let mut open: Option<(usize, usize)> = None;
    let mut count = 0;
    for (i, (byte, c)) in token.char_indices().enumerate() {
        count = i + 1;
        if is_word_char(c) {
            open.get_or_insert((i, byte));
        } else if let Some((first, from)) = open.take() {
            words.push((&token[from..byte], first..i));
        }
    }
    if let Some((first, from)) = open {
        words.push((&token[from..], first..count));
    }
    words
}

/// Adds each character n-gram's push (in the order the features cut them
/// from the token padded with a space each side: every size from `lo` to
/// `hi`, each from the first position on) to the words it overlaps, split
/// evenly; an n-gram of punctuation alone goes to all the token's words.
/// `false` when `pushes` does not match that layout (nothing is added).
fn credit_to_words(
    words: &mut [(&str, std::ops::Range<usize>, f64)],
    token: &str,
    lo: usize,
    hi: usize,
    pushes: &[f64],
) -> bool {
    let padded = token.chars().count() + 2;
    let sizes = lo.max(1)..=hi;
    let grams: usize = sizes.clone().map(|n| (padded + 1).saturating_sub(n)).sum();
    if grams != pushes.len() || words.is_empty() {
        return false;
    }
    let layout =
        sizes.flat_map(|n| (0..(padded + 1).saturating_sub(n)).map(move |start| (start, n)));
    for ((start, n), &push) in layout.zip(pushes) {
        // The token's character `i` is the padded string's `i + 1`.
        let overlaps =
            |span: &std::ops::Range<usize>| span.start + 1 < start + n && start < span.end + 1;
        let hit = words.iter().filter(|w| overlaps(&w.1)).count();
        let (share, all) = match hit {
            0 => (push / words.len() as f64, true),
            k => (push / k as f64, false),
        };
        for word in words.iter_mut().filter(|w| all || overlaps(&w.1)) {
            word.2 += share;
        }
    }
    true
}

/// Equal names' pushes added up, each name once, in name order.
fn merge<S: AsRef<str> + Ord>(mut named: Vec<(S, f64)>) -> impl Iterator<Item = (S, f64)> {
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let mut merged: Vec<(S, f64)> = Vec::with_capacity(named.len());
    for (name, push) in named {
        match merged.last_mut() {
            Some((last, total)) if last.as_ref() == name.as_ref() => *total += push,
            _ => merged.push((name, push)),
        }
    }
    merged.into_iter()
}

/// The words that pushed toward spam, strongest first, from one or more
/// models' [`word_pushes`] (a name may come once from each).
pub fn strongest(pushes: Vec<(String, f64)>) -> Vec<(String, f64)> {
    let mut pushes: Vec<(String, f64)> = merge(pushes).filter(|(_, p)| *p > 0.0).collect();
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
    fn a_token_joined_by_punctuation_is_explained_word_by_word() {
        use super::{credit_to_words, words_of};
        assert_eq!(
            words_of("youtube:chan…é1/x"),
            vec![
                ("youtube", 0..7),
                ("chan", 8..12),
                ("é1", 13..15),
                ("x", 16..17)
            ]
        );
        assert!(words_of("!!!").is_empty());
        // " a,b " cut into 3-grams: " a," "a,b" ",b ", the middle one shared.
        let mut words: Vec<_> = words_of("a,b")
            .into_iter()
            .map(|(w, s)| (w, s, 0.0))
            .collect();
        assert!(credit_to_words(&mut words, "a,b", 3, 3, &[1.0, 2.0, 4.0]));
        assert_eq!(words, vec![("a", 0..1, 2.0), ("b", 2..3, 5.0)]);
        // A layout that does not match is refused, and nothing is credited.
        assert!(!credit_to_words(&mut words, "a,b", 3, 3, &[1.0]));
        assert_eq!(words[0].2, 2.0);

        let names = explained("Subscribe,please check my channel:subscribe");
        assert!(names.contains(&"subscribe".to_owned()), "{names:?}");
        assert!(
            names.iter().all(|n| !n.contains(',') && !n.contains(':')),
            "{names:?}"
        );
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

    /// The explanation as first defined, by feature names and hash maps, of
    /// one model (not its site model): each token's character n-grams looked
    /// up by name, each n-gram's push split evenly over its occurrences,
    /// words' own features added.
    fn by_names(
        model: &SpamModel,
        input: &ScoringInput<'_>,
    ) -> std::collections::HashMap<String, f64> {
        use std::collections::HashMap;

        use crate::classifier::features::{FeatureConfig, FeatureSink, extract};

        /// An n-gram: name, first character in the padded token, length.
        type Gram = (String, usize, usize);
        /// Each token with its n-grams.
        #[derive(Default)]
        struct Names(Vec<(String, Vec<Gram>)>);
        impl FeatureSink for Names {
            fn feature(&mut self, _prefix: &str, _parts: &[&str]) {}
            fn char_ngrams(
                &mut self,
                prefix: &str,
                padded: &str,
                bounds: &[usize],
                lo: usize,
                hi: usize,
            ) {
                let mut grams = Vec::new();
                for n in lo..=hi {
                    for start in 0..(bounds.len()).saturating_sub(n) {
                        let gram = &padded[bounds[start]..bounds[start + n]];
                        grams.push((format!("{prefix}{gram}"), start, n));
                    }
                }
                self.0.push((padded.trim().to_owned(), grams));
            }
        }

        let vector = model.vectorize(input);
        let push: HashMap<u32, f64> = vector
            .iter()
            .map(|&(i, v)| (i, v * model.scorer.log_ratio(i)))
            .collect();
        let index: HashMap<&str, u32> = model
            .vocabulary
            .iter()
            .enumerate()
            .map(|(i, name)| (name.as_str(), i as u32))
            .collect();
        let only_chars = FeatureConfig {
            word_ngrams: None,
            char_ngrams: model.vectorizer.features().char_ngrams,
            signals: false,
            author: false,
        };
        let mut names = Names::default();
        extract(&only_chars, input, &mut names);
        let mut occurrences: HashMap<u32, usize> = HashMap::new();
        for (_, grams) in &names.0 {
            for i in grams.iter().filter_map(|g| index.get(g.0.as_str())) {
                *occurrences.entry(*i).or_default() += 1;
            }
        }
        let mut by_name: HashMap<String, f64> = HashMap::new();
        for (token, grams) in &names.0 {
            // Which word each character of the padded token belongs to.
            let mut words: Vec<String> = Vec::new();
            let mut word_at: Vec<Option<usize>> = vec![None];
            let mut previous_is_word = false;
            for c in token.chars() {
                let is_word = super::is_word_char(c);
                if is_word && !previous_is_word {
                    words.push(String::new());
                }
                if is_word {
                    words.last_mut().unwrap().push(c);
                }
                word_at.push(is_word.then(|| words.len() - 1));
                previous_is_word = is_word;
            }
            word_at.push(None);
            if words.is_empty() {
                continue;
            }
            for (gram, start, n) in grams {
                let Some(i) = index.get(gram.as_str()) else {
                    continue;
                };
                let share = push.get(i).copied().unwrap_or(0.0) / occurrences[i] as f64;
                let mut hit: Vec<usize> = word_at[*start..start + n]
                    .iter()
                    .flatten()
                    .copied()
                    .collect();
                hit.dedup();
                if hit.is_empty() {
                    hit = (0..words.len()).collect();
                }
                for w in &hit {
                    *by_name
                        .entry(super::shown(&words[*w]).to_owned())
                        .or_default() += share / hit.len() as f64;
                }
            }
        }
        for &(i, _) in &vector {
            let name = &model.vocabulary[i as usize];
            if name.starts_with("c:") {
                continue;
            }
            let name = name.strip_prefix("w:").map_or(name.as_str(), super::shown);
            *by_name.entry(name.to_owned()).or_default() += push[&i];
        }
        by_name
    }

    /// Every word that pushed toward spam, as [`by_names`] defines it, with a
    /// site model's pushes (times its weight) added to the model's (times
    /// its base weight).
    fn expected(model: &SpamModel, input: &ScoringInput<'_>) -> Vec<(String, f64)> {
        let mut pushes: Vec<(String, f64)> = by_names(model, input)
            .into_iter()
            .map(|(word, push)| (word, model.base_weight * push))
            .collect();
        if let Some((site, weight)) = &model.site {
            pushes.extend(
                by_names(site, input)
                    .into_iter()
                    .map(|(word, push)| (word, weight * push)),
            );
        }
        super::strongest(pushes)
    }

    /// The whole explanation `score` truncates.
    fn explanation(model: &SpamModel, input: &ScoringInput<'_>) -> Vec<(String, f64)> {
        let (vector, site_vector) = model.vectors(input);
        let site = model
            .site
            .as_ref()
            .zip(site_vector)
            .map(|((site, weight), vector)| (site.as_ref(), *weight, vector));
        model.explain(input, &vector, site)
    }

    const SPAMMY: [&str; 5] = [
        "Check out my channel!!! Free money at www.example-cash.com subscribe now",
        "subscribe subscribe SUBSCRIBE to my channel, subscribers get free gift cards",
        "Écoutez ma chaîne, abonnez-vous ! <b>gratuit</b> &amp; facile: visit http://x.example.org/a?b=c",
        "Win a free iPhone: text WIN to 80086 or mail prizes@example.net now, limited offer",
        "please please please check my cover of this song on my channel and subscribe",
    ];

    fn assert_explained_by_definition(model: &SpamModel) {
        for text in SPAMMY {
            let input = ScoringInput {
                text,
                ..Default::default()
            };
            let got = explanation(model, &input);
            let want = expected(model, &input);
            assert!(got.len() > crate::classifier::TOP_TOKENS, "{text}: {got:?}");
            assert_eq!(got.len(), want.len(), "{text}: {got:?} vs {want:?}");
            for ((name, push), (want_name, want_push)) in got.iter().zip(&want) {
                assert_eq!(name, want_name, "{text}: {got:?} vs {want:?}");
                assert!(
                    (push - want_push).abs() < 1e-9,
                    "{text}: {push} vs {want_push}"
                );
            }
            // What a score leaning spam shows is the head of it.
            let score = model.score(&input);
            if score.spam_probability >= 0.5 {
                assert_eq!(
                    score.top_features[..],
                    got[..crate::classifier::TOP_TOKENS],
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn explanations_match_their_definition_by_feature_names() {
        assert_explained_by_definition(&SpamModel::shipped().unwrap());
    }

    #[test]
    fn a_site_models_explanations_match_their_definition_too() {
        use crate::classifier::Artifact;
        use crate::classifier::artifact::Provenance;
        use crate::classifier::train::{self, BaseModel, TrainOptions};

        let sample =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/youtube-test.jsonl");
        let site: Vec<train::TrainingRow> = train::read_jsonl(&sample)
            .unwrap()
            .into_iter()
            .take(200)
            .collect();
        let base = BaseModel {
            artifact: Artifact::from_json(crate::classifier::SHIPPED_MODEL).unwrap(),
            rows: Vec::new(),
            out_of_fold: Vec::new(),
        };
        let options = TrainOptions {
            budget_source: Some(0),
            ..TrainOptions::default()
        };
        let (mut artifact, _) =
            train::train_with_site(&base, &site, &options, "site", Provenance::default()).unwrap();
        // At the weights the site chose, and with the base model discounted.
        for base_weight in [artifact.base_weight, Some(0.25)] {
            artifact.base_weight = base_weight;
            artifact.format_version = if base_weight.is_some() {
                crate::classifier::artifact::WEIGHTED_SITE_FORMAT_VERSION
            } else {
                crate::classifier::artifact::SITE_FORMAT_VERSION
            };
            let model = SpamModel::from_artifact(artifact.clone()).unwrap();
            assert!(model.site.is_some());
            assert_explained_by_definition(&model);
        }
    }
}
