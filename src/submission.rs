//! The submission workflow (`POST /api/v1/comments` without the HTTP): a raw
//! comment and who sent it → validated → scored → checked against the
//! database → decided → stored; or a [`Refusal`].
//!
//! Scoring and keyword checks run in memory before the database is asked. The
//! checks that read the database (reply target, duplicate, flood) and the
//! insert run in one transaction holding the submitter's lock, so that
//! concurrent requests on any instance sharing the database cannot both slip
//! through; flood control reads the database's clock, so instances whose
//! clocks differ agree.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::classifier::ScoringInput;
use crate::domain::links::count_links;
use crate::domain::submission::{Refusal, flood_retry_after, parent_refused};
use crate::domain::{
    CommentDraft, CommentId, Decision, ModerationPolicy, RawComment, Signals, Status, Thresholds,
    decide,
};
use crate::metrics::{OutcomeLabels, ReasonLabels};
use crate::state::AppState;
use crate::storage::records::NewCommentRecord;
use crate::storage::submissions::{Submission, SubmissionQueue, Submitted};
use crate::storage::{self, Constraint, DbConn, StorageError, comments};

/// Who sent a submission: recorded with the comment.
#[derive(Debug, Clone, Default)]
pub struct Submitter {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub referrer: Option<String>,
}

/// What the submitter learns about a stored comment.
#[derive(Debug)]
pub struct Accepted {
    pub id: CommentId,
    pub post_id: String,
    /// The stored status (a caller shows the public one, [`Status::as_public`]).
    pub status: Status,
    pub created_at: DateTime<Utc>,
}

/// Why a submission was not stored.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("the submission was refused")]
    Refused(Refusal),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<Refusal> for SubmitError {
    fn from(refusal: Refusal) -> Self {
        Self::Refused(refusal)
    }
}

/// Validates, scores, checks, decides and stores one submission.
///
/// # Errors
/// A [`Refusal`] (invalid, duplicate, too soon), or the database failing.
pub async fn submit(
    state: &AppState,
    raw: RawComment,
    submitter: Submitter,
) -> Result<Accepted, SubmitError> {
    let draft = CommentDraft::try_from(raw).map_err(Refusal::Invalid)?;
    let model = state.model.current();
    let scoring = Instant::now();
    let score = model.score(&ScoringInput {
        text: draft.content.as_str(),
        author_name: Some(draft.author_name.as_str()),
        author_email: Some(draft.author_email.as_str()),
        author_url: draft.author_url.as_ref().map(|u| u.as_str()),
    });
    let metrics = &state.metrics;
    metrics
        .scoring_seconds
        .observe(scoring.elapsed().as_secs_f64());
    let ip = submitter.ip.map(|ip| ip.to_string());
    let keywords = state.keywords.current().check(&[
        draft.author_name.as_str(),
        draft.author_email.as_str(),
        draft.author_url.as_ref().map_or("", |u| u.as_str()),
        draft.content.as_str(),
        ip.as_deref().unwrap_or(""),
        submitter.user_agent.as_deref().unwrap_or(""),
    ]);
    let signals = Signals {
        score: Some(score.spam_probability),
        model_reasons: score.reasons(),
        honeypot: draft.honeypot,
        links: count_links(draft.content.as_str()),
        max_links: state.settings.max_links,
        known_author: false,
        disallowed_keyword: keywords.disallowed,
        moderation_keyword: keywords.moderation,
    };
    let thresholds = state.settings.thresholds(model.thresholds());
    let policy = state.settings.moderation;
    let flood_seconds = state.settings.flood_seconds;
    let model_version = model.version().to_owned();
    let fingerprints = draft.content.fingerprints();

    let prepared = Prepared {
        draft,
        submitter,
        ip,
        signals,
        thresholds,
        policy,
        flood_seconds,
        model_version,
        fingerprints,
        score: score.spam_probability,
    };
    let stored = if let Some(queue) = &state.submissions {
        // PostgreSQL: committed together with what else is waiting.
        store_in_one_statement(queue, state.db.call_patience() * 2, prepared).await?
    } else {
        state
            .db
            .write(move |conn| {
                Ok(storage::transaction(conn, |conn| {
                    store_in_transaction(conn, prepared)
                }))
            })
            .await?
    };
    let (accepted, reasons) = match stored {
        // The parent was erased between the check and the insert.
        Err(SubmitError::Storage(StorageError::Constraint(Constraint::ForeignKey))) => {
            return Err(parent_refused().into());
        }
        Err(SubmitError::Refused(refusal)) => {
            match &refusal {
                Refusal::Duplicate => metrics.refused("duplicate"),
                Refusal::TooSoon { .. } => metrics.refused("flood"),
                Refusal::Invalid(_) => {}
            }
            return Err(refusal.into());
        }
        other => other?,
    };
    if accepted.status == Status::Approved {
        // Readers of this instance see it at once; others by the version poll.
        state.public.invalidate_post(&accepted.post_id);
    }
    metrics.spam_score.observe(score.spam_probability);
    metrics
        .decisions
        .get_or_create(&OutcomeLabels {
            outcome: accepted.status.as_str().to_owned(),
        })
        .inc();
    for reason in reasons {
        // The kind only (`keyword`, not `keyword:casino`): labels stay bounded.
        let kind = reason.split(':').next().unwrap_or_default().to_owned();
        metrics
            .decision_reasons
            .get_or_create(&ReasonLabels { reason: kind })
            .inc();
    }
    let span = tracing::Span::current();
    span.record("comment_id", accepted.id.0);
    span.record("status", accepted.status.as_str());
    tracing::info!("comment stored");
    Ok(accepted)
}

