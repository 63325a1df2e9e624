//! `POST /api/v1/comments`: parse (JSON or form) → validate → check against the
//! database → score → decide → insert → respond (JSON, or a redirect/page for
//! form posts).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde::Serialize;
use serde_json::Value;

use super::body::{form_is_utf8, read_body};
use super::client::RequestMeta;
use super::{AppState, BODY_LIMIT_BYTES, form};
use crate::classifier::ScoringInput;
use crate::domain::moderation::count_links;
use crate::domain::{
    CommentDraft, CommentId, RawComment, Signals, Status, ValidationErrors, decide,
};
use crate::error::ApiError;
use crate::storage::records::NewCommentRecord;
use diesel::Connection;

use crate::storage::{StorageError, comments};

/// Response to a JSON submission.
#[derive(Debug, Serialize)]
pub struct SubmitResponse {
    pub id: CommentId,
    pub post_id: String,
    /// `approved` or `pending`; a comment caught as spam is reported `pending`.
    pub status: Status,
    pub created_at: String,
}

/// What the submitter learns about a stored comment.
#[derive(Debug)]
struct Accepted {
    id: CommentId,
    post_id: String,
    status: Status,
    created_at: DateTime<Utc>,
}

/// How the body is encoded, from `Content-Type`.
enum BodyKind {
    Json,
    Form,
}

/// Whether the request is a form post (it gets HTML pages, not JSON errors).
pub fn is_form_post(req: &HttpRequest) -> bool {
    matches!(body_kind(req), Ok(BodyKind::Form))
}

fn body_kind(req: &HttpRequest) -> Result<BodyKind, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => Ok(BodyKind::Json),
        "application/x-www-form-urlencoded" => Ok(BodyKind::Form),
        _ => Err(ApiError::UnsupportedMediaType(
            "Send the comment as application/json or application/x-www-form-urlencoded.".into(),
        )),
    }
}

/// Accepts a comment from a site's form or script.
#[tracing::instrument(skip_all, fields(comment_id, status))]
pub async fn submit_comment(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let meta = RequestMeta::from_request(&req, &state.settings);
    let kind = body_kind(&req)?;
    // Read here rather than by an extractor, so that a form post that is too
    // large still gets the HTML page a browser can show.
    let body = match read_body(&req, payload, BODY_LIMIT_BYTES).await {
        Ok(body) => body,
        Err(error) => {
            return match kind {
                BodyKind::Json => Err(error),
                BodyKind::Form => Ok(form::rejected(&error, None)),
            };
        }
    };
    match kind {
        BodyKind::Json => {
            let raw = raw_from_json(&body)?;
            let accepted = accept(&state, raw, meta).await?;
            Ok(HttpResponse::Created().json(SubmitResponse {
                id: accepted.id,
                post_id: accepted.post_id,
                status: accepted.status.as_public(),
                created_at: rfc3339(accepted.created_at),
            }))
        }
        BodyKind::Form => {
            let decoded = form_is_utf8(&body)
                .then(|| serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body));
            let fields = match decoded {
                Some(Ok(fields)) => fields,
                _ => {
                    let error = ApiError::MalformedRequest(
                        "The form data could not be read: it must be URL-encoded UTF-8.".into(),
                    );
                    return Ok(form::rejected(&error, None));
                }
            };
            let (raw, redirect_to) = raw_from_form(fields);
            let target = form::allowed_target(
                &state.settings,
                [
                    redirect_to.as_deref(),
                    meta.referrer.as_deref(),
                    raw.permalink.as_deref(),
                ],
            );
            Ok(match accept(&state, raw, meta).await {
                Ok(accepted) => form::accepted(target, accepted.id, accepted.status.as_public()),
                Err(error) => form::rejected(&error, target),
            })
        }
    }
}

fn parent_refused() -> ValidationErrors {
    ValidationErrors::single(
        "parent_id",
        "The comment you are replying to does not exist on this post or is not published.",
    )
}

/// Why a valid-looking submission was refused after the database was asked.
enum Refusal {
    Invalid(ValidationErrors),
    Duplicate,
    TooSoon { retry_after: u64 },
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Invalid(errors) => errors.into(),
            Refusal::Duplicate => ApiError::DuplicateComment,
            Refusal::TooSoon { retry_after } => ApiError::TooManyRequests { retry_after },
        }
    }
}

