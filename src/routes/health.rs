//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::state::AppState;

/// How long `/readyz` waits for the database: a probe must get an answer
/// within a second whatever the database does.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_millis(900);

/// `/healthz`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Alive {
    #[schema(example = "ok")]
    status: &'static str,
}

/// `/readyz`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Ready {
    #[schema(example = "ready")]
    status: &'static str,
    /// `sqlite` or `postgres`.
    database: &'static str,
    /// The version the instance scores with.
    model_version: String,
}

/// Alive: the process answers HTTP.
#[utoipa::path(
    method(get, head),
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "The process answers.", body = Alive))
)]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Alive { status: "ok" })
}

/// Ready: the database answers with replyguard's tables and a model is loaded;
/// 503 `unavailable` otherwise.
#[utoipa::path(
    method(get, head),
    path = "/readyz",
    tag = "operations",
    responses((status = 200, description = "The database answers and a model is loaded.", body = Ready))
)]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.db.ping(READY_WITHIN).await?;
    Ok(HttpResponse::Ok().json(Ready {
        status: "ready",
        database: state.db.url().backend(),
        model_version: state.model.current().version().to_owned(),
    }))
}

/// Prometheus text: see [`crate::metrics`]. With `REPLYGUARD_METRICS_TOKEN`
/// set, only for `Authorization: Bearer <that token>` (the numbers say how much
/// spam a site gets).
#[utoipa::path(
    method(get, head),
    path = "/metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus text exposition (the README lists every metric).", content_type = "text/plain", body = String),
        (status = 401, description = "`REPLYGUARD_METRICS_TOKEN` is set and was not presented.", body = crate::routes::openapi::ErrorBody),
    ),
    security((), ("metrics_token" = []))
)]
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
