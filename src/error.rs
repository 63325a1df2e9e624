//! The error policy, in one place.
//!
//! - `domain`, `classifier`, `storage` and the workflows above them
//!   (`submission`, `auth`, `cache`) return their own `thiserror` types, and
//!   the `From` impls below are the one place each becomes an HTTP error.
//!   `anyhow` serves `main`, the CLI and start-up, and carries the opaque
//!   cause of [`ApiError::Internal`].
//! - Handlers return `Result<_, ApiError>`. [`ApiError`] is the only type that
//!   becomes an HTTP error, and [`ApiError::status_code`] the only mapping from
//!   error to status (SPEC §3): bad body 400, stalled body 408, too large 413,
//!   wrong media type 415, invalid fields 422, unknown resource 404, wrong
//!   method 405, duplicate or conflicting change 409, flood control or rate
//!   limit 429 and database unreachable 503 (both with `Retry-After`),
//!   anything else an opaque 500.
//! - Every error response carries the JSON envelope
//!   `{"error": {"code", "message", "fields"?}}`. actix's own errors (unknown
//!   route, wrong method, extractor failures, oversized bodies) are rewritten into
//!   it by [`json_error_handlers`].
//! - The full cause chain of a 5xx is logged, never sent.

use std::collections::BTreeMap;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::auth::AuthError;
use crate::cache::CacheError;
use crate::domain::ValidationErrors;
use crate::domain::dataset::DatasetError;
use crate::domain::submission::Refusal;
use crate::storage::StorageError;
use crate::submission::SubmitError;

/// Seconds a client is asked to wait after a 503.
pub const UNAVAILABLE_RETRY_AFTER_SECONDS: u64 = 5;

/// An error that leaves the service as an HTTP response.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    MalformedRequest(String),
    #[error("The request body is too large: at most 1 MiB (32 MiB for training-data imports).")]
    PayloadTooLarge,
    /// The client stopped sending its body.
    #[error("The request body stopped arriving or came too slowly; send the whole request again.")]
    RequestTimeout,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("Some fields are missing or invalid.")]
    Validation(ValidationErrors),
    #[error("{0}")]
    NotFound(String),
    #[error("This method is not allowed here.")]
    MethodNotAllowed,
    #[error("A valid admin token is required: send `Authorization: Bearer <token>`.")]
    Unauthorized,
    /// A known token that may not do this (revoked, or limited to Akismet).
    #[error("{0}")]
    Forbidden(String),
    #[error("The comment's status is {current}, not {expected}; it was changed by someone else.")]
    StatusConflict { current: String, expected: String },
    #[error("Duplicate comment detected; it looks as though you've already said that!")]
    DuplicateComment,
    #[error("You are posting comments too quickly. Slow down.")]
    TooManyRequests { retry_after: u64 },
    /// The per-IP request rate limit (any public endpoint).
    #[error("Too many requests from your address. Please try again in {retry_after} s.")]
    RateLimited { retry_after: u64 },
    #[error("The service is temporarily unavailable. Please try again shortly.")]
    Unavailable(#[source] StorageError),
    #[error("An internal error occurred.")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    /// The stable, snake_case code of SPEC §3. Codes never change once published.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedRequest(_) => "malformed_request",
            Self::PayloadTooLarge => "payload_too_large",
            Self::RequestTimeout => "request_timeout",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::Validation(_) => "validation_failed",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::StatusConflict { .. } => "status_conflict",
            Self::DuplicateComment => "duplicate_comment",
            Self::TooManyRequests { .. } | Self::RateLimited { .. } => "too_many_requests",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    /// Seconds a client should wait before trying again, if that applies.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::Unavailable(_) => Some(UNAVAILABLE_RETRY_AFTER_SECONDS),
            Self::TooManyRequests { retry_after } | Self::RateLimited { retry_after } => {
                Some((*retry_after).max(1))
            }
            _ => None,
        }
    }

    /// Logs a server-side failure with its full cause chain (never sent to the
    /// client); client errors are not logged here.
    pub fn log(&self) {
        if self.status_code().is_server_error() {
            tracing::error!(code = self.code(), error = %error_chain(self), "request failed");
        }
    }

    /// Field messages, for validation errors.
    pub fn fields(&self) -> Option<&ValidationErrors> {
        match self {
            Self::Validation(errors) => Some(errors),
            _ => None,
        }
    }

    /// The error actix produced for a bare status (unknown route, wrong method,
    /// body too large, …), as one of ours.
    fn from_status(status: StatusCode) -> Self {
        match status {
            StatusCode::NOT_FOUND => Self::NotFound("There is nothing at this address.".into()),
            StatusCode::METHOD_NOT_ALLOWED => Self::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                Self::UnsupportedMediaType("This content type is not supported here.".into())
            }
            s if s.is_client_error() => Self::MalformedRequest(format!(
                "The request was refused ({}).",
                s.canonical_reason().unwrap_or("client error")
            )),
            s => Self::Internal(anyhow::anyhow!("unhandled error status {s}")),
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::Unavailable(_) => Self::Unavailable(err),
            other => Self::Internal(other.into()),
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Invalid(errors) => errors.into(),
            Refusal::Duplicate => Self::DuplicateComment,
            Refusal::TooSoon { retry_after } => Self::TooManyRequests { retry_after },
        }
    }
}