/// Validates, checks, scores, decides and stores one submission. The checks
/// that read the database (reply target, duplicate, flood) and the insert run
/// in one transaction holding the submitter's lock, so that concurrent requests
/// (on any instance sharing the database) cannot both slip through.
async fn accept(
    state: &AppState,
    raw: RawComment,
    meta: RequestMeta,
) -> Result<Accepted, ApiError> {
    let draft = CommentDraft::try_from(raw)?;
    let model = state.models.load_full();
    let score = model.score(&ScoringInput {
        text: draft.content.as_str(),
        author_name: Some(draft.author_name.as_str()),
        author_email: Some(draft.author_email.as_str()),
        author_url: draft.author_url.as_ref().map(|u| u.as_str()),
    });
    let ip = meta.ip.map(|ip| ip.to_string());
    let keywords = state.keywords.load().check(&[
        draft.author_name.as_str(),
        draft.author_email.as_str(),
        draft.author_url.as_ref().map_or("", |u| u.as_str()),
        draft.content.as_str(),
        ip.as_deref().unwrap_or(""),
        meta.user_agent.as_deref().unwrap_or(""),
    ]);
    let thresholds = state.settings.thresholds(model.thresholds());
    let policy = state.settings.moderation;
    let max_links = state.settings.max_links;
    let flood_seconds = state.settings.flood_seconds;
    let model_version = model.version().to_owned();
    let links = count_links(draft.content.as_str());
    let fingerprints = draft.content.fingerprints();

    let outcome = state
        .db
        .run(move |conn| {
            conn.transaction(|conn| {
                let email = draft.author_email.as_str();
                comments::lock_submitter(conn, ip.as_deref(), email)?;
                if let Some(parent) = draft.parent_id
                    && !comments::is_approved_in_post(conn, parent, draft.post_id.as_str())?
                {
                    return Ok(Err(Refusal::Invalid(parent_refused())));
                }
                let parent_id = draft.parent_id.map(|p| p.0);
                let post_id = draft.post_id.as_str();
                if comments::find_duplicate(conn, post_id, parent_id, email, &fingerprints)?
                    .is_some()
                {
                    return Ok(Err(Refusal::Duplicate));
                }
                let now = Utc::now().trunc_subsecs(6);
                if flood_seconds > 0
                    && let Some(latest) = comments::latest_from(conn, ip.as_deref(), email)?
                {
                    let waited = (now.naive_utc() - latest).num_milliseconds();
                    let needed = i64::try_from(flood_seconds)
                        .unwrap_or(i64::MAX)
                        .saturating_mul(1000);
                    if waited < needed {
                        let retry_after =
                            u64::try_from((needed - waited + 999) / 1000).unwrap_or(1);
                        return Ok(Err(Refusal::TooSoon { retry_after }));
                    }
                }
                let known_author = comments::has_approved_by_email(conn, email)?;
                let decision = decide(
                    &Signals {
                        score: Some(score.spam_probability),
                        model_reasons: score.reasons(),
                        honeypot: draft.honeypot,
                        links,
                        max_links,
                        known_author,
                        disallowed_keyword: keywords.disallowed,
                        moderation_keyword: keywords.moderation,
                    },
                    thresholds,
                    policy,
                );
                let reasons = serde_json::to_string(&decision.reasons)
                    .map_err(|err| StorageError::Corrupt(err.to_string()))?;
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
                        user_agent: meta.user_agent.as_deref(),
                        referrer: meta.referrer.as_deref(),
                        spam_score: Some(score.spam_probability),
                        model_version: Some(&model_version),
                        reasons: &reasons,
                        created_at: now.naive_utc(),
                        updated_at: now.naive_utc(),
                        content_fingerprint: &fingerprints[0],
                    },
                )?;
                Ok(Ok(Accepted {
                    id,
                    post_id: post_id.to_owned(),
                    status: decision.status,
                    created_at: now,
                }))
            })
        })
        .await
        .map_err(|err| match err {
            // The parent was erased between the check and the insert.
            StorageError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::ForeignKeyViolation,
                _,
            )) => ApiError::from(parent_refused()),
            other => other.into(),
        })??;
    let span = tracing::Span::current();
    span.record("comment_id", outcome.id.0);
    span.record("status", outcome.status.as_str());
    tracing::info!("comment stored");
    Ok(outcome)
}

/// RFC 3339 in UTC with microseconds, e.g. `2026-11-24T20:43:23.123456Z`.
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

const JSON_FIELDS: [&str; 8] = [
    "post_id",
    "parent_id",
    "author_name",
    "author_email",
    "author_url",
    "content",
    "permalink",
    "honeypot",
];

