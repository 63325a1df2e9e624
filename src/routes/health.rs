//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

/// How long `/readyz` waits for the database: a probe must get an answer
/// within a second whatever the database does.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_millis(900);

/// Alive: the process answers HTTP.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready: the database answers with replyguard's tables and a model is loaded;
/// 503 `unavailable` otherwise.
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.db.ping(READY_WITHIN).await?;
    Ok(HttpResponse::Ok().json(json!({
        "status": "ready",
        "database": state.db.url().backend(),
        "model_version": state.model.current().version(),
    })))
}

/// Prometheus text: see [`crate::metrics`]. With `REPLYGUARD_METRICS_TOKEN`
/// set, only for `Authorization: Bearer <that token>` (the numbers say how much
/// spam a site gets).
pub async fn metrics(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if let Some(expected) = &state.settings.metrics_token {
        let presented = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !crate::auth::same_token(presented.trim(), expected) {
            return Err(ApiError::Unauthorized);
        }
    }
    let body = state.metrics.render(state.model.current().version());
    Ok(HttpResponse::Ok()
        .content_type(prometheus_client::encoding::prometheus_text::CONTENT_TYPE)
        .body(body))
}
