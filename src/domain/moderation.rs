//! Comment statuses and the moderation decision of SPEC §5, as pure functions:
//! the same signals always give the same status and reasons.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a comment stands in moderation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Approved,
    Spam,
    Trash,
}

impl Status {
    /// Every status, in the order SPEC §5 lists them.
    pub const ALL: [Self; 4] = [Self::Pending, Self::Approved, Self::Spam, Self::Trash];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Spam => "spam",
            Self::Trash => "trash",
        }
    }

    /// What the submitter is told: a comment caught as spam is reported as
    /// `pending`, so the public never learns that it was caught.
    pub fn as_public(self) -> Self {
        match self {
            Self::Approved => Self::Approved,
            Self::Pending | Self::Spam | Self::Trash => Self::Pending,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown status name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status `{0}`: expected pending, approved, spam or trash")]
pub struct UnknownStatus(pub String);

impl FromStr for Status {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// What happens to a comment that no rule holds or rejects
/// (`REPLYGUARD_MODERATION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ModerationPolicy {
    /// Every comment waits for a moderator.
    Manual,
    /// Published if the same email already has an approved comment.
    #[default]
    KnownAuthors,
    /// Published at once.
    Auto,
}

/// Score cut-offs (`REPLYGUARD_SPAM_THRESHOLD`, `REPLYGUARD_HAM_THRESHOLD`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// At or above: spam.
    pub spam: f64,
    /// At or above (and below `spam`): held for a moderator whatever the policy.
    pub ham: f64,
}

/// Everything the decision looks at, gathered before it is made.
#[derive(Debug, Clone, PartialEq)]
pub struct Signals {
    /// Spam probability from the model, with the reasons it gives (e.g. the
    /// tokens that pushed the score most); `None` when no model scored it.
    pub score: Option<f64>,
    /// Reasons from the model, appended after the decision's own.
    pub model_reasons: Vec<String>,
    /// The hidden honeypot field was filled in.
    pub honeypot: bool,
    /// Links found in the comment text.
    pub links: usize,
    /// Most links allowed before the comment is held (`REPLYGUARD_MAX_LINKS`).
    pub max_links: usize,
    /// The same email already has an approved comment.
    pub known_author: bool,
    /// A disallowed keyword found in the comment (→ spam).
    pub disallowed_keyword: Option<String>,
    /// A moderation keyword found in the comment (→ held).
    pub moderation_keyword: Option<String>,
}

/// The outcome: the status to store and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub status: Status,
    pub reasons: Vec<String>,
}

/// Decides a comment's status as SPEC §5 orders the rules: spam signals first,
/// then the hold rules, then the policy.
pub fn decide(signals: &Signals, thresholds: Thresholds, policy: ModerationPolicy) -> Decision {
    let mut reasons = Vec::new();
    if let Some(score) = signals.score {
        reasons.push(format!("bayes:{score:.2}"));
    }
    let mut spam = false;
    if signals.honeypot {
        reasons.push("honeypot".to_owned());
        spam = true;
    }
    if let Some(keyword) = &signals.disallowed_keyword {
        reasons.push(format!("keyword:{keyword}"));
        spam = true;
    }
    if signals.score.is_some_and(|s| s >= thresholds.spam) {
        spam = true;
    }
    let status = if spam {
        Status::Spam
    } else {
        let mut hold = false;
        if let Some(keyword) = &signals.moderation_keyword {
            reasons.push(format!("moderation_keyword:{keyword}"));
            hold = true;
        }
        if signals.links > signals.max_links {
            reasons.push(format!("links:{}>{}", signals.links, signals.max_links));
            hold = true;
        }
        if signals.score.is_some_and(|s| s >= thresholds.ham) {
            reasons.push("unsure".to_owned());
            hold = true;
        }
        if signals.score.is_none() {
            reasons.push("unscored".to_owned());
            hold = true;
        }
        if hold {
            Status::Pending
        } else {
            by_policy(policy, signals.known_author, &mut reasons)
        }
    };
    reasons.extend(signals.model_reasons.iter().cloned());
    Decision { status, reasons }
}

fn by_policy(policy: ModerationPolicy, known_author: bool, reasons: &mut Vec<String>) -> Status {
    match policy {
        ModerationPolicy::Manual => {
            reasons.push("manual".to_owned());
            Status::Pending
        }
        ModerationPolicy::KnownAuthors if known_author => {
            reasons.push("known_author".to_owned());
            Status::Approved
        }
        ModerationPolicy::KnownAuthors => {
            reasons.push("first_comment".to_owned());
            Status::Pending
        }
        ModerationPolicy::Auto => Status::Approved,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Thresholds = Thresholds {
        spam: 0.9,
        ham: 0.5,
    };

    fn signals(score: Option<f64>) -> Signals {
        Signals {
            score,
            model_reasons: vec![],
            honeypot: false,
            links: 0,
            max_links: 2,
            known_author: false,
            disallowed_keyword: None,
            moderation_keyword: None,
        }
    }

    #[test]
    fn status_round_trips_through_its_name() {
        for status in Status::ALL {
            assert_eq!(status.as_str().parse::<Status>(), Ok(status));
        }
        assert!("deleted".parse::<Status>().is_err());
    }

    #[test]
    fn spam_is_reported_publicly_as_pending() {
        assert_eq!(Status::Spam.as_public(), Status::Pending);
        assert_eq!(Status::Approved.as_public(), Status::Approved);
    }

    #[test]
    fn decision_table() {
        use ModerationPolicy::*;
        let known = Signals {
            known_author: true,
            ..signals(Some(0.1))
        };
        let honeypot = Signals {
            honeypot: true,
            ..signals(Some(0.1))
        };
        let links = Signals {
            links: 4,
            ..signals(Some(0.1))
        };
        let banned = Signals {
            disallowed_keyword: Some("casino".into()),
            ..signals(Some(0.1))
        };
        let held = Signals {
            moderation_keyword: Some("hold".into()),
            ..signals(Some(0.1))
        };
        let cases = [
            (
                "high score",
                signals(Some(0.95)),
                Auto,
                Status::Spam,
                "bayes:0.95",
            ),
            ("honeypot", honeypot, Auto, Status::Spam, "honeypot"),
            (
                "unsure score",
                signals(Some(0.6)),
                Auto,
                Status::Pending,
                "unsure",
            ),
            ("too many links", links, Auto, Status::Pending, "links:4>2"),
            (
                "disallowed keyword",
                banned,
                Auto,
                Status::Spam,
                "keyword:casino",
            ),
            (
                "moderation keyword",
                held,
                Auto,
                Status::Pending,
                "moderation_keyword:hold",
            ),
            ("no model", signals(None), Auto, Status::Pending, "unscored"),
            (
                "manual",
                signals(Some(0.1)),
                Manual,
                Status::Pending,
                "manual",
            ),
            (
                "first comment",
                signals(Some(0.1)),
                KnownAuthors,
                Status::Pending,
                "first_comment",
            ),
            (
                "known author",
                known,
                KnownAuthors,
                Status::Approved,
                "known_author",
            ),
            (
                "auto",
                signals(Some(0.1)),
                Auto,
                Status::Approved,
                "bayes:0.10",
            ),
        ];
        for (case, input, policy, status, reason) in cases {
            let decision = decide(&input, T, policy);
            assert_eq!(decision.status, status, "case {case}");
            assert!(
                decision.reasons.iter().any(|r| r == reason),
                "case {case}: {:?} lacks {reason}",
                decision.reasons
            );
        }
    }
}