/// Reads a JSON object. Ids may be strings or integers; any other field must be
/// a string (or null/absent), except the honeypot, where any value but `false`
/// counts as filled. Unknown fields are ignored.
fn raw_from_json(body: &[u8]) -> Result<RawComment, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|err| {
        ApiError::MalformedRequest(format!("The request body is not valid JSON: {err}."))
    })?;
    let Value::Object(mut object) = value else {
        return Err(ApiError::MalformedRequest(
            "The request body must be a JSON object.".into(),
        ));
    };
    let mut errors = ValidationErrors::default();
    let mut take = |field: &'static str| -> Option<String> {
        match object.remove(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            // Whole numbers only: `1.5`, `1e3` or an integer beyond 64 bits is
            // not an id (and would not print back as the number sent).
            Some(Value::Number(n))
                if matches!(field, "post_id" | "parent_id") && (n.is_i64() || n.is_u64()) =>
            {
                Some(n.to_string())
            }
            // A bot may fill the trap with anything; it must not learn that it
            // was caught (SPEC §4), so no 422. `false` is how a script says empty.
            Some(Value::Bool(false)) if field == "honeypot" => None,
            Some(other) if field == "honeypot" => Some(other.to_string()),
            Some(_) => {
                let kind = if matches!(field, "post_id" | "parent_id") {
                    "a string or a whole number (send numbers beyond 64 bits as strings)"
                } else {
                    "a string"
                };
                errors.add(field, format!("This field must be {kind}."));
                None
            }
        }
    };
    let [
        post_id,
        parent_id,
        author_name,
        author_email,
        author_url,
        content,
        permalink,
        honeypot,
    ] = JSON_FIELDS.map(&mut take);
    if !errors.is_empty() {
        return Err(errors.into());
    }
    Ok(RawComment {
        post_id,
        parent_id,
        author_name,
        author_email,
        author_url,
        content,
        permalink,
        honeypot,
    })
}

/// Reads form fields, accepting WordPress's names and the JSON ones. Returns the
/// comment and `redirect_to`. When a field repeats, the first value counts.
fn raw_from_form(fields: Vec<(String, String)>) -> (RawComment, Option<String>) {
    let mut raw = RawComment::default();
    let mut redirect_to = None;
    for (name, value) in fields {
        let slot = match name.as_str() {
            "comment_post_ID" | "post_id" => &mut raw.post_id,
            "comment_parent" | "parent_id" => &mut raw.parent_id,
            "author" | "author_name" => &mut raw.author_name,
            "email" | "author_email" => &mut raw.author_email,
            "url" | "author_url" => &mut raw.author_url,
            "comment" | "content" => &mut raw.content,
            "permalink" => &mut raw.permalink,
            "honeypot" => &mut raw.honeypot,
            "redirect_to" => &mut redirect_to,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(value);
        }
    }
    (raw, redirect_to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_ids_may_be_integers() {
        let raw = raw_from_json(br#"{"post_id": 4242, "parent_id": 0, "content": "x"}"#).unwrap();
        assert_eq!(raw.post_id.as_deref(), Some("4242"));
        assert_eq!(raw.parent_id.as_deref(), Some("0"));
    }

    #[test]
    fn fractional_or_huge_ids_are_refused() {
        for body in [
            &br#"{"post_id": 1.5}"#[..],
            br#"{"post_id": 1e3}"#,
            br#"{"post_id": 123456789012345678901234567890}"#,
        ] {
            let err = raw_from_json(body).unwrap_err();
            assert_eq!(
                err.code(),
                "validation_failed",
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn json_fields_of_the_wrong_type_are_named() {
        let err = raw_from_json(br#"{"author_name": 5, "content": ["x"]}"#).unwrap_err();
        let fields = err.fields().unwrap().fields();
        assert!(fields.contains_key("author_name") && fields.contains_key("content"));
    }

    #[test]
    fn unparsable_json_is_malformed() {
        assert_eq!(
            raw_from_json(b"{nope").unwrap_err().code(),
            "malformed_request"
        );
        assert_eq!(
            raw_from_json(b"[1]").unwrap_err().code(),
            "malformed_request"
        );
    }

    #[test]
    fn wordpress_form_names_map_to_fields() {
        let fields = [
            ("comment_post_ID", "7"),
            ("comment_parent", "0"),
            ("author", "Ada"),
            ("email", "ada@example.com"),
            ("url", ""),
            ("comment", "Hi"),
            ("submit", "Post Comment"),
            ("redirect_to", "https://blog.example/p"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let (raw, redirect) = raw_from_form(fields.to_vec());
        assert_eq!(raw.post_id.as_deref(), Some("7"));
        assert_eq!(raw.author_name.as_deref(), Some("Ada"));
        assert_eq!(raw.content.as_deref(), Some("Hi"));
        assert_eq!(redirect.as_deref(), Some("https://blog.example/p"));
    }
}
