//! The Akismet-compatible endpoints (SPEC §8, Akismet API 1.1): what real
//! clients send, read as they send it, answered as Akismet answers (200 with
//! a `text/plain` body; a bad key is `invalid` with `X-akismet-debug-help`).
//!
//! The key is an admin token (an `--akismet-only` one cannot moderate), taken
//! from `api_key`, the older `key`, or, when the body has neither, the first
//! label of the `Host` name (`KEY.rest.akismet.com` → `KEY.<this host>`, as
//! the npm `akismet-api` client and Coral Talk send it). Bodies are form
//! encoded; `submit-spam`/`submit-ham` also accept JSON (Coral).

use std::net::IpAddr;
use std::sync::atomic::Ordering;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::openapi::{AkismetComment, AkismetKey};

use super::body::{BODY_LIMIT_BYTES, MediaType, media_type, object_entries, read_body};
use crate::akismet::{self, Report, Verdict};
use crate::auth::{AuthError, authenticate};
use crate::error::ApiError;
use crate::state::AppState;

/// Akismet's answer to a good submission.
const THANKS: &str = "Thanks for making the web a better place.";

/// Reads the parameters: a form body (spaces as `+` or `%20`), or a JSON
/// object whose values are strings, numbers or booleans.
fn params(req: &HttpRequest, body: &[u8]) -> Vec<(String, String)> {
    if media_type(req) == MediaType::Json {
        // Not an object: no parameters, so the answer is `invalid` with its
        // debug help, as Akismet answers what it cannot read.
        return object_entries(body)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k, s)),
                Value::Number(n) => Some((k, n.to_string())),
                Value::Bool(b) => Some((k, b.to_string())),
                _ => None,
            })
            .collect();
    }
    // Bytes that are not UTF-8 (a blog whose `blog_charset` is ISO-8859-1)
    // become U+FFFD: Akismet answers such a comment rather than refusing it.
    body.split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &pair[..0]),
            };
            (form_text(name), form_text(value))
        })
        .collect()
}

/// One form-encoded name or value: `+` is a space, escapes decoded, bytes
/// that are not UTF-8 replaced.
fn form_text(raw: &[u8]) -> String {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    percent_encoding::percent_decode(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// The key a client presented: `api_key`, then `key`, then the first label of
/// the host name when there is one (not an IP address, not a single label).
fn presented_key(req: &HttpRequest, params: &[(String, String)]) -> Option<String> {
    let from_params = ["api_key", "key"].iter().find_map(|name| {
        params
            .iter()
            .find(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_owned())
    });
    from_params.or_else(|| {
        let host = req.headers().get(header::HOST)?.to_str().ok()?;
        let host = host.rsplit_once(':').map_or(host, |(name, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) {
                name
            } else {
                host
            }
        });
        if host.starts_with('[') || host.parse::<IpAddr>().is_ok() {
            return None;
        }
        let (label, rest) = host.split_once('.')?;
        // Host names are case-insensitive, and tokens are lower case.
        (!label.is_empty() && !rest.is_empty()).then(|| label.to_ascii_lowercase())
    })
}

/// A 200 with a `text/plain` body: every Akismet answer, `invalid` included
/// (clients read the body; some fail on any other content type).
fn plain() -> actix_web::HttpResponseBuilder {
    let mut response = HttpResponse::Ok();
    response.content_type("text/plain; charset=utf-8");
    response
}

fn invalid(why: &str) -> HttpResponse {
    plain()
        .insert_header(("X-akismet-debug-help", why.to_owned()))
        .body("invalid")
}

/// Whether the presented key is a live token; `Err` only when the database
/// cannot be asked.
async fn key_is_valid(state: &AppState, key: Option<&str>) -> Result<bool, ApiError> {
    let Some(key) = key else { return Ok(false) };
    match authenticate(&state.db, state.settings.admin_token.as_ref(), key).await {
        Ok(_) => Ok(true),
        Err(AuthError::Unknown | AuthError::Revoked) => Ok(false),
        Err(err) => Err(err.into()),
    }
}

const BAD_KEY: &str = "The API key is not a live replyguard token: create one with `replyguard token create NAME --akismet-only`.";

/// Reads the body and checks the key: the parameters, or the `invalid` answer.
async fn authenticated(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<Result<Vec<(String, String)>, HttpResponse>, ApiError> {
    let body = read_body(req, payload, BODY_LIMIT_BYTES).await?;
    let params = params(req, &body);
    if !key_is_valid(state, presented_key(req, &params).as_deref()).await? {
        return Ok(Err(invalid(BAD_KEY)));
    }
    Ok(Ok(params))
}

/// `POST /1.1/verify-key` → `valid` or `invalid`.
#[utoipa::path(
    post,
    path = "/1.1/verify-key",
    tag = "akismet",
    request_body(content = AkismetKey, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "`valid`, or `invalid` with `X-akismet-debug-help`.", content_type = "text/plain", body = String))
)]
pub async fn verify_key(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    Ok(match authenticated(&req, payload, &state).await? {
        Ok(_) => plain().body("valid"),
        Err(refused) => refused,
    })
}

