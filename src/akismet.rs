//! Akismet's protocol (SPEC §8) over replyguard's own model and rules, so that
//! a site keeps its Akismet plugin or library and no reader's data leaves its
//! servers. No HTTP here ([`crate::routes::akismet`] speaks it):
//! [`check`] answers `comment-check` in memory (model, keyword lists,
//! honeypot, links: the rules of `POST /api/v1/comments`, and nothing is
//! stored), [`submit`] stores `submit-spam`/`submit-ham` as labelled examples
//! (source `akismet`), which the next retraining learns from.

use crate::classifier::ScoringInput;
use crate::domain::comment::visible;
use crate::domain::dataset::LabelledExample;
use crate::domain::links::count_links;
use crate::domain::{Signals, Status, decide};
use crate::state::AppState;
use crate::storage::{self, StorageError, training};

/// Akismet's documented test author: always spam.
pub const TEST_SPAM_AUTHOR: &str = "viagra-test-123";
/// Akismet's documented test email: always spam.
pub const TEST_SPAM_EMAIL: &str = "akismet-guaranteed-spam@example.com";

/// Akismet's own parameters, which `honeypot_field_name` cannot name.
const AKISMET_FIELDS: [&str; 21] = [
    "api_key",
    "key",
    "blog",
    "user_ip",
    "user_agent",
    "referrer",
    "permalink",
    "comment_type",
    "comment_author",
    "comment_author_email",
    "comment_author_url",
    "comment_content",
    "comment_date_gmt",
    "comment_post_modified_gmt",
    "blog_lang",
    "blog_charset",
    "user_role",
    "is_test",
    "recheck_reason",
    "honeypot_field_name",
    "comment_context[]",
];

/// The parameters of a `comment-check`, `submit-spam` or `submit-ham` (any
/// other parameter a client sends is ignored).
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub blog: Option<String>,
    pub user_ip: Option<String>,
    pub user_agent: Option<String>,
    pub comment_author: Option<String>,
    pub comment_author_email: Option<String>,
    pub comment_author_url: Option<String>,
    pub comment_content: Option<String>,
    pub user_role: Option<String>,
    /// `is_test=1` (or `true`): answer as usual, train nothing.
    pub is_test: bool,
    /// The field `honeypot_field_name` names was filled in.
    pub honeypot: bool,
}

impl Report {
    /// Reads Akismet's parameters; when a name repeats, the first value counts.
    pub fn from_params(params: &[(String, String)]) -> Self {
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        // The trap is a field of the site's form, never one of Akismet's own
        // (a plugin naming `blog` would otherwise discard every comment), and
        // a value that shows nothing is empty, as on the comment endpoint.
        let honeypot = get("honeypot_field_name")
            .filter(|field| !AKISMET_FIELDS.contains(&field.as_str()))
            .and_then(|field| get(&field))
            .is_some_and(|value| visible(Some(&value)).is_some());
        Self {
            blog: get("blog"),
            user_ip: get("user_ip"),
            user_agent: get("user_agent"),
            comment_author: get("comment_author"),
            comment_author_email: get("comment_author_email"),
            comment_author_url: get("comment_author_url"),
            comment_content: get("comment_content"),
            user_role: get("user_role"),
            is_test: get("is_test").is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true")),
            honeypot,
        }
    }

    /// The first required field that is missing (`blog`, `user_ip`).
    pub fn missing_field(&self) -> Option<&'static str> {
        if self.blog.is_none() {
            Some("blog")
        } else if self.user_ip.is_none() {
            Some("user_ip")
        } else {
            None
        }
    }
}

/// What `comment-check` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ham,
    /// Spam; `discard` when blatant (a score at or above
    /// `REPLYGUARD_DISCARD_THRESHOLD`, a filled honeypot or a disallowed
    /// keyword), which Akismet signals with `X-akismet-pro-tip: discard`.
    Spam {
        discard: bool,
    },
}

/// Scores a report with the active model and the comment endpoint's rules.
pub fn check(state: &AppState, report: &Report) -> Verdict {
    if report.user_role.as_deref() == Some("administrator") {
        return Verdict::Ham;
    }
    if report.comment_author.as_deref() == Some(TEST_SPAM_AUTHOR)
        || report
            .comment_author_email
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(TEST_SPAM_EMAIL))
    {
        return Verdict::Spam { discard: false };
    }
    let text = report.comment_content.as_deref().unwrap_or("");
    let model = state.model.current();
    let score = model.score(&ScoringInput {
        text,
        author_name: report.comment_author.as_deref(),
        author_email: report.comment_author_email.as_deref(),
        author_url: report.comment_author_url.as_deref(),
    });
    let keywords = state.keywords.current().check(&[
        report.comment_author.as_deref().unwrap_or(""),
        report.comment_author_email.as_deref().unwrap_or(""),
        report.comment_author_url.as_deref().unwrap_or(""),
        text,
        report.user_ip.as_deref().unwrap_or(""),
        report.user_agent.as_deref().unwrap_or(""),
    ]);
    let blatant = score.spam_probability >= state.settings.discard_threshold
        || report.honeypot
        || keywords.disallowed.is_some();
    let decision = decide(
        &Signals {
            score: Some(score.spam_probability),
            model_reasons: Vec::new(),
            honeypot: report.honeypot,
            links: count_links(text),
            max_links: state.settings.max_links,
            known_author: false,
            disallowed_keyword: keywords.disallowed,
            moderation_keyword: keywords.moderation,
        },
        state.settings.thresholds(model.thresholds()),
        state.settings.moderation,
    );
    if decision.status == Status::Spam {
        Verdict::Spam { discard: blatant }
    } else {
        Verdict::Ham
    }
}

/// Stores a report as a labelled example (source `akismet`), unless it is a
/// test or has no text. Returns whether a new example was stored (a text
/// already stored with the same label is not stored twice).
///
/// # Errors
/// The database failing.
pub async fn submit(
    state: &AppState,
    report: &Report,
    is_spam: bool,
) -> Result<bool, StorageError> {
    if report.is_test {
        return Ok(false);
    }
    let Some(example) = LabelledExample::reported(
        report.comment_content.as_deref().unwrap_or(""),
        report.comment_author.as_deref(),
        report.comment_author_email.as_deref(),
        report.comment_author_url.as_deref(),
        is_spam,
    ) else {
        return Ok(false);
    };
    let now = storage::now();
    let (imported, _) = state
        .db
        .run(move |conn| training::import(conn, &[example], training::SOURCE_AKISMET, now))
        .await?;
    Ok(imported > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn reads_akismet_parameters_and_the_named_honeypot() {
        let report = Report::from_params(&params(&[
            ("blog", "https://blog.example"),
            ("user_ip", "203.0.113.7"),
            ("comment_content", " Hi "),
            ("comment_content", "second value is ignored"),
            ("honeypot_field_name", "hp"),
            ("hp", "filled by a bot"),
            ("is_test", "true"),
            ("POST_foo", "ignored"),
        ]));
        assert_eq!(report.comment_content.as_deref(), Some("Hi"));
        assert!(report.honeypot && report.is_test);
        assert_eq!(report.missing_field(), None);

        let empty_trap = Report::from_params(&params(&[
            ("honeypot_field_name", "hp"),
            ("hp", ""),
            ("is_test", "0"),
        ]));
        assert!(!empty_trap.honeypot && !empty_trap.is_test);
        assert_eq!(empty_trap.missing_field(), Some("blog"));
        let no_ip = Report::from_params(&params(&[("blog", "b")]));
        assert_eq!(no_ip.missing_field(), Some("user_ip"));
    }
}