impl From<SubmitError> for ApiError {
    fn from(err: SubmitError) -> Self {
        match err {
            SubmitError::Refused(refusal) => refusal.into(),
            SubmitError::Storage(err) => err.into(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Unknown => Self::Unauthorized,
            AuthError::Revoked => Self::Forbidden("This admin token has been revoked.".into()),
            AuthError::Storage(err) => err.into(),
        }
    }
}

/// A cache that cannot reload after a committed change (an activation) is
/// unavailable when the database is, and a bug otherwise: activation checks
/// that a model loads before it switches.
impl From<CacheError> for ApiError {
    fn from(err: CacheError) -> Self {
        match err {
            CacheError::Storage(err) => err.into(),
            other => Self::Internal(other.into()),
        }
    }
}

/// An import body: not text or not JSON is 400; no rows, too many or invalid
/// rows are 422, each bad row named (`rows[i]`, `line n`).
impl From<DatasetError> for ApiError {
    fn from(err: DatasetError) -> Self {
        match err {
            DatasetError::NotUtf8 => Self::MalformedRequest("The body is not UTF-8 text.".into()),
            DatasetError::NotAnArray(why) => {
                Self::MalformedRequest(format!("The body is not a valid JSON array: {why}."))
            }
            DatasetError::Empty => {
                ValidationErrors::single("rows", "Send at least one example.").into()
            }
            DatasetError::TooMany(max) => ValidationErrors::single(
                "rows",
                format!("Send at most {max} examples per request."),
            )
            .into(),
            DatasetError::Rows(bad) => {
                let mut errors = ValidationErrors::default();
                for (position, problems) in bad {
                    for problem in problems {
                        errors.add(position.to_string(), problem);
                    }
                }
                errors.into()
            }
        }
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        Self::Validation(errors)
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Body<'a>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<&'a BTreeMap<String, Vec<String>>>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::MalformedRequest(_) => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::StatusConflict { .. } => StatusCode::CONFLICT,
            Self::DuplicateComment => StatusCode::CONFLICT,
            Self::TooManyRequests { .. } | Self::RateLimited { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        self.log();
        let envelope = Envelope {
            error: Body {
                code: self.code(),
                message: self.to_string(),
                fields: self.fields().map(ValidationErrors::fields),
            },
        };
        let mut response = HttpResponse::build(status);
        if let Some(seconds) = self.retry_after() {
            response.insert_header((header::RETRY_AFTER, seconds));
        }
        if let Self::Unauthorized = self {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        response.json(envelope)
    }
}

/// `error: cause: cause…`, for logs.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// Middleware that rewrites actix's plain error responses (no body of ours)
/// into the JSON envelope. Responses already JSON or HTML pass unchanged.
pub fn json_error_handlers<B: MessageBody + 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(jsonify_plain_errors)
}

fn jsonify_plain_errors<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let ours = res
        .response()
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json") || ct.starts_with("text/html"));
    if ours {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let error = ApiError::from_status(res.status());
    let allow = res.response().headers().get(header::ALLOW).cloned();
    let (req, _) = res.into_parts();
    let mut response = error.error_response();
    if let Some(allow) = allow {
        response.headers_mut().insert(header::ALLOW, allow);
    }
    let response: ServiceResponse<EitherBody<B>> =
        ServiceResponse::new(req, response).map_into_right_body();
    Ok(ErrorHandlerResponse::Response(response))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_its_spec_status_and_code() {
        let cases = [
            (
                ApiError::MalformedRequest("x".into()),
                400,
                "malformed_request",
            ),
            (ApiError::PayloadTooLarge, 413, "payload_too_large"),
            (ApiError::RequestTimeout, 408, "request_timeout"),
            (
                ApiError::RateLimited { retry_after: 3 },
                429,
                "too_many_requests",
            ),
            (
                ApiError::UnsupportedMediaType("x".into()),
                415,
                "unsupported_media_type",
            ),
            (
                ApiError::Validation(ValidationErrors::default()),
                422,
                "validation_failed",
            ),
            (ApiError::NotFound("x".into()), 404, "not_found"),
            (ApiError::MethodNotAllowed, 405, "method_not_allowed"),
            (ApiError::Unauthorized, 401, "unauthorized"),
            (ApiError::Forbidden("no".into()), 403, "forbidden"),
            (
                ApiError::StatusConflict {
                    current: "spam".into(),
                    expected: "pending".into(),
                },
                409,
                "status_conflict",
            ),
            (ApiError::DuplicateComment, 409, "duplicate_comment"),
            (
                ApiError::TooManyRequests { retry_after: 3 },
                429,
                "too_many_requests",
            ),
            (
                ApiError::Unavailable(StorageError::Unavailable("down".into())),
                503,
                "unavailable",
            ),
            (
                ApiError::Internal(anyhow::anyhow!("boom")),
                500,
                "internal_error",
            ),
        ];
        for (err, status, code) in cases {
            assert_eq!(err.status_code().as_u16(), status, "{code}");
            assert_eq!(err.code(), code);
        }
    }

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let err = ApiError::Internal(anyhow::anyhow!("password=hunter2"));
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn unavailable_carries_retry_after() {
        let res = ApiError::Unavailable(StorageError::Unavailable("down".into())).error_response();
        assert!(res.headers().contains_key(header::RETRY_AFTER));
    }
}
