//! Pinned scores of the shipped model. If features or the model change, these
//! change: retrain on purpose, then update the numbers (and models/README.md).

use replyguard::classifier::{ScoringInput, SpamModel};

const GOLDEN: [(&str, f64); 5] = [
    (
        "Thanks for the clear explanation, it helped me understand the engine.",
        0.047729237134809914,
    ),
    (
        "CHECK OUT MY CHANNEL!!! subscribe and win FREE gift cards http://free-gifts.example.com click here now!!!",
        0.9999971773932589,
    ),
    (
        "I love this song so much, it reminds me of summer 2012",
        0.04902345115504615,
    ),
    (
        "Congratulations! You have won a $1000 prize. Call 09061701461 now to claim",
        0.9997469670378709,
    ),
    ("ok see you at home later", 0.006201240634085428),
];

#[test]
fn shipped_model_scores_are_pinned() {
    let model = SpamModel::shipped().unwrap();
    for (text, expected) in GOLDEN {
        let got = model.spam_probability(&ScoringInput {
            text,
            ..Default::default()
        });
        assert!(
            (got - expected).abs() < 1e-9,
            "{text:?}: got {got:?}, pinned {expected:?}"
        );
    }
}