/// A submission validated and scored, ready for the checks that read the
/// database and the insert.
struct Prepared {
    draft: CommentDraft,
    submitter: Submitter,
    ip: Option<String>,
    signals: Signals,
    thresholds: Thresholds,
    policy: ModerationPolicy,
    flood_seconds: u64,
    model_version: String,
    fingerprints: Vec<String>,
    score: f64,
}

impl Prepared {
    /// The row to insert with `status` and `reasons` (JSON), made at `now`.
    fn row<'a>(
        &'a self,
        status: Status,
        reasons: &'a str,
        now: NaiveDateTime,
    ) -> NewCommentRecord<'a> {
        let draft = &self.draft;
        NewCommentRecord {
            post_id: draft.post_id.as_str(),
            parent_id: draft.parent_id.map(|p| p.0),
            status: status.as_str(),
            author_name: draft.author_name.as_str(),
            author_email: draft.author_email.as_str(),
            author_url: draft.author_url.as_ref().map(|u| u.as_str()),
            content: draft.content.as_str(),
            permalink: draft.permalink.as_ref().map(|p| p.as_str()),
            ip: self.ip.as_deref(),
            user_agent: self.submitter.user_agent.as_deref(),
            referrer: self.submitter.referrer.as_deref(),
            spam_score: Some(self.score),
            model_version: Some(&self.model_version),
            reasons,
            created_at: now,
            updated_at: now,
            content_fingerprint: &self.fingerprints[0],
        }
    }

    fn accepted(&self, id: CommentId, decision: Decision, at: NaiveDateTime) -> Stored {
        Ok((
            Accepted {
                id,
                post_id: self.draft.post_id.as_str().to_owned(),
                status: decision.status,
                created_at: at.and_utc(),
            },
            decision.reasons,
        ))
    }
}

/// A stored comment with the reasons for its status, or why it was refused.
type Stored = Result<(Accepted, Vec<String>), SubmitError>;

