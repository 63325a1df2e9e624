//! Stored models, the active-model pointer and training jobs.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;

use super::schema::{active_model, models, training_jobs};
use super::{DbConn, StorageError};

/// A stored model without its artifact.
#[derive(Debug, Clone, Queryable)]
pub struct ModelSummary {
    pub version: String,
    pub created_at: NaiveDateTime,
    pub training_rows: i64,
    pub training_hash: String,
    pub parameters: String,
    pub metrics: String,
}

/// A model to store.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = models)]
pub struct NewModelRecord {
    pub version: String,
    pub created_at: NaiveDateTime,
    pub training_rows: i64,
    pub training_hash: String,
    pub parameters: String,
    pub metrics: String,
    pub artifact: String,
}

/// # Errors
/// Any database failure (a repeated version in particular).
pub fn insert(conn: &mut DbConn, record: &NewModelRecord) -> Result<(), StorageError> {
    diesel::insert_into(models::table)
        .values(record)
        .execute(conn)?;
    Ok(())
}

/// Every stored model, newest first.
///
/// # Errors
/// Any database failure.
pub fn list(conn: &mut DbConn) -> Result<Vec<ModelSummary>, StorageError> {
    Ok(models::table
        .select((
            models::version,
            models::created_at,
            models::training_rows,
            models::training_hash,
            models::parameters,
            models::metrics,
        ))
        .order(models::id.desc())
        .load(conn)?)
}

/// The artifact JSON of a stored model.
///
/// # Errors
/// Any database failure.
pub fn artifact(conn: &mut DbConn, version: &str) -> Result<Option<String>, StorageError> {
    Ok(models::table
        .filter(models::version.eq(version))
        .select(models::artifact)
        .first(conn)
        .optional()?)
}

/// The active version (`None`: the built-in model) and the switch generation.
///
/// # Errors
/// Any database failure.
pub fn active(conn: &mut DbConn) -> Result<(Option<String>, i64), StorageError> {
    Ok(active_model::table
        .select((active_model::version, active_model::generation))
        .first(conn)?)
}

/// Makes `version` (or the built-in model, for `None`) the active model. With
/// `if_generation`, only if the active model is still the one of that
/// generation: `false` if someone switched it in between.
///
/// # Errors
/// Any database failure.
pub fn set_active(
    conn: &mut DbConn,
    version: Option<&str>,
    if_generation: Option<i64>,
    now: NaiveDateTime,
) -> Result<bool, StorageError> {
    let mut target = diesel::update(active_model::table).into_boxed();
    if let Some(generation) = if_generation {
        target = target.filter(active_model::generation.eq(generation));
    }
    let changed = target
        .set((
            active_model::version.eq(version),
            active_model::generation.eq(active_model::generation + 1),
            active_model::changed_at.eq(now),
        ))
        .execute(conn)?;
    Ok(changed > 0)
}

/// One row of `training_jobs`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = training_jobs)]
pub struct JobRecord {
    pub id: i64,
    pub status: String,
    pub parameters: String,
    pub progress: String,
    pub model_version: Option<String>,
    pub metrics: Option<String>,
    pub error: Option<String>,
    pub activated: bool,
    pub reason: Option<String>,
    pub created_at: NaiveDateTime,
    pub started_at: Option<NaiveDateTime>,
    pub heartbeat_at: Option<NaiveDateTime>,
    pub finished_at: Option<NaiveDateTime>,
}

/// Queues a job; returns its id.
///
/// # Errors
/// Any database failure.
pub fn create_job(conn: &mut DbConn, parameters: &str) -> Result<i64, StorageError> {
    let now = database_now(conn)?;
    Ok(diesel::insert_into(training_jobs::table)
        .values((
            training_jobs::status.eq("queued"),
            training_jobs::parameters.eq(parameters),
            training_jobs::created_at.eq(now),
        ))
        .returning(training_jobs::id)
        .get_result(conn)?)
}

/// # Errors
/// Any database failure.
pub fn find_job(conn: &mut DbConn, id: i64) -> Result<Option<JobRecord>, StorageError> {
    Ok(training_jobs::table
        .filter(training_jobs::id.eq(id))
        .select(JobRecord::as_select())
        .first(conn)
        .optional()?)
}

/// Whether any job waits to be trained: the cheap check a worker makes before
/// it takes the training lock.
///
/// # Errors
/// Any database failure.
pub fn has_queued_job(conn: &mut DbConn) -> Result<bool, StorageError> {
    Ok(diesel::select(diesel::dsl::exists(
        training_jobs::table.filter(training_jobs::status.eq("queued")),
    ))
    .get_result(conn)?)
}

