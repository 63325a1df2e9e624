//! `POST /api/v1/comments`: decode (JSON or form), hand the comment to
//! [`crate::submission`], respond (JSON, or a redirect or page for form posts).

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;

use super::body::{
    BODY_LIMIT_BYTES, MediaType, form_is_utf8, media_type, object_entries, read_body,
    repeated_fields,
};
use super::client::submitter;
use super::form;
use super::openapi::{CommentForm, CommentSubmission, ErrorBody};
use crate::domain::{CommentId, RawComment, Status, ValidationErrors};
use crate::error::ApiError;
use crate::state::AppState;
use crate::submission::submit;

/// Response to a JSON submission.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitResponse {
    #[schema(value_type = i64)]
    pub id: CommentId,
    pub post_id: String,
    /// `approved` or `pending`; a comment caught as spam is reported `pending`.
    #[schema(value_type = String, pattern = "^(approved|pending)$")]
    pub status: Status,
    pub created_at: String,
}

/// Whether the request is a form post (it gets HTML pages, not JSON errors).
pub fn is_form_post(req: &HttpRequest) -> bool {
    media_type(req) == MediaType::Form
}

/// Accepts a comment from a site's form or script.
#[utoipa::path(
    post,
    path = "/api/v1/comments",
    tag = "public",
    request_body(
        description = "The comment, as JSON or as a WordPress form posts it.",
        content(
            (CommentSubmission = "application/json"),
            (CommentForm = "application/x-www-form-urlencoded"),
        )
    ),
    responses(
        (status = 201, description = "Stored (JSON): `pending` or `approved`.", body = SubmitResponse),
        (status = 303, description = "Stored (form): back to the allowed page, at `#comment-<id>`.", headers(("Location" = String))),
        (status = 200, description = "Stored (form) with no allowed page to return to: a small page saying so.", content_type = "text/html", body = String),
        (status = 400, description = "The body could not be read.", content(
            (ErrorBody = "application/json"), (String = "text/html"))),
        (status = 409, description = "`duplicate_comment`: this email posted this text here already.", content(
            (ErrorBody = "application/json"), (String = "text/html"))),
        (status = 413, description = "The body is larger than 1 MiB.", content(
            (ErrorBody = "application/json"), (String = "text/html"))),
        (status = 415, description = "Neither JSON nor a form.", body = ErrorBody),
        (status = 422, description = "`validation_failed`, naming each field.", content(
            (ErrorBody = "application/json"), (String = "text/html"))),
        (status = 429, description = "Too many comments from this address or email (flood control or the rate limit).", content(
            (ErrorBody = "application/json"), (String = "text/html")), headers(("Retry-After" = i64))),
        (status = 503, description = "The database is unavailable.", content(
            (ErrorBody = "application/json"), (String = "text/html")), headers(("Retry-After" = i64))),
    )
)]
#[tracing::instrument(skip_all, fields(comment_id, status))]
pub async fn submit_comment(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let who = submitter(&req, &state.settings);
    let kind = media_type(&req);
    if kind == MediaType::Other {
        return Err(ApiError::UnsupportedMediaType(
            "Send the comment as application/json or application/x-www-form-urlencoded.".into(),
        ));
    }
    // Read here rather than by an extractor, so that a form post that is too
    // large still gets the HTML page a browser can show.
    let body = match read_body(&req, payload, BODY_LIMIT_BYTES).await {
        Ok(body) => body,
        Err(error) if kind == MediaType::Form => return Ok(form::rejected(&error, None)),
        Err(error) => return Err(error),
    };
    if kind == MediaType::Json {
        let raw = raw_from_json(&body)?;
        let accepted = submit(&state, raw, who).await?;
        return Ok(HttpResponse::Created().json(SubmitResponse {
            id: accepted.id,
            post_id: accepted.post_id,
            status: accepted.status.as_public(),
            created_at: rfc3339(accepted.created_at),
        }));
    }
    let decoded =
        form_is_utf8(&body).then(|| serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body));
    let Some(Ok(fields)) = decoded else {
        let error = ApiError::MalformedRequest(
            "The form data could not be read: it must be URL-encoded UTF-8.".into(),
        );
        return Ok(form::rejected(&error, None));
    };
    let repeats = repeated_form_fields(&fields);
    if !repeats.is_empty() {
        return Ok(form::rejected(&repeats.into(), None));
    }
    let (raw, redirect_to) = raw_from_form(fields);
    let target = form::allowed_target(
        &state.settings,
        redirect_to.as_deref(),
        [who.referrer.as_deref(), raw.permalink.as_deref()],
    );
    Ok(match submit(&state, raw, who).await {
        Ok(accepted) => form::accepted(target, accepted.id, accepted.status.as_public()),
        Err(error) => form::rejected(&error.into(), target),
    })
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
    let mut errors = repeated_json_fields(body);
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

/// The known fields of a JSON object body that repeat with different values.
fn repeated_json_fields(body: &[u8]) -> ValidationErrors {
    let entries = object_entries(body).unwrap_or_default();
    repeated_fields(entries.iter().filter_map(|(name, value)| {
        JSON_FIELDS
            .iter()
            .find(|f| **f == name)
            .map(|f| (*f, value.to_string()))
    }))
}

/// The JSON name of a form field, for the WordPress names and the JSON ones.
fn form_field(name: &str) -> Option<&'static str> {
    Some(match name {
        "comment_post_ID" | "post_id" => "post_id",
        "comment_parent" | "parent_id" => "parent_id",
        "author" | "author_name" => "author_name",
        "email" | "author_email" => "author_email",
        "url" | "author_url" => "author_url",
        "comment" | "content" => "content",
        "permalink" => "permalink",
        "honeypot" => "honeypot",
        "redirect_to" => "redirect_to",
        _ => return None,
    })
}

/// The known fields of a form body that repeat with different values (under
/// either name: `author` and `author_name` are one field).
fn repeated_form_fields(fields: &[(String, String)]) -> ValidationErrors {
    repeated_fields(
        fields
            .iter()
            .filter_map(|(name, value)| form_field(name).map(|f| (f, value.clone()))),
    )
}

/// Reads form fields, accepting WordPress's names and the JSON ones. Returns the
/// comment and `redirect_to`. (A field repeated with different values is
/// refused before this, by [`repeated_form_fields`].)
fn raw_from_form(fields: Vec<(String, String)>) -> (RawComment, Option<String>) {
    let mut raw = RawComment::default();
    let mut redirect_to = None;
    for (name, value) in fields {
        let slot = match form_field(&name) {
            Some("post_id") => &mut raw.post_id,
            Some("parent_id") => &mut raw.parent_id,
            Some("author_name") => &mut raw.author_name,
            Some("author_email") => &mut raw.author_email,
            Some("author_url") => &mut raw.author_url,
            Some("content") => &mut raw.content,
            Some("permalink") => &mut raw.permalink,
            Some("honeypot") => &mut raw.honeypot,
            Some("redirect_to") => &mut redirect_to,
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
    fn fields_repeated_with_different_values_are_refused() {
        let errors = repeated_json_fields(br#"{"content": "a", "post_id": 1, "content": "b"}"#);
        assert_eq!(errors.fields().keys().collect::<Vec<_>>(), ["content"]);
        assert!(
            repeated_json_fields(br#"{"content": "a", "content": "a", "x": 1, "x": 2}"#).is_empty()
        );
        let form = [
            ("comment", "a"),
            ("content", "b"),
            ("author", "x"),
            ("author", "x"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let errors = repeated_form_fields(&form);
        assert_eq!(errors.fields().keys().collect::<Vec<_>>(), ["content"]);
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