/// PostgreSQL: one statement for this submission and whatever else is
/// waiting (group commit: [`submissions::queue`]). The decision is made for
/// both answers to "is this a known author?" and the database stores the one
/// that holds.
async fn store_in_one_statement(
    queue: &SubmissionQueue,
    patience: Duration,
    p: Prepared,
) -> Result<Stored, StorageError> {
    let known = decide(
        &Signals {
            known_author: true,
            ..p.signals.clone()
        },
        p.thresholds,
        p.policy,
    );
    let new = decide(&p.signals, p.thresholds, p.policy);
    let draft = &p.draft;
    let submission = Submission {
        post_id: draft.post_id.as_str().to_owned(),
        parent_id: draft.parent_id.map(|id| id.0),
        email: draft.author_email.as_str().to_owned(),
        ip: p.ip.clone(),
        lock_ip: p.flood_seconds > 0,
        fingerprints: p.fingerprints.clone(),
        flood_seconds: p.flood_seconds,
        status_known: known.status.as_str().to_owned(),
        reasons_known: serde_json::to_string(&known.reasons).map_err(StorageError::Encode)?,
        status_new: new.status.as_str().to_owned(),
        reasons_new: serde_json::to_string(&new.reasons).map_err(StorageError::Encode)?,
        author_name: draft.author_name.as_str().to_owned(),
        author_url: draft.author_url.as_ref().map(|u| u.as_str().to_owned()),
        content: draft.content.as_str().to_owned(),
        permalink: draft.permalink.as_ref().map(|u| u.as_str().to_owned()),
        user_agent: p.submitter.user_agent.clone(),
        referrer: p.submitter.referrer.clone(),
        spam_score: Some(p.score),
        model_version: Some(p.model_version.clone()),
        fingerprint: p.fingerprints[0].clone(),
    };
    let answer = match queue.submit(submission, patience).await {
        // The parent was erased between the check and the insert.
        Err(StorageError::Constraint(Constraint::ForeignKey)) => {
            return Ok(Err(parent_refused().into()));
        }
        other => other?,
    };
    Ok(match answer {
        Submitted::Stored {
            id,
            created_at,
            known_author,
        } => p.accepted(id, if known_author { known } else { new }, created_at),
        Submitted::ParentRefused => Err(parent_refused().into()),
        Submitted::Duplicate => Err(Refusal::Duplicate.into()),
        Submitted::Flooded { now, latest } => {
            let retry_after = flood_retry_after(now, Some(latest), p.flood_seconds).unwrap_or(1);
            Err(Refusal::TooSoon { retry_after }.into())
        }
    })
}

/// SQLite (inside the writer's transaction): the same checks, one query each,
/// holding the write lock.
fn store_in_transaction(conn: &mut DbConn, p: Prepared) -> Stored {
    let email = p.draft.author_email.as_str();
    let post_id = p.draft.post_id.as_str();
    let parent_id = p.draft.parent_id.map(|id| id.0);
    // The IP lock serves flood control only: without it, every submission
    // from one address (a proxy not trusted) would wait on one lock for nothing.
    let ip_lock = p.ip.as_deref().filter(|_| p.flood_seconds > 0);
    comments::lock_submitter(conn, ip_lock, email)?;
    if let Some(parent) = p.draft.parent_id
        && !comments::is_approved_in_post(conn, parent, post_id)?
    {
        return Err(parent_refused().into());
    }
    if comments::find_duplicate(conn, post_id, parent_id, email, &p.fingerprints)?.is_some() {
        return Err(Refusal::Duplicate.into());
    }
    let now = storage::database_now(conn)?;
    if p.flood_seconds > 0 {
        let latest = comments::latest_from(conn, p.ip.as_deref(), email)?;
        if let Some(retry_after) = flood_retry_after(now, latest, p.flood_seconds) {
            return Err(Refusal::TooSoon { retry_after }.into());
        }
    }
    let decision = decide(
        &Signals {
            known_author: comments::has_approved_by_email(conn, email)?,
            ..p.signals.clone()
        },
        p.thresholds,
        p.policy,
    );
    let reasons = serde_json::to_string(&decision.reasons).map_err(StorageError::Encode)?;
    let id = comments::insert(conn, &p.row(decision.status, &reasons, now))?;
    p.accepted(id, decision, now)
}
