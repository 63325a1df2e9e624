//! `/api/v1/admin/models…` and `/api/v1/admin/jobs/{id}`: model versions,
//! training jobs, activation and rollback.

use actix_web::{HttpRequest, HttpResponse, web};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::classifier::{Artifact, SpamModel};
use crate::domain::ValidationErrors;
use crate::error::ApiError;
use crate::retrain::{ActivatePolicy, TrainParams, queue_job};
use crate::routes::auth::Admin;
use crate::routes::body::{BODY_LIMIT_BYTES, parse_json, read_body};
use crate::routes::comments::rfc3339;
use crate::state::AppState;
use crate::storage::models;

fn json_or_null(text: Option<&str>) -> Value {
    text.and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null)
}

/// Every version (the built-in one too), with which is active.
pub async fn list_models(
    _admin: Admin,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (stored, (active, _)) = state
        .db
        .run(|conn| Ok((models::list(conn)?, models::active(conn)?)))
        .await?;
    let default_version = state.model.default_version().to_owned();
    let active_version = active.clone().unwrap_or_else(|| default_version.clone());
    let mut list: Vec<Value> = stored
        .into_iter()
        .map(|m| {
            json!({
                "version": m.version,
                "created_at": rfc3339(m.created_at.and_utc()),
                "training_size": m.training_rows,
                "training_hash": m.training_hash,
                "parameters": json_or_null(Some(&m.parameters)),
                "metrics": json_or_null(Some(&m.metrics)),
                "built_in": false,
                "active": m.version == active_version,
            })
        })
        .collect();
    let built_in = state.model.default_model();
    list.push(json!({
        "version": default_version,
        "created_at": Value::Null,
        "training_size": built_in.training_rows(),
        "training_hash": Value::Null,
        "parameters": Value::Null,
        "metrics": built_in.metrics(),
        "built_in": true,
        "active": active.is_none(),
    }));
    Ok(HttpResponse::Ok().json(json!({"models": list, "active": active_version})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainRequest {
    include_base_data: Option<bool>,
    activate: Option<ActivatePolicy>,
}

/// Queues a training job on the stored labelled examples.
pub async fn train(
    _admin: Admin,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(&req, payload, BODY_LIMIT_BYTES).await?;
    let request: TrainRequest = if body.iter().all(u8::is_ascii_whitespace) {
        TrainRequest {
            include_base_data: None,
            activate: None,
        }
    } else {
        parse_json(&req, &body)?
    };
    let params = TrainParams {
        include_base_data: request.include_base_data.unwrap_or(true),
        activate: request.activate.unwrap_or_default(),
    };
    let min = state.settings.min_examples_per_class;
    let queued = state
        .db
        .run(move |conn| queue_job(conn, params, min))
        .await?;
    match queued {
        Ok(job_id) => {
            tracing::info!(job_id, "training job queued");
            Ok(HttpResponse::Accepted().json(json!({"job_id": job_id})))
        }
        Err(message) => Err(ValidationErrors::single("examples", message).into()),
    }
}

/// A training job's state and outcome.
pub async fn get_job(
    _admin: Admin,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let job = state
        .db
        .run(move |conn| models::find_job(conn, id))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("There is no training job {id}.")))?;
    Ok(HttpResponse::Ok().json(json!({
        "id": job.id,
        "status": job.status,
        "progress": job.progress,
        "parameters": json_or_null(Some(&job.parameters)),
        "model_version": job.model_version,
        "metrics": json_or_null(job.metrics.as_deref()),
        "error": job.error,
        "activated": job.activated,
        "reason": job.reason,
        "created_at": rfc3339(job.created_at.and_utc()),
        "started_at": job.started_at.map(|t| rfc3339(t.and_utc())),
        "finished_at": job.finished_at.map(|t| rfc3339(t.and_utc())),
    })))
}

/// Makes a version active (roll forward or back); every instance follows
/// within a few seconds.
pub async fn activate(
    admin: Admin,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let version = path.into_inner();
    if version.chars().any(char::is_control) {
        return Err(ApiError::NotFound(format!(
            "There is no model {version:?}."
        )));
    }
    let built_in = version == state.model.default_version();
    let now = crate::storage::now();
    let target = version.clone();
    let outcome = state
        .db
        .run(move |conn| {
            if built_in {
                models::set_active(conn, None, None, now)?;
                return Ok(Ok(()));
            }
            let Some(json) = models::artifact(conn, &target)? else {
                return Ok(Err(None));
            };
            // Never switch every instance to a model that does not load.
            if let Err(err) =
                Artifact::from_json(json.as_bytes()).and_then(SpamModel::from_artifact)
            {
                return Ok(Err(Some(err)));
            }
            models::set_active(conn, Some(&target), None, now)?;
            Ok(Ok(()))
        })
        .await?;
    match outcome {
        Ok(()) => {}
        Err(None) => return Err(ApiError::NotFound(format!("There is no model {version}."))),
        Err(Some(err)) => {
            return Err(ValidationErrors::single(
                "version",
                format!("The model {version} does not load, so it was not activated: {err}."),
            )
            .into());
        }
    }
    // The switch is committed: every instance, this one included, follows
    // within the poll interval even if loading it here fails now.
    let model = state.model.clone();
    match tokio::task::spawn_blocking(move || model.reload_if_switched()).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "the activated model will load on the next poll")
        }
        Err(err) => tracing::warn!(error = %err, "the activated model will load on the next poll"),
    }
    tracing::info!(model_version = %version, actor = %admin.actor, "model activated");
    Ok(HttpResponse::Ok().json(json!({"version": version, "active": true})))
}
