//! PostgreSQL's submissions in one statement (issue #13): one submission
//! ([`submit_one`]: the `replyguard_submit` function a migration installs), or
//! every submission an instance has waiting ([`submit_batch`]:
//! `replyguard_submit_batch`), in one round trip, one transaction and one
//! commit. The submitter's locks, the reply-target, duplicate and flood checks,
//! the known-author fact and the insert all run in the database, with the same
//! guarantees as [`super::comments::lock_submitter`] and the separate checks
//! in a transaction (SQLite's path).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{Array, BigInt, Bool, Double, Nullable, Text, Timestamp};
use serde::Serialize;

use super::comments::submitter_key;
use super::{Batcher, Database, DbConn, StorageError};
use crate::domain::CommentId;

/// A submission as the database gets it: the row, what the checks need, and
/// the status and reasons for both answers to "is the author known?" (the
/// application decided everything else; the database stores the one that
/// holds). Field names are the batch function's JSON keys.
#[derive(Debug, Clone, Serialize)]
pub struct Submission {
    pub post_id: String,
    pub parent_id: Option<i64>,
    /// As stored (lower-cased).
    pub email: String,
    pub ip: Option<String>,
    /// Lock the client IP too (flood control is on).
    #[serde(skip)]
    pub lock_ip: bool,
    /// Every fingerprint an earlier copy of the text may be stored under.
    pub fingerprints: Vec<String>,
    #[serde(serialize_with = "as_interval_seconds")]
    pub flood_seconds: u64,
    pub status_known: String,
    /// JSON.
    pub reasons_known: String,
    pub status_new: String,
    /// JSON.
    pub reasons_new: String,
    pub author_name: String,
    pub author_url: Option<String>,
    pub content: String,
    pub permalink: Option<String>,
    pub user_agent: Option<String>,
    pub referrer: Option<String>,
    pub spam_score: Option<f64>,
    pub model_version: Option<String>,
    /// The fingerprint stored with the row.
    pub fingerprint: String,
}

/// The longest flood interval sent to PostgreSQL: a century. An interval
/// beyond about 292,000 years overflows PostgreSQL's; a century is as long as
/// forever here.
const FLOOD_SECONDS_CAP: u64 = 100 * 366 * 24 * 3600;

fn interval_seconds(seconds: u64) -> i64 {
    i64::try_from(seconds.min(FLOOD_SECONDS_CAP)).unwrap_or(i64::MAX)
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's signature
fn as_interval_seconds<S: serde::Serializer>(seconds: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_i64(interval_seconds(*seconds))
}

impl Submission {
    /// The advisory-lock keys this submission needs, sorted.
    fn lock_keys(&self) -> Vec<i64> {
        let mut keys = vec![submitter_key("email", &self.email.to_lowercase())];
        if let Some(ip) = self.ip.as_deref().filter(|_| self.lock_ip) {
            keys.push(submitter_key("ip", ip));
        }
        // Always in the same order, so two transactions cannot deadlock.
        keys.sort_unstable();
        keys
    }
}

/// What the database made of a submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    Stored {
        id: CommentId,
        created_at: NaiveDateTime,
        known_author: bool,
    },
    /// The reply target is not an approved comment of the post.
    ParentRefused,
    Duplicate,
    /// Too soon after `latest` (both times by the database's clock).
    Flooded {
        now: NaiveDateTime,
        latest: NaiveDateTime,
    },
}

/// One answer of either function (`n` only from the batch).
#[derive(QueryableByName)]
struct Answer {
    #[diesel(sql_type = Text)]
    outcome: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    id: Option<i64>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    created_at: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    latest: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<Bool>)]
    known_author: Option<bool>,
}

#[derive(QueryableByName)]
struct Numbered {
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(embed)]
    answer: Answer,
}

impl Answer {
    fn submitted(self) -> Result<Submitted, StorageError> {
        let missing = || StorageError::Corrupt("replyguard_submit answered without a value".into());
        Ok(match self.outcome.as_str() {
            "stored" => Submitted::Stored {
                id: CommentId(self.id.ok_or_else(missing)?),
                created_at: self.created_at.ok_or_else(missing)?,
                known_author: self.known_author.unwrap_or(false),
            },
            "parent" => Submitted::ParentRefused,
            "duplicate" => Submitted::Duplicate,
            "flood" => Submitted::Flooded {
                now: self.created_at.ok_or_else(missing)?,
                latest: self.latest.ok_or_else(missing)?,
            },
            other => {
                return Err(StorageError::Corrupt(format!(
                    "replyguard_submit answered {other:?}"
                )));
            }
        })
    }
}