/// `POST /1.1/comment-check` → `true` (spam) or `false`; stores nothing.
#[utoipa::path(
    post,
    path = "/1.1/comment-check",
    tag = "akismet",
    request_body(content = AkismetComment, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "`true` (spam; blatant spam adds `X-akismet-pro-tip: discard`), `false`, or `invalid` with `X-akismet-debug-help`.", content_type = "text/plain", body = String))
)]
#[tracing::instrument(skip_all, fields(verdict))]
pub async fn comment_check(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let params = match authenticated(&req, payload, &state).await? {
        Ok(params) => params,
        Err(refused) => return Ok(refused),
    };
    let report = Report::from_params(&params);
    if let Some(field) = report.missing_field() {
        return Ok(invalid(&format!("Missing required field: {field}.")));
    }
    state.akismet_checks.fetch_add(1, Ordering::Relaxed);
    let verdict = akismet::check(&state, &report);
    let outcome = match verdict {
        Verdict::Ham => "ham",
        Verdict::Spam { discard: false } => "spam",
        Verdict::Spam { discard: true } => "discard",
    };
    state
        .metrics
        .akismet_checks
        .get_or_create(&crate::metrics::OutcomeLabels {
            outcome: outcome.to_owned(),
        })
        .inc();
    tracing::Span::current().record("verdict", format!("{verdict:?}"));
    let mut response = plain();
    response.insert_header(("X-akismet-guid", guid()?));
    Ok(match verdict {
        Verdict::Ham => response.body("false"),
        Verdict::Spam { discard } => {
            if discard {
                response.insert_header(("X-akismet-pro-tip", "discard"));
            }
            response.body("true")
        }
    })
}

/// `POST /1.1/submit-spam`.
#[utoipa::path(
    post,
    path = "/1.1/submit-spam",
    tag = "akismet",
    request_body(
        content(
            (AkismetComment = "application/x-www-form-urlencoded"),
            (AkismetComment = "application/json"),
        )
    ),
    responses((status = 200, description = "`Thanks for making the web a better place.`, or `invalid` with `X-akismet-debug-help`.", content_type = "text/plain", body = String))
)]
pub async fn submit_spam(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    submit(req, payload, state, true).await
}

/// `POST /1.1/submit-ham`.
#[utoipa::path(
    post,
    path = "/1.1/submit-ham",
    tag = "akismet",
    request_body(
        content(
            (AkismetComment = "application/x-www-form-urlencoded"),
            (AkismetComment = "application/json"),
        )
    ),
    responses((status = 200, description = "`Thanks for making the web a better place.`, or `invalid` with `X-akismet-debug-help`.", content_type = "text/plain", body = String))
)]
pub async fn submit_ham(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    submit(req, payload, state, false).await
}

async fn submit(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    is_spam: bool,
) -> Result<HttpResponse, ApiError> {
    let params = match authenticated(&req, payload, &state).await? {
        Ok(params) => params,
        Err(refused) => return Ok(refused),
    };
    let report = Report::from_params(&params);
    let stored = akismet::submit(&state, &report, is_spam).await?;
    tracing::info!(is_spam, stored, "akismet submission");
    Ok(plain().body(THANKS))
}

/// `GET /1.2/usage-limit?api_key=…`: replyguard has no limit; `usage` counts
/// this instance's comment-checks since it started.
#[utoipa::path(
    get,
    path = "/1.2/usage-limit",
    tag = "akismet",
    params(
        ("api_key" = Option<String>, Query, description = "An admin token (or `key`)."),
        ("key" = Option<String>, Query),
    ),
    responses(
        (status = 200, description = "No limit; or `invalid` (text) with `X-akismet-debug-help` for a bad key.", content(
            (UsageLimit = "application/json"),
            (String = "text/plain"),
        )),
    )
)]
pub async fn usage_limit(
    req: HttpRequest,
    query: web::Query<Vec<(String, String)>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if !key_is_valid(&state, presented_key(&req, &query).as_deref()).await? {
        return Ok(invalid(BAD_KEY));
    }
    Ok(HttpResponse::Ok().json(UsageLimit {
        limit: "none",
        usage: state.akismet_checks.load(Ordering::Relaxed),
        percentage: "0",
        throttled: false,
    }))
}

/// `GET /1.2/usage-limit`, as Akismet answers it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageLimit {
    #[schema(example = "none")]
    limit: &'static str,
    /// comment-checks this instance answered since it started.
    usage: u64,
    percentage: &'static str,
    throttled: bool,
}

/// A unique id for an answer, as Akismet gives (`X-akismet-guid`).
fn guid() -> Result<String, ApiError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|err| ApiError::Internal(anyhow::anyhow!("{err}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
