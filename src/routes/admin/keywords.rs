//! `GET/PUT /api/v1/admin/settings/keywords`: the moderation and disallowed
//! keyword lists (SPEC §5). The compiled lists every instance applies are
//! [`crate::cache::KeywordCache`].

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::ValidationErrors;
use crate::domain::keywords::{KeywordMatcher, normalize_list};
use crate::error::ApiError;
use crate::routes::auth::Admin;
use crate::routes::body::read_json;
use crate::state::AppState;
use crate::storage::settings;

/// The keyword lists (SPEC §5).
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeywordLists {
    /// A comment containing one of these is held for a moderator.
    moderation_keys: Vec<String>,
    /// A comment containing one of these is filed as spam.
    disallowed_keys: Vec<String>,
    /// Changes whenever either list is saved.
    version: i64,
}

fn lists_json(matcher: &KeywordMatcher) -> KeywordLists {
    KeywordLists {
        moderation_keys: matcher.moderation_keys().to_vec(),
        disallowed_keys: matcher.disallowed_keys().to_vec(),
        version: matcher.version(),
    }
}

/// The lists as stored (every instance applies them within [`crate::cache::POLL_INTERVAL`]).
#[utoipa::path(
    get,
    path = "/api/v1/admin/settings/keywords",
    tag = "admin",
    responses((status = 200, description = "The lists.", body = KeywordLists))
)]
pub async fn get_keywords(
    _admin: Admin,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let matcher = state.keywords.stored().await?;
    Ok(HttpResponse::Ok().json(lists_json(&matcher)))
}

/// Either or both lists, each replacing what is stored.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeywordsRequest {
    moderation_keys: Option<Vec<String>>,
    disallowed_keys: Option<Vec<String>>,
}

/// Replaces either or both lists; every instance applies them within
/// [`crate::cache::POLL_INTERVAL`], this one at once.
#[utoipa::path(
    put,
    path = "/api/v1/admin/settings/keywords",
    tag = "admin",
    request_body = KeywordsRequest,
    responses(
        (status = 200, description = "The lists as now stored.", body = KeywordLists),
        (status = 415, description = "Not JSON.", body = crate::routes::openapi::ErrorBody),
        (status = 422, description = "A list that cannot be applied (too long, control characters).", body = crate::routes::openapi::ErrorBody),
    )
)]
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