fn postgres(conn: &mut DbConn) -> Result<&mut diesel::PgConnection, StorageError> {
    match conn {
        DbConn::Pg(pg) => Ok(pg),
        DbConn::Sqlite(_) => Err(StorageError::Corrupt(
            "one-statement submissions are PostgreSQL's".into(),
        )),
    }
}

/// One submission in one round trip.
///
/// # Errors
/// Any database failure (a parent erased meanwhile is a foreign-key
/// [`super::Constraint`]); [`StorageError::Corrupt`] on SQLite.
pub fn submit_one(conn: &mut DbConn, s: &Submission) -> Result<Submitted, StorageError> {
    let pg = postgres(conn)?;
    let answer: Answer = diesel::sql_query(
        "SELECT * FROM replyguard_submit($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
         $12, $13, $14, $15, $16, $17, $18, $19, $20)",
    )
    .bind::<Array<BigInt>, _>(s.lock_keys())
    .bind::<Text, _>(&s.post_id)
    .bind::<Nullable<BigInt>, _>(s.parent_id)
    .bind::<Text, _>(&s.email)
    .bind::<Nullable<Text>, _>(&s.ip)
    .bind::<Array<Text>, _>(&s.fingerprints)
    .bind::<BigInt, _>(interval_seconds(s.flood_seconds))
    .bind::<Text, _>(&s.status_known)
    .bind::<Text, _>(&s.reasons_known)
    .bind::<Text, _>(&s.status_new)
    .bind::<Text, _>(&s.reasons_new)
    .bind::<Text, _>(&s.author_name)
    .bind::<Nullable<Text>, _>(&s.author_url)
    .bind::<Text, _>(&s.content)
    .bind::<Nullable<Text>, _>(&s.permalink)
    .bind::<Nullable<Text>, _>(&s.user_agent)
    .bind::<Nullable<Text>, _>(&s.referrer)
    .bind::<Nullable<Double>, _>(s.spam_score)
    .bind::<Nullable<Text>, _>(&s.model_version)
    .bind::<Text, _>(&s.fingerprint)
    .get_result(pg)?;
    answer.submitted()
}

/// A batch in one round trip and one commit; the answers come in the batch's
/// order. The rules hold between submissions of the batch as one after
/// another.
///
/// A batch the database refuses as a whole (one submission broke a
/// constraint, e.g. its parent was erased meanwhile, or the batch lost a
/// deadlock; nothing of the batch was stored) is sent again one submission at
/// a time, so that one bad row does
/// not fail the others. When the database cannot be reached, or answers
/// something unreadable after storing the batch, every submission of it gets
/// that error (and none is sent again: it may be stored).
pub fn submit_batch(
    conn: &mut DbConn,
    batch: &[Submission],
) -> Vec<Result<Submitted, StorageError>> {
    match batch {
        [] => Vec::new(),
        [one] => vec![submit_one(conn, one)],
        _ => match call_batch(conn, batch) {
            Ok(answers) => answers,
            Err(BatchError::Refused(err)) => {
                tracing::debug!(error = %err, size = batch.len(),
                    "a batch of submissions was refused; sending them one at a time");
                batch.iter().map(|s| submit_one(conn, s)).collect()
            }
            Err(BatchError::Failed(err)) => {
                let why = err.to_string();
                batch
                    .iter()
                    .map(|_| Err(StorageError::Unavailable(why.clone())))
                    .collect()
            }
        },
    }
}

enum BatchError {
    /// The statement failed: nothing of the batch was stored.
    Refused(StorageError),
    /// The database is out of reach, or the batch may have been stored.
    Failed(StorageError),
}

