//! Reading request bodies, after authentication where there is any (comment
//! posts, imports, admin JSON): size limits, stalls, and form encoding.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, web};

use crate::domain::ValidationErrors;
use crate::error::ApiError;

/// Largest request body accepted (SPEC §3); the training-data import has its
/// own, larger limit.
pub const BODY_LIMIT_BYTES: usize = 1024 * 1024;

/// A body's encoding, from the essence of its `Content-Type` (parameters such
/// as `charset` ignored, case-insensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    Json,
    Form,
    Other,
}

/// The media type a request says its body has.
pub fn media_type(req: &HttpRequest) -> MediaType {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        MediaType::Json
    } else if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        MediaType::Form
    } else {
        MediaType::Other
    }
}

/// Reads and parses a JSON body after authentication has run, with the limits
/// of [`read_body`] (size, stalls).
///
/// # Errors
/// As [`read_body`] and [`parse_json`].
pub async fn read_json<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, ApiError> {
    let body = read_body(req, payload, BODY_LIMIT_BYTES).await?;
    parse_json(req, &body)
}

/// Parses a JSON object body after authentication has run (an extractor would
/// reject a bad body before the token was checked, telling strangers about the
/// API). Not JSON: 415; unparsable or not an object: 400; the wrong shape: 422.
///
/// # Errors
/// As above.
pub fn parse_json<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    body: &[u8],
) -> Result<T, ApiError> {
    if media_type(req) != MediaType::Json {
        return Err(ApiError::UnsupportedMediaType(
            "Send the body as application/json.".into(),
        ));
    }
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|err| {
        ApiError::MalformedRequest(format!("The request body is not valid JSON: {err}."))
    })?;
    if !value.is_object() {
        return Err(ApiError::MalformedRequest(
            "The request body must be a JSON object.".into(),
        ));
    }
    let entries = object_entries(body).unwrap_or_default();
    let repeats = repeated_fields(entries.iter().map(|(k, v)| (k.as_str(), v.to_string())));
    if !repeats.is_empty() {
        return Err(repeats.into());
    }
    // A field of the wrong type is named (`include_base_data`), as the
    // comment form's errors are; an unknown field is the body's error.
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let field = if path == "." { "body" } else { path.as_str() };
        ValidationErrors::single(field, format!("{}.", err.inner())).into()
    })
}

/// Whether every name and value of a form body decodes to UTF-8 (the decoder
/// would otherwise replace bad bytes with U+FFFD and store the damage).
pub fn form_is_utf8(body: &[u8]) -> bool {
    body.split(|&b| b == b'&')
        .flat_map(|pair| pair.splitn(2, |&b| b == b'='))
        .all(|part| percent_encoding::percent_decode(part).decode_utf8().is_ok())
}

/// How long a request body may go without sending anything before it is
/// answered 408 (actix-web times out only the request head).
pub const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a whole request body may take (a client trickling a byte at a
/// time must not hold a connection for ever): 32 MiB at 128 KiB/s.
pub const BODY_TOTAL_TIMEOUT: Duration = Duration::from_secs(256);

/// Reads a request body of at most `limit` bytes: 413 at once when its
/// `Content-Length` says it is larger, and as soon as more arrives otherwise;
/// 408 when it stalls for [`BODY_IDLE_TIMEOUT`] or is not complete after
/// [`BODY_TOTAL_TIMEOUT`].
pub async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    use futures_util::StreamExt;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::PayloadTooLarge);
    }
    let mut body = web::BytesMut::new();
    let deadline = tokio::time::Instant::now() + BODY_TOTAL_TIMEOUT;
    loop {
        let wait =
            BODY_IDLE_TIMEOUT.min(deadline.saturating_duration_since(tokio::time::Instant::now()));
        let next = tokio::time::timeout(wait, payload.next())
            .await
            .map_err(|_| ApiError::RequestTimeout)?;
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|_| {
            ApiError::MalformedRequest("The request body could not be read.".into())
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The members of a JSON object body in the order sent, repeats included
/// (`serde_json::Value` keeps only the last of a repeated key); `None` when
/// the body is not a JSON object.
pub fn object_entries(body: &[u8]) -> Option<Vec<(String, serde_json::Value)>> {
    struct Entries(Vec<(String, serde_json::Value)>);
    impl<'de> serde::Deserialize<'de> for Entries {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Visit;
            impl<'de> serde::de::Visitor<'de> for Visit {
                type Value = Entries;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Entries, A::Error> {
                    let mut entries = Vec::new();
                    while let Some(entry) = map.next_entry::<String, serde_json::Value>()? {
                        entries.push(entry);
                    }
                    Ok(Entries(entries))
                }
            }
            d.deserialize_map(Visit)
        }
    }
    serde_json::from_slice::<Entries>(body).ok().map(|e| e.0)
}

/// A member sent twice with different values is ambiguous (a JSON parser
/// keeps the last, a form reader often the first), so it is refused, naming
/// it; the same value twice is harmless.
pub fn repeated_fields<'a>(
    fields: impl IntoIterator<Item = (&'a str, String)>,
) -> ValidationErrors {
    let mut seen: Vec<(&str, String)> = Vec::new();
    let mut errors = ValidationErrors::default();
    for (field, value) in fields {
        match seen.iter().find(|(f, _)| *f == field) {
            Some((_, first)) if *first != value => {
                if !errors.fields().contains_key(field) {
                    errors.add(
                        field,
                        format!("`{field}` was sent more than once, with different values."),
                    );
                }
            }
            Some(_) => {}
            None => seen.push((field, value)),
        }
    }
    errors
}
