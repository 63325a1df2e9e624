//! `GET/PUT /api/v1/admin/settings/keywords`: the moderation and disallowed
//! keyword lists (SPEC §5). The compiled lists every instance applies are
//! [`crate::cache::KeywordCache`].

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::domain::ValidationErrors;
use crate::domain::keywords::{KeywordMatcher, normalize_list};
use crate::error::ApiError;
use crate::routes::auth::Admin;
use crate::routes::body::read_json;
use crate::state::AppState;
use crate::storage::settings;

fn lists_json(matcher: &KeywordMatcher) -> serde_json::Value {
    json!({
        "moderation_keys": matcher.moderation_keys(),
        "disallowed_keys": matcher.disallowed_keys(),
        "version": matcher.version(),
    })
}

/// The lists as stored (every instance applies them within [`crate::cache::POLL_INTERVAL`]).
pub async fn get_keywords(
    _admin: Admin,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let matcher = state.keywords.stored().await?;
    Ok(HttpResponse::Ok().json(lists_json(&matcher)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeywordsRequest {
    moderation_keys: Option<Vec<String>>,
    disallowed_keys: Option<Vec<String>>,
}

/// Replaces either or both lists; every instance applies them within
/// [`crate::cache::POLL_INTERVAL`], this one at once.
pub async fn put_keywords(
    _admin: Admin,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body: KeywordsRequest = read_json(&req, payload).await?;
    let mut errors = ValidationErrors::default();
    let mut updates = Vec::new();
    for (field, name, list) in [
        (
            "moderation_keys",
            settings::MODERATION_KEYS,
            body.moderation_keys,
        ),
        (
            "disallowed_keys",
            settings::DISALLOWED_KEYS,
            body.disallowed_keys,
        ),
    ] {
        if let Some(list) = list {
            match normalize_list(list.iter().map(String::as_str)) {
                Ok(list) => updates.push((name, list.join("\n"))),
                Err(message) => errors.add(field, message),
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let matcher = state.keywords.replace(updates).await?;
    tracing::info!("keyword lists updated");
    Ok(HttpResponse::Ok().json(lists_json(&matcher)))
}
