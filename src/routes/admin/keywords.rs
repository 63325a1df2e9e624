//! `GET/PUT /api/v1/admin/settings/keywords`, and keeping every instance's
//! compiled keyword matcher in step with the lists in the database.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use arc_swap::ArcSwap;
use chrono::{SubsecRound, Utc};
use serde::Deserialize;
use serde_json::json;

use crate::auth::Admin;
use crate::config::Settings;
use crate::domain::ValidationErrors;
use crate::domain::keywords::{KeywordMatcher, normalize_list};
use crate::error::ApiError;
use crate::routes::AppState;
use diesel::Connection;

use crate::storage::{Database, DbConn, StorageError, settings};

/// How often an instance checks whether the lists changed elsewhere.
pub const KEYWORD_POLL_INTERVAL: Duration = Duration::from_secs(2);

fn read_matcher(conn: &mut DbConn) -> Result<KeywordMatcher, StorageError> {
    let list = |conn: &mut DbConn, name| -> Result<(Vec<String>, i64), StorageError> {
        Ok(match settings::get(conn, name)? {
            Some((value, version)) => (value.lines().map(str::to_owned).collect(), version),
            None => (Vec::new(), 0),
        })
    };
    let (moderation, v1) = list(conn, settings::MODERATION_KEYS)?;
    let (disallowed, v2) = list(conn, settings::DISALLOWED_KEYS)?;
    KeywordMatcher::new(moderation, disallowed, v1 + v2).map_err(StorageError::Corrupt)
}

/// Seeds the lists from the configured files (only lists never set before),
/// then reads both.
///
/// # Errors
/// An unreadable or invalid file, or the database failing.
pub fn load_at_startup(db: &Database, config: &Settings) -> anyhow::Result<KeywordMatcher> {
    let now = Utc::now().trunc_subsecs(6).naive_utc();
    for (file, name) in [
        (&config.moderation_keys_file, settings::MODERATION_KEYS),
        (&config.disallowed_keys_file, settings::DISALLOWED_KEYS),
    ] {
        let Some(path) = file else { continue };
        let text = std::fs::read_to_string(path).map_err(|err| {
            anyhow::anyhow!("cannot read the keyword file {}: {err}", path.display())
        })?;
        let list = normalize_list(text.lines())
            .map_err(|err| anyhow::anyhow!("keyword file {}: {err}", path.display()))?;
        let seeded =
            db.run_blocking(|conn| settings::put_if_absent(conn, name, &list.join("\n"), now))?;
        if seeded {
            tracing::info!(
                list = name,
                entries = list.len(),
                "keyword list seeded from file"
            );
        }
    }
    Ok(db.run_blocking(read_matcher)?)
}

/// Polls the lists' version and swaps in a rebuilt matcher when it changed.
pub fn spawn_refresh(db: Database, keywords: Arc<ArcSwap<KeywordMatcher>>) {
    actix_web::rt::spawn(async move {
        let mut interval = actix_web::rt::time::interval(KEYWORD_POLL_INTERVAL);
        loop {
            interval.tick().await;
            let Ok(version) = db.run(settings::keywords_version).await else {
                continue;
            };
            if version == keywords.load().version() {
                continue;
            }
            match db.run(read_matcher).await {
                Ok(matcher) => {
                    tracing::info!(version, "keyword lists reloaded");
                    keywords.store(Arc::new(matcher));
                }
                Err(err) => tracing::warn!(error = %err, "keyword lists could not be reloaded"),
            }
        }
    });
}

fn lists_json(matcher: &KeywordMatcher) -> serde_json::Value {
    json!({
        "moderation_keys": matcher.moderation_keys(),
        "disallowed_keys": matcher.disallowed_keys(),
        "version": matcher.version(),
    })
}

/// The lists as stored (every instance applies them within [`KEYWORD_POLL_INTERVAL`]).
pub async fn get_keywords(
    _admin: Admin,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let matcher = state.db.run(read_matcher).await?;
    Ok(HttpResponse::Ok().json(lists_json(&matcher)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeywordsRequest {
    moderation_keys: Option<Vec<String>>,
    disallowed_keys: Option<Vec<String>>,
}

/// Replaces either or both lists; every instance applies them within
/// [`KEYWORD_POLL_INTERVAL`], this one at once.
pub async fn put_keywords(
    _admin: Admin,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body: KeywordsRequest = super::read_json(&req, payload).await?;
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
    let now = Utc::now().trunc_subsecs(6).naive_utc();
    let matcher = state
        .db
        .run(move |conn| {
            // Both lists or neither.
            conn.transaction(|conn| {
                for (name, value) in &updates {
                    settings::put(conn, name, value, now)?;
                }
                Ok::<_, StorageError>(())
            })?;
            read_matcher(conn)
        })
        .await?;
    let response = lists_json(&matcher);
    state.keywords.store(Arc::new(matcher));
    tracing::info!("keyword lists updated");
    Ok(HttpResponse::Ok().json(response))
}
