//! The request path scores with a sparse scorer derived from the linfa model. It
//! must give linfa's own joint log-likelihoods (to 1e-9) and predictions on a
//! whole test split.

use std::path::PathBuf;

use linfa::prelude::Predict;
use linfa_bayes::NaiveBayes;
use ndarray::Array2;
use replyguard::classifier::artifact::{Artifact, SPAM};
use replyguard::classifier::train::read_jsonl;
use replyguard::classifier::{SHIPPED_MODEL, SpamModel};

fn test_split() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/youtube-test.jsonl")
}

#[test]
fn sparse_scorer_equals_linfa_on_the_youtube_test_split() {
    let artifact = Artifact::from_json(SHIPPED_MODEL).unwrap();
    let model = SpamModel::from_artifact(artifact.clone()).unwrap();
    let examples = read_jsonl(&test_split()).unwrap();
    let width = model.vocabulary_len();
    let mut compared = 0;

    for chunk in examples.chunks(64) {
        let mut x = Array2::<f64>::zeros((chunk.len(), width));
        for (r, example) in chunk.iter().enumerate() {
            for (c, v) in model.vectorize(&example.input()) {
                x[[r, c as usize]] = v;
            }
        }
        let linfa_jll = artifact.model.joint_log_likelihood(x.view());
        let linfa_pred = artifact.model.predict(&x);
        for (r, example) in chunk.iter().enumerate() {
            let [ham, spam] = model.joint_log_likelihood(&example.input());
            let expected_ham = linfa_jll[&0][r];
            let expected_spam = linfa_jll[&SPAM][r];
            assert!(
                (ham - expected_ham).abs() < 1e-9,
                "row {compared}: ham {ham} vs {expected_ham}"
            );
            assert!(
                (spam - expected_spam).abs() < 1e-9,
                "row {compared}: spam {spam} vs {expected_spam}"
            );
            let sparse_says_spam = spam > ham;
            assert_eq!(sparse_says_spam, linfa_pred[r] == SPAM, "row {compared}");
            compared += 1;
        }
    }
    assert_eq!(compared, 590);
}