/// Moves the oldest queued job to `running`, unless another instance took it.
///
/// # Errors
/// Any database failure.
pub fn claim_next_job(conn: &mut DbConn) -> Result<Option<JobRecord>, StorageError> {
    let next: Option<i64> = training_jobs::table
        .filter(training_jobs::status.eq("queued"))
        .select(training_jobs::id)
        .order(training_jobs::id.asc())
        .first(conn)
        .optional()?;
    let Some(id) = next else { return Ok(None) };
    let now = database_now(conn)?;
    let claimed = diesel::update(
        training_jobs::table
            .filter(training_jobs::id.eq(id))
            .filter(training_jobs::status.eq("queued")),
    )
    .set((
        training_jobs::status.eq("running"),
        training_jobs::started_at.eq(now),
        training_jobs::heartbeat_at.eq(now),
        training_jobs::progress.eq("starting"),
    ))
    .execute(conn)?;
    if claimed == 0 {
        return Ok(None);
    }
    find_job(conn, id)
}

/// Records progress and proves the job's process is alive.
///
/// # Errors
/// Any database failure.
pub fn heartbeat(conn: &mut DbConn, id: i64, progress: &str) -> Result<(), StorageError> {
    let now = database_now(conn)?;
    diesel::update(training_jobs::table.filter(training_jobs::id.eq(id)))
        .set((
            training_jobs::progress.eq(progress),
            training_jobs::heartbeat_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// How a job ended.
#[derive(Debug, Clone, Default)]
pub struct JobResult {
    pub succeeded: bool,
    pub model_version: Option<String>,
    pub metrics: Option<String>,
    pub error: Option<String>,
    pub activated: bool,
    pub reason: Option<String>,
}

/// # Errors
/// Any database failure.
pub fn finish_job(conn: &mut DbConn, id: i64, result: &JobResult) -> Result<(), StorageError> {
    let now = database_now(conn)?;
    diesel::update(training_jobs::table.filter(training_jobs::id.eq(id)))
        .set((
            training_jobs::status.eq(if result.succeeded {
                "succeeded"
            } else {
                "failed"
            }),
            training_jobs::progress.eq("done"),
            training_jobs::model_version.eq(&result.model_version),
            training_jobs::metrics.eq(&result.metrics),
            training_jobs::error.eq(&result.error),
            training_jobs::activated.eq(result.activated),
            training_jobs::reason.eq(&result.reason),
            training_jobs::finished_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Marks `running` jobs whose process sent no heartbeat for `stale_after` as
/// failed. Heartbeats and this check both read [`database_now`], so instances
/// whose clocks disagree still agree on which jobs are silent.
///
/// # Errors
/// Any database failure.
pub fn fail_stale_jobs(conn: &mut DbConn, stale_after: TimeDelta) -> Result<usize, StorageError> {
    let now = database_now(conn)?;
    let silent_since = now - stale_after;
    Ok(diesel::update(
        training_jobs::table
            .filter(training_jobs::status.eq("running"))
            .filter(
                training_jobs::heartbeat_at
                    .lt(silent_since)
                    .or(training_jobs::heartbeat_at.is_null()),
            ),
    )
    .set((
        training_jobs::status.eq("failed"),
        training_jobs::error
            .eq("interrupted: the process running this job stopped before it finished"),
        training_jobs::finished_at.eq(now),
    ))
    .execute(conn)?)
}

pub use super::database_now;

/// Key of the PostgreSQL advisory lock held while a job trains.
const TRAINING_LOCK_KEY: i64 = 0x7267_7472_6169_6e21;

/// Takes the cluster-wide training lock (PostgreSQL: a session advisory lock on
/// this connection; SQLite: always granted, the caller serializes in-process).
///
/// # Errors
/// Any database failure.
pub fn try_lock_training(conn: &mut DbConn) -> Result<bool, StorageError> {
    #[derive(QueryableByName)]
    struct Locked {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        locked: bool,
    }
    match conn {
        DbConn::Pg(pg) => {
            let row: Locked = diesel::sql_query("SELECT pg_try_advisory_lock($1) AS locked")
                .bind::<diesel::sql_types::BigInt, _>(TRAINING_LOCK_KEY)
                .get_result(pg)?;
            Ok(row.locked)
        }
        DbConn::Sqlite(_) => Ok(true),
    }
}

/// Releases [`try_lock_training`].
///
/// # Errors
/// Any database failure.
pub fn unlock_training(conn: &mut DbConn) -> Result<(), StorageError> {
    if let DbConn::Pg(pg) = conn {
        diesel::sql_query("SELECT pg_advisory_unlock($1)")
            .bind::<diesel::sql_types::BigInt, _>(TRAINING_LOCK_KEY)
            .execute(pg)?;
    }
    Ok(())
}
