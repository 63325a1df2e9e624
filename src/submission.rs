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
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::classifier::ScoringInput;
use crate::domain::links::count_links;
use crate::domain::submission::{Refusal, flood_retry_after, parent_refused};
use crate::domain::{CommentDraft, CommentId, RawComment, Signals, Status, decide};
use crate::metrics::{OutcomeLabels, ReasonLabels};
use crate::state::AppState;
use crate::storage::records::NewCommentRecord;
use crate::storage::{self, Constraint, StorageError, comments};

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

    let stored = state
        .db
        .write(move |conn| {
            Ok(storage::transaction(
                conn,
                |conn| -> Result<_, SubmitError> {
                    let email = draft.author_email.as_str();
                    let post_id = draft.post_id.as_str();
                    let parent_id = draft.parent_id.map(|p| p.0);
                    // The IP lock serves flood control only: without it, every
                    // submission from one address (a proxy not trusted) would wait
                    // on one lock for nothing.
                    let ip_lock = ip.as_deref().filter(|_| flood_seconds > 0);
                    comments::lock_submitter(conn, ip_lock, email)?;
                    if let Some(parent) = draft.parent_id
                        && !comments::is_approved_in_post(conn, parent, post_id)?
                    {
                        return Err(parent_refused().into());
                    }
                    if comments::find_duplicate(conn, post_id, parent_id, email, &fingerprints)?
                        .is_some()
                    {
                        return Err(Refusal::Duplicate.into());
                    }
                    let now = storage::database_now(conn)?;
                    if flood_seconds > 0 {
                        let latest = comments::latest_from(conn, ip.as_deref(), email)?;
                        if let Some(retry_after) = flood_retry_after(now, latest, flood_seconds) {
                            return Err(Refusal::TooSoon { retry_after }.into());
                        }
                    }
                    let decision = decide(
                        &Signals {
                            known_author: comments::has_approved_by_email(conn, email)?,
                            ..signals
                        },
                        thresholds,
                        policy,
                    );
                    let reasons =
                        serde_json::to_string(&decision.reasons).map_err(StorageError::Encode)?;
                    let id = comments::insert(
                        conn,
                        &NewCommentRecord {
                            post_id,
                            parent_id,
                            status: decision.status.as_str(),
                            author_name: draft.author_name.as_str(),
                            author_email: email,
                            author_url: draft.author_url.as_ref().map(|u| u.as_str()),
                            content: draft.content.as_str(),
                            permalink: draft.permalink.as_ref().map(|p| p.as_str()),
                            ip: ip.as_deref(),
                            user_agent: submitter.user_agent.as_deref(),
                            referrer: submitter.referrer.as_deref(),
                            spam_score: Some(score.spam_probability),
                            model_version: Some(&model_version),
                            reasons: &reasons,
                            created_at: now,
                            updated_at: now,
                            content_fingerprint: &fingerprints[0],
                        },
                    )?;
                    Ok((
                        Accepted {
                            id,
                            post_id: post_id.to_owned(),
                            status: decision.status,
                            created_at: now.and_utc(),
                        },
                        decision.reasons,
                    ))
                },
            ))
        })
        .await?;
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
