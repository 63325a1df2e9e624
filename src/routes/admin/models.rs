//! `/api/v1/admin/models…` and `/api/v1/admin/jobs/{id}`: model versions,
//! training jobs, activation and rollback.

use actix_web::{HttpRequest, HttpResponse, web};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

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

/// One model version.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    version: String,
    /// `null` for the built-in model.
    created_at: Option<String>,
    /// Labelled examples it was trained on.
    training_size: i64,
    training_hash: Option<String>,
    #[schema(value_type = Option<Object>)]
    parameters: Value,
    /// Held-out precision, recall, F1, MCC, false-positive rate, ….
    #[schema(value_type = Option<Object>)]
    metrics: Value,
    /// The model shipped in the binary.
    built_in: bool,
    active: bool,
}

/// Every model version.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelList {
    models: Vec<ModelEntry>,
    /// The active version.
    active: String,
}

/// A queued training job.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobQueued {
    job_id: i64,
}

/// A training job.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Job {
    id: i64,
    #[schema(pattern = "^(queued|running|succeeded|failed)$")]
    status: String,
    /// What the job is doing now.
    progress: String,
    #[schema(value_type = Option<Object>)]
    parameters: Value,
    model_version: Option<String>,
    #[schema(value_type = Option<Object>)]
    metrics: Value,
    error: Option<String>,
    /// Whether the new model became active.
    activated: bool,
    /// Why it was activated or not (the gate's comparison).
    reason: Option<String>,
    created_at: String,
    started_at: Option<String>,
    finished_at: Option<String>,
}

/// An activated version.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Activated {
    version: String,
    active: bool,
}

/// Every version (the built-in one too), with which is active.
#[utoipa::path(
    get,
    path = "/api/v1/admin/models",
    tag = "admin",
    responses((status = 200, description = "The versions, newest first, the built-in one last.", body = ModelList))
)]
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
    let mut models: Vec<ModelEntry> = stored
        .into_iter()
        .map(|m| ModelEntry {
            active: m.version == active_version,
            version: m.version,
            created_at: Some(rfc3339(m.created_at.and_utc())),
            training_size: m.training_rows,
            training_hash: Some(m.training_hash),
            parameters: json_or_null(Some(&m.parameters)),
            metrics: json_or_null(Some(&m.metrics)),
            built_in: false,
        })
        .collect();
    let built_in = state.model.default_model();
    models.push(ModelEntry {
        version: default_version,
        created_at: None,
        training_size: i64::try_from(built_in.training_rows()).unwrap_or(i64::MAX),
        training_hash: None,
        parameters: Value::Null,
        metrics: serde_json::to_value(built_in.metrics()).unwrap_or(Value::Null),
        built_in: true,
        active: active.is_none(),
    });
    Ok(HttpResponse::Ok().json(ModelList {
        models,
        active: active_version,
    }))
}

/// What to train (an empty body takes the defaults).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainRequest {
    /// Train on the shipped base data too, the site's data weighted up
    /// (default `true`).
    include_base_data: Option<bool>,
    /// `if_better` (the default) or `always`.
    activate: Option<ActivatePolicy>,
}

/// Queues a training job on the stored labelled examples.
#[utoipa::path(
    post,
    path = "/api/v1/admin/models/train",
    tag = "admin",
    request_body(content = Option<TrainRequest>, content_type = "application/json"),
    responses(
        (status = 202, description = "Queued; follow it at `/api/v1/admin/jobs/{job_id}`.", body = JobQueued),
        (status = 415, description = "A body that is not JSON.", body = crate::routes::openapi::ErrorBody),
        (status = 422, description = "Too few labelled examples of a class, or a bad field.", body = crate::routes::openapi::ErrorBody),
    )
)]
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
            Ok(HttpResponse::Accepted().json(JobQueued { job_id }))
        }
        Err(message) => Err(ValidationErrors::single("examples", message).into()),
    }
}

/// A training job's state and outcome.
#[utoipa::path(
    get,
    path = "/api/v1/admin/jobs/{id}",
    tag = "admin",
    params(("id" = i64, Path, example = 1, description = "The job's id.")),
    responses((status = 200, description = "The job.", body = Job))
)]
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
    Ok(HttpResponse::Ok().json(Job {
        id: job.id,
        status: job.status,
        progress: job.progress,
        parameters: json_or_null(Some(&job.parameters)),
        model_version: job.model_version,
        metrics: json_or_null(job.metrics.as_deref()),
        error: job.error,
        activated: job.activated,
        reason: job.reason,
        created_at: rfc3339(job.created_at.and_utc()),
        started_at: job.started_at.map(|t| rfc3339(t.and_utc())),
        finished_at: job.finished_at.map(|t| rfc3339(t.and_utc())),
    }))
}

/// Makes a version active (roll forward or back); every instance follows
/// within a few seconds.
#[utoipa::path(
    post,
    path = "/api/v1/admin/models/{version}/activate",
    tag = "admin",
    params(("version" = String, Path, example = "spam_nb-v1", description = "A version from the model list (the built-in one rolls back to it).")),
    responses(
        (status = 200, description = "Active; every instance follows within a few seconds.", body = Activated),
        (status = 422, description = "The stored model does not load.", body = crate::routes::openapi::ErrorBody),
    )
)]
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
    Ok(HttpResponse::Ok().json(Activated {
        version,
        active: true,
    }))
}