fn call_batch(
    conn: &mut DbConn,
    batch: &[Submission],
) -> Result<Vec<Result<Submitted, StorageError>>, BatchError> {
    #[derive(Serialize)]
    struct Row<'a> {
        n: usize,
        #[serde(flatten)]
        submission: &'a Submission,
    }
    let pg = postgres(conn).map_err(BatchError::Failed)?;
    // Every lock of the batch first, in one order.
    let mut keys: Vec<i64> = batch.iter().flat_map(Submission::lock_keys).collect();
    keys.sort_unstable();
    keys.dedup();
    let rows: Vec<Row<'_>> = batch
        .iter()
        .enumerate()
        .map(|(n, submission)| Row { n, submission })
        .collect();
    let rows = serde_json::to_string(&rows)
        .map_err(|err| BatchError::Refused(StorageError::Encode(err)))?;
    let answers: Vec<Numbered> = diesel::sql_query("SELECT * FROM replyguard_submit_batch($1, $2)")
        .bind::<Array<BigInt>, _>(&keys)
        .bind::<Text, _>(&rows)
        .load(pg)
        .map_err(batch_error)?;
    let mut out: Vec<Option<Result<Submitted, StorageError>>> =
        std::iter::repeat_with(|| None).take(batch.len()).collect();
    for numbered in answers {
        let slot = usize::try_from(numbered.n)
            .ok()
            .and_then(|n| out.get_mut(n));
        if let Some(slot) = slot {
            *slot = Some(numbered.answer.submitted());
        }
    }
    Ok(out
        .into_iter()
        .map(|answer| {
            answer.unwrap_or_else(|| {
                Err(StorageError::Corrupt(
                    "replyguard_submit_batch left a submission unanswered".into(),
                ))
            })
        })
        .collect())
}

/// Whether a failed batch statement certainly stored nothing and may be sent
/// again one row at a time.
fn batch_error(err: DieselError) -> BatchError {
    // Only a statement the server refused, or binds that could not be
    // encoded, certainly stored nothing.
    let refused = matches!(
        err,
        DieselError::DatabaseError(..) | DieselError::SerializationError(_)
    );
    // A deadlock (e.g. with an erasure of two parents the batch replies to)
    // or a serialization failure is one row's conflict: the statement was
    // rolled back, so its rows go one at a time rather than all failing.
    let conflict = match &err {
        DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, info) => {
            info.message().contains("deadlock detected")
        }
        _ => false,
    };
    match StorageError::from(err) {
        err if conflict => BatchError::Refused(err),
        err @ StorageError::Unavailable(_) => BatchError::Failed(err),
        err if refused => BatchError::Refused(err),
        err => BatchError::Failed(err),
    }
}

/// Most submissions committed together.
const MAX_BATCH: usize = 64;

/// Batches stored at once, each on its own pooled connection: while one
/// waits for its commit (the disk), the next is checked and inserted.
const IN_FLIGHT: usize = 2;

/// PostgreSQL's group commit of submissions ([`Batcher`] over
/// [`submit_batch`]).
pub type SubmissionQueue = Batcher<Submission, Submitted>;

/// Starts the group commit of submissions on `db` (on the current tokio
/// runtime); batch sizes go to [`Database::write_batches`].
pub fn queue(db: &Database) -> SubmissionQueue {
    let db = db.clone();
    let sizes = db.write_batches();
    Batcher::start(MAX_BATCH, IN_FLIGHT, move |batch: Vec<Submission>| {
        let db = db.clone();
        #[allow(clippy::cast_precision_loss)] // at most MAX_BATCH
        sizes.observe(batch.len() as f64);
        async move {
            let size = batch.len();
            match db.run(move |conn| Ok(submit_batch(conn, &batch))).await {
                Ok(answers) => answers,
                Err(err) => {
                    let why = err.to_string();
                    (0..size)
                        .map(|_| Err(StorageError::Unavailable(why.clone())))
                        .collect()
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use diesel::result::DatabaseErrorInformation;

    use super::*;

    struct Info(&'static str);

    impl DatabaseErrorInformation for Info {
        fn message(&self) -> &str {
            self.0
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            None
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    fn database(kind: DatabaseErrorKind, message: &'static str) -> DieselError {
        DieselError::DatabaseError(kind, Box::new(Info(message)))
    }

    #[test]
    fn only_a_batch_that_certainly_stored_nothing_is_sent_again_row_by_row() {
        let again = |err| matches!(batch_error(err), BatchError::Refused(_));
        assert!(again(database(
            DatabaseErrorKind::ForeignKeyViolation,
            "fk"
        )));
        assert!(again(database(DatabaseErrorKind::CheckViolation, "check")));
        assert!(again(database(
            DatabaseErrorKind::Unknown,
            "deadlock detected"
        )));
        assert!(again(database(
            DatabaseErrorKind::SerializationFailure,
            "could not serialize access"
        )));
        // The connection went away: the commit may have happened.
        assert!(!again(database(
            DatabaseErrorKind::ClosedConnection,
            "server closed the connection"
        )));
        // The statement ran and answered something unreadable: it is stored.
        assert!(!again(DieselError::DeserializationError("bad".into())));
        // A lock wait past the timeout: row by row would wait again, per row.
        assert!(!again(database(
            DatabaseErrorKind::Unknown,
            "canceling statement due to lock timeout"
        )));
    }
}
