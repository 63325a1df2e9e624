//! Scoring cost on the request path: features + sparse model, one comment, one thread.
//! Run: `cargo bench --bench scoring`.

use criterion::{Criterion, criterion_group, criterion_main};
use replyguard::classifier::artifact::Provenance;
use replyguard::classifier::train::{self, TrainOptions};
use replyguard::classifier::{Artifact, SHIPPED_MODEL, ScoringInput, SpamModel};

/// A typical comment: the median YouTube test comment is about this long (~80 chars).
const TYPICAL: &str =
    "This song is amazing, I have been listening to it all week! Who else is here in 2015?";
const SPAMMY: &str = "CHECK OUT MY CHANNEL!!! subscribe and win FREE gift cards http://free-gifts.example.com click here now!!!";

fn scoring(c: &mut Criterion) {
    let model = match SpamModel::shipped() {
        Ok(model) => model,
        Err(err) => panic!("the shipped model does not load: {err}"),
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
    // The spammy comment's probability alone: the difference to its score is
    // the explanation.
    let input = ScoringInput {
        text: SPAMMY,
        ..Default::default()
    };
    c.bench_function("spam_probability_of_spammy_comment", |b| {
        b.iter(|| model.spam_probability(std::hint::black_box(&input)))
    });
}

/// A site's model as a training job may build it: the shipped model plus a
/// model of 200 site labels (the repository's YouTube sample) added to it.
/// Scoring extracts the features twice, once per vocabulary.
fn site_scoring(c: &mut Criterion) {
    let sample =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/youtube-test.jsonl");
    let site: Vec<train::TrainingRow> = match train::read_jsonl(&sample) {
        Ok(rows) => rows.into_iter().take(200).collect(),
        Err(err) => panic!("the sample does not read: {err}"),
    };
    let base = match Artifact::from_json(SHIPPED_MODEL) {
        Ok(artifact) => train::BaseModel {
            artifact,
            rows: Vec::new(),
            out_of_fold: Vec::new(),
        },
        Err(err) => panic!("the shipped model does not load: {err}"),
    };
    let options = TrainOptions {
        budget_source: Some(0),
        ..TrainOptions::default()
    };
    let model =
        match train::train_with_site(&base, &site, &options, "bench-site", Provenance::default())
            .and_then(|(artifact, _)| SpamModel::from_artifact(artifact))
        {
            Ok(model) => model,
            Err(err) => panic!("the site model does not train: {err}"),
        };
    let input = ScoringInput {
        text: TYPICAL,
        ..Default::default()
    };
    c.bench_function("score_typical_comment_with_a_site_model", |b| {
        b.iter(|| model.score(std::hint::black_box(&input)))
    });
}

/// Keyword lists of 10,000 entries each, matched against a comment's six fields.
fn keywords(c: &mut Criterion) {
    use replyguard::domain::keywords::KeywordMatcher;
    let list = |prefix: &str| {
        (0..10_000)
            .map(|i| format!("{prefix}{i:05}word"))
            .collect::<Vec<_>>()
    };
    let matcher = match KeywordMatcher::new(list("hold"), list("ban"), 1) {
        Ok(matcher) => matcher,
        Err(err) => panic!("keyword lists do not build: {err}"),
    };
    let fields = [
        "Ada Lovelace",
        "ada@example.com",
        "https://ada.example/",
        TYPICAL,
        "203.0.113.9",
        "Mozilla/5.0 (X11; Linux x86_64)",
    ];
    c.bench_function("keywords_10000_entries_per_list", |b| {
        b.iter(|| matcher.check(std::hint::black_box(&fields)))
    });
}

criterion_group!(benches, scoring, site_scoring, keywords);
criterion_main!(benches);
