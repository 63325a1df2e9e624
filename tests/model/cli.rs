//! `replyguard train` → `eval` → `classify` on a small file, as an operator runs them.

use std::path::Path;
use std::process::Command;

fn replyguard(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_replyguard"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

/// `replyguard train --data DATA --out OUT EXTRA…`.
fn train(data: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "train",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    replyguard(&args)
}

fn write_training_file(path: &Path) {
    let spam = [
        "WIN a FREE iPhone now!!! click http://prize.example.com",
        "subscribe to my channel for free gift cards",
        "check out my channel, please subscribe!!!",
        "cheap pills online, buy now http://pills.example.net",
        "Congratulations you won $1000 call now to claim",
        "make money fast from home, click here http://cash.example.org",
    ];
    let ham = [
        "Thanks for the clear explanation of the engine.",
        "I love this song, it reminds me of my childhood.",
        "Great post, I learned something new today.",
        "See you at the meeting tomorrow morning.",
        "The second chapter was the best part for me.",
        "Could you write more about the history of this place?",
    ];
    let mut lines = String::new();
    for _ in 0..3 {
        for text in spam {
            lines.push_str(&serde_json::json!({"text": text, "label": "spam"}).to_string());
            lines.push('\n');
        }
        for text in ham {
            lines.push_str(&serde_json::json!({"content": text, "label": "ham"}).to_string());
            lines.push('\n');
        }
    }
    std::fs::write(path, lines).unwrap();
}

#[test]
fn train_then_eval_then_classify() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("train.jsonl");
    let model = dir.path().join("models/small.json");
    write_training_file(&data);
    let (data_s, model_s) = (data.to_str().unwrap(), model.to_str().unwrap());

    let train = train(&data, &model, &["--folds", "3"]);
    assert!(
        train.status.success(),
        "{}",
        String::from_utf8_lossy(&train.stderr)
    );
    assert!(
        String::from_utf8_lossy(&train.stdout).contains("trained small: 36 rows (18 spam, 18 ham)")
    );
    // 18 ham cannot show a 1% false-positive rate: the user is told.
    assert!(
        String::from_utf8_lossy(&train.stderr).contains("has 18 ham, too few to show"),
        "{}",
        String::from_utf8_lossy(&train.stderr)
    );

    let eval = replyguard(&["eval", "--model", model_s, "--data", data_s, "--json"]);
    assert!(
        eval.status.success(),
        "{}",
        String::from_utf8_lossy(&eval.stderr)
    );
    let metrics: serde_json::Value = serde_json::from_slice(&eval.stdout).unwrap();
    for key in [
        "n",
        "tp",
        "fp",
        "tn",
        "fn",
        "precision",
        "recall",
        "f1",
        "mcc",
        "fpr",
        "auc",
        "three_way",
    ] {
        assert!(
            metrics.get(key).is_some(),
            "eval --json lacks {key}: {metrics}"
        );
    }
    assert_eq!(metrics["n"], 36);
    assert!(metrics["auc"].as_f64().unwrap() > 0.9, "{metrics}");

    let report = replyguard(&["eval", "--model", model_s, "--data", data_s]);
    let report = String::from_utf8_lossy(&report.stdout);
    assert!(
        report.contains("MCC") && report.contains("three-way"),
        "{report}"
    );

    let classify = replyguard(&[
        "classify",
        "--model",
        model_s,
        "FREE gift cards, subscribe to my channel!!!",
    ]);
    let out = String::from_utf8_lossy(&classify.stdout);
    assert!(classify.status.success());
    assert!(
        out.contains("decision spam") || out.contains("decision unsure"),
        "{out}"
    );
}

