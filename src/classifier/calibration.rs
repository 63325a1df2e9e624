//! Threshold calibration: every training example scored by a model that did
//! not see it (k-fold cross-validation on the training data only, no test
//! data involved), then the thresholds chosen on those scores
//! ([`super::metrics::calibrate`]).

use std::collections::HashMap;

use super::metrics::SplitMix64;
use super::train::{TrainOptions, TrainingRow, Vectorized, class_of};
use super::vectorizer::{self, SparseVector};
use super::{SparseScorer, probability_of_second};

/// The fold (of `k`) of every example: round-robin within each class so
/// folds stay stratified, and every copy of a text in the fold of its first
/// occurrence, so a held-out text was never seen by the model scoring it
/// (public corpora repeat texts: 127 of YouTube's train rows, 210 of SMS's).
pub fn fold_assignment(examples: &[TrainingRow], k: usize) -> Vec<usize> {
    let order: Vec<usize> = (0..examples.len()).collect();
    assign_in_order(examples, k, &order)
}

/// [`fold_assignment`] with the examples dealt in an order shuffled by
/// `seed` (stratified, copies together, as there): another split of the same
/// examples, for repeated cross-validation. The same seed gives the same
/// folds.
pub fn shuffled_fold_assignment(examples: &[TrainingRow], k: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..examples.len()).collect();
    let mut random = SplitMix64::new(seed);
    for i in (1..order.len()).rev() {
        order.swap(i, random.below(i + 1));
    }
    assign_in_order(examples, k, &order)
}

/// Folds dealt round-robin within each class to the examples in `order`
/// (a permutation of their indices), copies of a text joining the first
/// one's fold.
fn assign_in_order(examples: &[TrainingRow], k: usize, order: &[usize]) -> Vec<usize> {
    let (mut spam_seen, mut ham_seen) = (0, 0);
    let mut fold_of_text: HashMap<&str, usize> = HashMap::new();
    let mut folds = vec![0; examples.len()];
    for &i in order {
        let e = &examples[i];
        if let Some(&fold) = fold_of_text.get(e.text.as_str()) {
            folds[i] = fold;
            continue;
        }
        let counter = if e.is_spam {
            &mut spam_seen
        } else {
            &mut ham_seen
        };
        let fold = *counter % k.max(1);
        *counter += 1;
        fold_of_text.insert(e.text.as_str(), fold);
        folds[i] = fold;
    }
    folds
}

/// Scores of every example from a model that did not see it (k folds, see
/// [`fold_assignment`]), as `(spam probability, is spam, source)`.
///
/// Each fold is scored exactly as a fit on the other folds would score it,
/// without refitting: that fit's vocabulary is the features at least
/// `min_df` of its texts contain (counted from the vectors; a feature below
/// `min_df` overall is below it in every subset), its vectors are the weighed
/// features renormalized over that vocabulary, and multinomial naive Bayes is
/// a sum of per-class counts (a test checks all of it against refitting with
/// linfa). Only a `max_features` cap is approximated: it is applied among the
/// features the whole training set kept.
pub fn out_of_fold_scores(
    vectorized: &Vectorized,
    examples: &[TrainingRow],
    options: &TrainOptions,
) -> Vec<(f64, bool, usize)> {
    let k = options.folds.max(1);
    let fold_of = fold_assignment(examples, k);
    held_out_scores(vectorized, examples, options, &fold_of, k)
}

/// [`out_of_fold_scores`] on the folds of [`shuffled_fold_assignment`] with
/// `seed`: one more repetition of the cross-validation.
pub fn shuffled_out_of_fold_scores(
    vectorized: &Vectorized,
    examples: &[TrainingRow],
    options: &TrainOptions,
    seed: u64,
) -> Vec<(f64, bool, usize)> {
    let k = options.folds.max(1);
    let fold_of = shuffled_fold_assignment(examples, k, seed);
    held_out_scores(vectorized, examples, options, &fold_of, k)
}

/// Every example of a corpus made of several sources (input files) scored by
/// a model trained on the *other* sources only, as `(spam probability, is
/// spam, source)`: how the model treats a corpus unlike anything it learned
/// from, which is what a new site is ([`super::metrics::new_site_threshold`]).
/// Exact in the same way as [`out_of_fold_scores`]. `None` for a row whose
/// other sources lack a class, and empty with fewer than two sources.
pub fn out_of_source_scores(
    vectorized: &Vectorized,
    examples: &[TrainingRow],
    options: &TrainOptions,
) -> Vec<Option<(f64, bool, usize)>> {
    let mut sources: Vec<usize> = examples.iter().map(|e| e.source).collect();
    sources.sort_unstable();
    sources.dedup();
    if sources.len() < 2 {
        return Vec::new();
    }
    let fold_of: Vec<usize> = examples
        .iter()
        .map(|e| sources.binary_search(&e.source).unwrap_or(0))
        .collect();
    // A source is scored only if the others hold both classes.
    let mut classes = vec![[0usize; 2]; sources.len()];
    for (example, &fold) in examples.iter().zip(&fold_of) {
        classes[fold][class_of(example)] += 1;
    }
    let total = classes
        .iter()
        .fold([0, 0], |t, c| [t[0] + c[0], t[1] + c[1]]);
    let scorable: Vec<bool> = classes
        .iter()
        .map(|c| total[0] > c[0] && total[1] > c[1])
        .collect();
    held_out_scores(vectorized, examples, options, &fold_of, sources.len())
        .into_iter()
        .zip(&fold_of)
        .map(|(score, &fold)| scorable[fold].then_some(score))
        .collect()
}

