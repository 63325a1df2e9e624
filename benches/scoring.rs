//! Scoring cost on the request path: features + sparse model, one comment, one thread.
//! Run: `cargo bench --bench scoring`.

use criterion::{Criterion, criterion_group, criterion_main};
use replyguard::classifier::{ScoringInput, SpamModel};

/// A typical comment: the median YouTube test comment is about this long (~80 chars).
const TYPICAL: &str =
    "This song is amazing, I have been listening to it all week! Who else is here in 2015?";
const SPAMMY: &str = "CHECK OUT MY CHANNEL!!! subscribe and win FREE gift cards http://free-gifts.example.com click here now!!!";

fn scoring(c: &mut Criterion) {
    let Ok(model) = SpamModel::shipped() else {
        return;
    };
    for (name, text) in [
        ("score_typical_comment", TYPICAL),
        ("score_spammy_comment", SPAMMY),
    ] {
        let input = ScoringInput {
            text,
            ..Default::default()
        };
        c.bench_function(name, |b| {
            b.iter(|| model.score(std::hint::black_box(&input)))
        });
    }
}

criterion_group!(benches, scoring);
criterion_main!(benches);