/// A model of two corpora serves a site without labels of its own at the
/// spam threshold the corpora need when each is held out (`eval` reports
/// that, and the calibrated threshold's figures beside it); a model of one
/// corpus has no other.
#[test]
fn a_model_of_two_corpora_is_evaluated_at_its_new_site_threshold_and_its_calibrated_one() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.jsonl");
    write_training_file(&first);
    // A second corpus whose ham talks like the first one's spam, and whose
    // spam like its ham.
    let second = dir.path().join("second.jsonl");
    let mut lines = String::new();
    for i in 0..12 {
        for (text, label) in [
            (
                format!("subscribe to my channel for free gift cards {i}"),
                "ham",
            ),
            (
                format!("click here http://cash.example.org, day {i}"),
                "ham",
            ),
            (format!("I love this song, it reminds me of {i}"), "spam"),
        ] {
            lines.push_str(&serde_json::json!({"text": text, "label": label}).to_string());
            lines.push('\n');
        }
    }
    std::fs::write(&second, lines).unwrap();
    let model = dir.path().join("two.json");
    let trained = train(&first, &model, &["--data", second.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&trained.stdout);
    assert!(
        trained.status.success(),
        "{}",
        String::from_utf8_lossy(&trained.stderr)
    );
    let new_site: f64 = stdout
        .split("spam for a new site ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("{stdout}"));
    let calibrated: f64 = stdout
        .split("thresholds spam ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(new_site > calibrated, "{stdout}");

    let eval = replyguard(&[
        "eval",
        "--model",
        model.to_str().unwrap(),
        "--data",
        second.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        eval.status.success(),
        "{}",
        String::from_utf8_lossy(&eval.stderr)
    );
    let metrics: serde_json::Value = serde_json::from_slice(&eval.stdout).unwrap();
    let threshold = |m: &serde_json::Value| m["spam_threshold"].as_f64().unwrap();
    assert!((threshold(&metrics) - new_site).abs() < 1e-4, "{metrics}");
    assert!(
        (threshold(&metrics["calibrated"]) - calibrated).abs() < 1e-4,
        "{metrics}"
    );
    assert_eq!(metrics["calibrated"]["n"], 36);
    // Fewer called spam at the higher threshold, never more.
    let count = |m: &serde_json::Value, key: &str| m[key].as_u64().unwrap();
    assert!(count(&metrics, "tp") <= count(&metrics["calibrated"], "tp"));
    assert!(count(&metrics, "fp") <= count(&metrics["calibrated"], "fp"));

    let one = dir.path().join("one.json");
    let trained = train(&first, &one, &["--folds", "3"]);
    assert!(trained.status.success());
    assert!(!String::from_utf8_lossy(&trained.stdout).contains("new site"));
    let eval = replyguard(&[
        "eval",
        "--model",
        one.to_str().unwrap(),
        "--data",
        first.to_str().unwrap(),
        "--json",
    ]);
    let metrics: serde_json::Value = serde_json::from_slice(&eval.stdout).unwrap();
    assert!(metrics.get("calibrated").is_none(), "{metrics}");
}

#[test]
fn a_bad_row_is_reported_with_its_line_number() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("bad.jsonl");
    std::fs::write(
        &data,
        "{\"text\": \"fine\", \"label\": \"ham\"}\n\n{\"text\": \"x\", \"label\": \"maybe\"}\n",
    )
    .unwrap();
    let out = dir.path().join("m.json");

    let train = train(&data, &out, &[]);

    assert!(!train.status.success());
    let stderr = String::from_utf8_lossy(&train.stderr);
    assert!(
        stderr.contains("bad.jsonl:3:") && stderr.contains("maybe"),
        "{stderr}"
    );
    assert!(!out.exists());
}

#[test]
fn calibration_refuses_one_fold_and_classify_refuses_empty_text() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("train.jsonl");
    write_training_file(&data);
    let out = dir.path().join("m.json");
    let train = train(&data, &out, &["--folds", "1"]);
    assert!(!train.status.success());
    assert!(String::from_utf8_lossy(&train.stderr).contains("at least 2 folds"));
    assert!(!out.exists());
    let classify = replyguard(&["classify", "  "]);
    assert!(!classify.status.success());
    assert!(String::from_utf8_lossy(&classify.stderr).contains("empty"));
}

#[test]
fn a_damaged_model_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("broken.json");
    std::fs::write(&model, "{\"format\": \"something-else\"}").unwrap();

    let classify = replyguard(&["classify", "--model", model.to_str().unwrap(), "hi"]);

    assert!(!classify.status.success());
    assert!(String::from_utf8_lossy(&classify.stderr).contains("not a replyguard model"));
}

