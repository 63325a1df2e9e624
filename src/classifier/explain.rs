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

    let mut named: Vec<(&str, f64)> = Vec::with_capacity(vector.len());
    for (token, grams) in tokens.tokens() {
        let word = shown(token.trim_matches(|c: char| !is_word_char(c)));
        if word.is_empty() {
            continue;
        }
        let total: f64 = places[grams]
            .iter()
            .flatten()
            .map(|&place| push[place].1 / f64::from(shares[place].max(1)))
            .sum();
        named.push((word, total));
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

        #[derive(Default)]
        struct Names(Vec<(String, Vec<String>)>);
        impl FeatureSink for Names {
            fn feature(&mut self, prefix: &str, parts: &[&str]) {
                if let Some((_, grams)) = self.0.last_mut() {
                    grams.push(format!("{prefix}{}", parts.concat()));
                }
            }
            fn char_ngrams(
                &mut self,
                prefix: &str,
                padded: &str,
                bounds: &[usize],
                lo: usize,
                hi: usize,
            ) {
                self.0.push((padded.trim().to_owned(), Vec::new()));
                for n in lo..=hi {
                    for start in 0..(bounds.len()).saturating_sub(n) {
                        self.feature(prefix, &[&padded[bounds[start]..bounds[start + n]]]);
                    }
                }
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
            for i in grams.iter().filter_map(|g| index.get(g.as_str())) {
                *occurrences.entry(*i).or_default() += 1;
            }
        }
        let mut by_name: HashMap<String, f64> = HashMap::new();
        for (token, grams) in &names.0 {
            let word = super::shown(token.trim_matches(|c: char| !super::is_word_char(c)));
            if word.is_empty() {
                continue;
            }
            let total: f64 = grams
                .iter()
                .filter_map(|g| index.get(g.as_str()))
                .map(|i| push.get(i).copied().unwrap_or(0.0) / occurrences[i] as f64)
                .sum();
            *by_name.entry(word.to_owned()).or_default() += total;
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
