//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

/// Alive: the process answers HTTP.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready: the database answers with replyguard's tables and a model is loaded;
/// 503 `unavailable` otherwise.
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.db.ping().await?;
    Ok(HttpResponse::Ok().json(json!({
        "status": "ready",
        "database": state.db.url().backend(),
        "model_version": state.model.current().version(),
    })))
}