/// Each example scored by the model of the examples outside its fold
/// (`fold_of`, folds `0..k`).
fn held_out_scores(
    vectorized: &Vectorized,
    examples: &[TrainingRow],
    options: &TrainOptions,
    fold_of: &[usize],
    k: usize,
) -> Vec<(f64, bool, usize)> {
    let width = vectorized.vocabulary.len();
    let mut df_in = vec![vec![0usize; width]; k];
    for (row, &fold) in vectorized.weighed.iter().zip(fold_of) {
        for &(c, _) in row {
            df_in[fold][c as usize] += 1;
        }
    }
    let mut df_total = vec![0usize; width];
    for df in &df_in {
        for (total, n) in df_total.iter_mut().zip(df) {
            *total += n;
        }
    }
    let config = &options.vectorizer;
    let project = |row: &SparseVector, keep: &[bool], weight: f64| -> SparseVector {
        let mut vector: SparseVector = row
            .iter()
            .copied()
            .filter(|&(c, _)| keep[c as usize])
            .collect();
        vectorizer::normalize(config.norm, config.scale, &mut vector);
        for (_, v) in &mut vector {
            *v *= weight;
        }
        vector
    };
    let mut scored = vec![(0.0, false, 0); examples.len()];
    for (fold, df_fold) in df_in.iter().enumerate() {
        let fold_df: Vec<usize> = (0..width).map(|j| df_total[j] - df_fold[j]).collect();
        let mut keep: Vec<bool> = fold_df.iter().map(|&n| n >= options.min_df).collect();
        let kept = keep.iter().filter(|&&k| k).count();
        if kept > options.max_features {
            let mut order: Vec<usize> = (0..width).filter(|&j| keep[j]).collect();
            order.sort_by(|&a, &b| {
                fold_df[b]
                    .cmp(&fold_df[a])
                    .then_with(|| vectorized.vocabulary[a].cmp(&vectorized.vocabulary[b]))
            });
            for &j in &order[options.max_features..] {
                keep[j] = false;
            }
        }
        let mut counts = [vec![0.0; width], vec![0.0; width]];
        let mut rows = [0; 2];
        for (i, example) in examples.iter().enumerate() {
            if fold_of[i] != fold {
                let class = class_of(example);
                rows[class] += 1;
                for (c, v) in project(&vectorized.weighed[i], &keep, example.weight) {
                    counts[class][c as usize] += v;
                }
            }
        }
        let scorer =
            SparseScorer::from_counts([&counts[0], &counts[1]], rows, options.alpha, &keep);
        for (i, example) in examples.iter().enumerate() {
            if fold_of[i] == fold {
                let vector = project(&vectorized.weighed[i], &keep, 1.0);
                let [ham, spam] = scorer.joint_log_likelihood(&vector);
                scored[i] = (
                    probability_of_second(ham, spam),
                    example.is_spam,
                    example.source,
                );
            }
        }
    }
    scored
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classifier::SpamModel;
    use crate::classifier::artifact::Provenance;
    use crate::classifier::train::tests::{fit, sample};
    use crate::classifier::train::{assemble, input, vectorize};
    use crate::domain::dataset::LabelledExample;

    #[test]
    fn out_of_fold_scores_equal_refitting_with_linfa_on_the_other_folds() {
        let mut examples = sample();
        for (i, example) in examples.iter_mut().enumerate() {
            if i % 3 == 0 {
                example.weight = 2.5;
            }
        }
        let options = TrainOptions {
            folds: 3,
            ..TrainOptions::default()
        };
        let vectorized = vectorize(&examples, &options).unwrap();
        let oof = out_of_fold_scores(&vectorized, &examples, &options);
        let fold_of = fold_assignment(&examples, options.folds);
        let mut compared = 0;
        for fold in 0..options.folds {
            // What calibration used to do: a whole fit (vocabulary, vectors,
            // linfa) on the other folds, then score the held-out fold.
            let others: Vec<TrainingRow> = examples
                .iter()
                .zip(&fold_of)
                .filter(|(_, f)| **f != fold)
                .map(|(e, _)| e.clone())
                .collect();
            let fitted = fit(&others, &options).unwrap();
            assert!(fitted.vocabulary.len() < vectorized.vocabulary.len());
            let model = SpamModel::from_artifact(assemble(
                &options,
                fitted,
                "fold",
                options.fallback_thresholds,
                Provenance::default(),
            ))
            .unwrap();
            for (i, example) in examples.iter().enumerate() {
                if fold_of[i] == fold {
                    let expected = model.spam_probability(&input(example));
                    assert!(
                        (oof[i].0 - expected).abs() < 1e-9,
                        "row {i}: {} vs refit {expected}",
                        oof[i].0
                    );
                    assert_eq!(oof[i].1, example.is_spam);
                    compared += 1;
                }
            }
        }
        assert_eq!(compared, examples.len());
    }

    #[test]
    fn out_of_source_scores_equal_refitting_with_linfa_on_the_other_sources() {
        let mut examples = sample();
        for (i, example) in examples.iter_mut().enumerate() {
            example.source = i % 3;
        }
        let options = TrainOptions::default();
        let vectorized = vectorize(&examples, &options).unwrap();
        let held_out = out_of_source_scores(&vectorized, &examples, &options);
        assert_eq!(held_out.len(), examples.len());
        for source in 0..3 {
            let others: Vec<TrainingRow> = examples
                .iter()
                .filter(|e| e.source != source)
                .cloned()
                .collect();
            let model = SpamModel::from_artifact(assemble(
                &options,
                fit(&others, &options).unwrap(),
                "others",
                options.fallback_thresholds,
                Provenance::default(),
            ))
            .unwrap();
            for (example, score) in examples.iter().zip(&held_out) {
                if example.source == source {
                    let (p, is_spam, from) = score.unwrap();
                    let expected = model.spam_probability(&input(example));
                    assert!((p - expected).abs() < 1e-9, "{p} vs refit {expected}");
                    assert_eq!((is_spam, from), (example.is_spam, source));
                }
            }
        }
    }

    #[test]
    fn out_of_source_scores_need_two_sources_and_both_classes_in_the_others() {
        let mut examples = sample();
        let options = TrainOptions::default();
        let vectorized = vectorize(&examples, &options).unwrap();
        assert!(out_of_source_scores(&vectorized, &examples, &options).is_empty());
        // Source 1 holds all the spam and source 0 all the ham: neither's
        // others hold both classes.
        for example in &mut examples {
            example.source = usize::from(example.is_spam);
        }
        let held_out = out_of_source_scores(&vectorized, &examples, &options);
        assert!(held_out.iter().all(Option::is_none));
        // One ham moved to source 1: source 0's others now hold both.
        let moved = examples.iter().position(|e| !e.is_spam).unwrap();
        examples[moved].source = 1;
        let held_out = out_of_source_scores(&vectorized, &examples, &options);
        for (example, score) in examples.iter().zip(&held_out) {
            assert_eq!(score.is_some(), example.source == 0);
        }
    }

    #[test]
    fn folds_are_stratified_round_robin_and_copies_share_a_fold() {
        let labels = [true, false, true, true, false, false, true];
        let mut examples: Vec<TrainingRow> = labels
            .iter()
            .enumerate()
            .map(|(i, &is_spam)| {
                TrainingRow::from(LabelledExample {
                    text: format!("text {i}"),
                    author_name: None,
                    author_email: None,
                    author_url: None,
                    is_spam,
                })
            })
            .collect();
        assert_eq!(fold_assignment(&examples, 3), vec![0, 0, 1, 2, 1, 2, 0]);
        // Row 4 (ham) repeats row 2's text: it joins fold 1 and the ham
        // round-robin does not advance, so row 5 takes fold 1.
        examples[4].example.text = examples[2].text.clone();
        assert_eq!(fold_assignment(&examples, 3), vec![0, 0, 1, 2, 1, 1, 0]);
    }

    #[test]
    fn shuffled_folds_are_stratified_keep_copies_together_and_follow_their_seed() {
        let examples: Vec<TrainingRow> = (0..60)
            .map(|i| {
                TrainingRow::from(LabelledExample {
                    text: format!("text {}", i % 50),
                    author_name: None,
                    author_email: None,
                    author_url: None,
                    is_spam: i % 5 < 2,
                })
            })
            .collect();
        // Rows 50..60 repeat rows 0..10's texts (and classes).
        let folds = shuffled_fold_assignment(&examples, 5, 11);
        assert_eq!(folds, shuffled_fold_assignment(&examples, 5, 11));
        assert_ne!(folds, shuffled_fold_assignment(&examples, 5, 12));
        assert_ne!(folds, fold_assignment(&examples, 5));
        for (i, example) in examples.iter().enumerate().skip(50) {
            assert_eq!(folds[i], folds[i - 50], "{}", example.text);
        }
        // Among the 50 distinct texts (20 spam, 30 ham), each fold holds 4
        // spam and 6 ham.
        for fold in 0..5 {
            let of = |spam: bool| {
                (0..50)
                    .filter(|&i| folds[i] == fold && examples[i].is_spam == spam)
                    .count()
            };
            assert_eq!((of(true), of(false)), (4, 6), "fold {fold}");
        }
    }
}