fn replyguard_on(db: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_replyguard"))
        .args(args)
        .env("DATABASE_URL", format!("sqlite://{}", db.display()))
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

#[test]
fn tokens_are_shown_once_stored_hashed_and_revocable() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rg.db");

    let created = replyguard_on(&db, &["token", "create", "alice"]);
    let duplicate = replyguard_on(&db, &["token", "create", "alice"]);
    let listed = replyguard_on(&db, &["token", "list"]);
    let revoked = replyguard_on(&db, &["token", "revoke", "alice"]);
    let revoked_again = replyguard_on(&db, &["token", "revoke", "alice"]);
    let reused = replyguard_on(&db, &["token", "create", "alice"]);
    let reserved = replyguard_on(&db, &["token", "create", "Bootstrap"]);

    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let token = String::from_utf8_lossy(&created.stdout).trim().to_owned();
    assert!(token.starts_with("rg_"), "{token}");
    assert!(!duplicate.status.success());
    let listing = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listing.contains("alice") && !listing.contains(&token),
        "{listing}"
    );
    assert!(revoked.status.success());
    assert!(!revoked_again.status.success());
    // Names stay taken after revocation, and the bootstrap token's actor name
    // is reserved, so the audit trail never names two tokens alike.
    assert!(!reused.status.success());
    assert!(String::from_utf8_lossy(&reused.stderr).contains("names stay taken"));
    assert!(!reserved.status.success());
    assert!(String::from_utf8_lossy(&reserved.stderr).contains("reserved"));
    let raw = std::fs::read(&db).unwrap();
    let needle = token.as_bytes();
    assert!(
        !raw.windows(needle.len()).any(|w| w == needle),
        "the token itself is stored"
    );
}

#[test]
fn import_stores_examples_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rg.db");
    let data = dir.path().join("labelled.jsonl");
    std::fs::write(
        &data,
        "{\"content\": \"cheap pills\", \"label\": \"spam\"}\n{\"text\": \"nice post\", \"label\": \"ham\"}\n",
    )
    .unwrap();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"content\": \"ok\", \"label\": \"ham\"}\n{\"content\": \"x\"}\n",
    )
    .unwrap();

    let first = replyguard_on(&db, &["import", data.to_str().unwrap()]);
    let second = replyguard_on(&db, &["import", data.to_str().unwrap()]);
    let rejected = replyguard_on(&db, &["import", bad.to_str().unwrap()]);

    assert_eq!(
        String::from_utf8_lossy(&first.stdout).trim(),
        "imported 2, skipped 0 duplicate(s)"
    );
    assert_eq!(
        String::from_utf8_lossy(&second.stdout).trim(),
        "imported 0, skipped 2 duplicate(s)"
    );
    assert!(!rejected.status.success());
    assert!(
        String::from_utf8_lossy(&rejected.stderr).contains("line 2"),
        "{}",
        String::from_utf8_lossy(&rejected.stderr)
    );
}

#[test]
fn retrain_trains_on_imported_examples_and_reports_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rg.db");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/youtube-test.jsonl");

    // A mistyped path is refused, not made into a new, empty database.
    let missing = replyguard_on(&db, &["retrain", "--no-base-data"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("does not exist"));
    assert!(!db.exists());
    assert!(replyguard_on(&db, &["migrate"]).status.success());
    let few = replyguard_on(&db, &["retrain", "--no-base-data"]);
    let imported = replyguard_on(&db, &["import", data.to_str().unwrap()]);
    let retrained = replyguard_on(&db, &["retrain", "--no-base-data", "--always"]);

    assert!(!few.status.success());
    assert!(String::from_utf8_lossy(&few.stderr).contains("Not enough labelled examples"));
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    assert!(
        retrained.status.success(),
        "{}",
        String::from_utf8_lossy(&retrained.stderr)
    );
    let outcome: serde_json::Value = serde_json::from_slice(&retrained.stdout).unwrap();
    assert_eq!(outcome["status"], "succeeded", "{outcome}");
    assert_eq!(outcome["activated"], true, "{outcome}");
    // About 230 ham are too few to show a 1% false-positive rate with 95%
    // confidence, so the spam threshold sits above every held-out ham and MCC
    // at it is modest; the ranking itself must be good.
    assert!(
        outcome["metrics"]["auc"].as_f64().is_some_and(|a| a > 0.9),
        "{outcome}"
    );
    assert!(
        outcome["metrics"]["fpr"].as_f64().is_some_and(|f| f < 0.05),
        "{outcome}"
    );

    // `eval --active` evaluates that model, as the service now scores.
    let version = outcome["model_version"].as_str().unwrap();
    let active = replyguard_on(&db, &["eval", "--active", "--data", data.to_str().unwrap()]);
    assert!(
        active.status.success(),
        "{}",
        String::from_utf8_lossy(&active.stderr)
    );
    let report = String::from_utf8_lossy(&active.stdout);
    assert!(
        report.starts_with(&format!("model {version} on ")),
        "{report}"
    );
    // A database that does not exist (a mistyped path) is refused, not
    // created and reported as the built-in model.
    let fresh = dir.path().join("fresh.db");
    let missing = replyguard_on(
        &fresh,
        &["eval", "--active", "--data", data.to_str().unwrap()],
    );
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("does not exist"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
    assert!(!fresh.exists());
    // A new database whose site never activated a model has the built-in one.
    assert!(replyguard_on(&fresh, &["migrate"]).status.success());
    let built_in = replyguard_on(
        &fresh,
        &["eval", "--active", "--data", data.to_str().unwrap()],
    );
    assert!(
        String::from_utf8_lossy(&built_in.stdout).starts_with("model spam_nb-v1 on "),
        "{}",
        String::from_utf8_lossy(&built_in.stderr)
    );
    let both = replyguard_on(
        &db,
        &["eval", "--active", "--model", "x.json", "--data", "d"],
    );
    assert!(!both.status.success());
}

#[test]
fn replay_prints_a_learning_curve() {
    let dir = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/youtube-test.jsonl");
    let lines: Vec<String> = std::fs::read_to_string(&data)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let base = dir.path().join("base.jsonl");
    let site = dir.path().join("site.jsonl");
    std::fs::write(&base, lines[..300].join("\n")).unwrap();
    std::fs::write(&site, lines[300..].join("\n")).unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_replyguard"))
        .args([
            "replay",
            "--data",
            site.to_str().unwrap(),
            "--base",
            base.to_str().unwrap(),
        ])
        .args(["--orders", "2", "--at", "80,0,80", "--holdout", "100"])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("2 order(s), the last 100 of each order held out"),
        "{stdout}"
    );
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("| 0 |") || l.starts_with("| 80 |"))
        .collect();
    // `--at 80,0,80`: each k once, from the fewest labels up.
    assert_eq!(rows.len(), 2, "{stdout}");
    assert!(rows[0].starts_with("| 0 |"), "{stdout}");
    // Day one is the base model, never a site model.
    assert!(rows[0].ends_with("| 0 of 2 |"), "{stdout}");
    // Each figure is a number.
    let mcc: f64 = rows[1].split('|').nth(2).unwrap().trim().parse().unwrap();
    assert!((-1.0..=1.0).contains(&mcc), "{stdout}");
    // Spam published without a moderator, next to recall: a share of spam.
    assert!(
        stdout.contains("| spam recall | spam published | unsure |"),
        "{stdout}"
    );
    let share = |row: &str, column: usize| -> f64 {
        let cell = row.split('|').nth(column).unwrap().trim();
        cell.strip_suffix('%').unwrap_or(cell).parse().unwrap()
    };
    for row in &rows {
        let (recall, published) = (share(row, 4), share(row, 5));
        assert!((0.0..=100.0).contains(&published), "{stdout}");
        // Spam marked spam and spam published are disjoint parts of the spam.
        assert!(recall * 100.0 + published <= 100.0 + 1e-9, "{stdout}");
    }

    let too_few = replyguard(&["replay", "--data", site.to_str().unwrap(), "--at", "500"]);
    assert!(!too_few.status.success());
    assert!(String::from_utf8_lossy(&too_few.stderr).contains("too few"));
    let no_holdout = replyguard(&["replay", "--data", site.to_str().unwrap(), "--holdout", "0"]);
    assert!(String::from_utf8_lossy(&no_holdout.stderr).contains("--holdout must be at least 1"));
    // One class has no learning curve: as data, as held-out part, as base.
    let ham = dir.path().join("ham.jsonl");
    let ham_lines: Vec<&str> = lines
        .iter()
        .filter(|l| l.contains("\"label\": \"ham\""))
        .map(String::as_str)
        .collect();
    std::fs::write(&ham, ham_lines.join("\n")).unwrap();
    for args in [
        vec![
            "--data",
            ham.to_str().unwrap(),
            "--holdout",
            "20",
            "--at",
            "0",
        ],
        vec![
            "--data",
            site.to_str().unwrap(),
            "--base",
            ham.to_str().unwrap(),
            "--at",
            "0",
        ],
    ] {
        let one_class = replyguard(&[&["replay"], args.as_slice()].concat());
        assert!(!one_class.status.success());
        let stderr = String::from_utf8_lossy(&one_class.stderr);
        assert!(
            stderr.contains("0 spam") && stderr.contains("ham.jsonl"),
            "{stderr}"
        );
    }
}
