//! SQLite's one writer. SQLite lets one connection write at a time; writers
//! racing for that lock sleep in its busy handler, and those sleeps make the
//! tail of every request that writes. Here one thread owns one write
//! connection and takes writes from a queue: it runs what is waiting (up to
//! [`MAX_BATCH`]) in one transaction, each write in its own savepoint so that
//! one failure leaves the others alone, commits once (one `fsync` for the
//! batch with `synchronous=FULL`), and only then answers each caller. Reads
//! keep using the pool (WAL: they never wait for the writer).

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use std::time::Instant;

use diesel::Connection;
use diesel::connection::SimpleConnection;
use tokio::sync::oneshot;

use super::{DbConn, StorageError};

/// Most writes committed together.
pub const MAX_BATCH: usize = 64;

/// Writes waiting before more are refused (503) rather than queued.
const QUEUE: usize = 4096;

/// One write, run by the writer thread.
trait Write: Send {
    /// Whether the caller still waits for it (a write nobody waits for any
    /// more was answered 503 and must not be made).
    fn wanted(&self) -> bool;

    /// Runs in its own savepoint; what it returns answers the caller after
    /// the batch's commit.
    fn run(self: Box<Self>, conn: &mut DbConn) -> Box<dyn Finish>;
}

/// A write's answer, held until the batch commits.
trait Finish: Send {
    /// The write failed in a way that may have broken the batch's
    /// transaction (the database, not a rule, refused it): the batch stops.
    fn fatal(&self) -> bool;

    fn finish(self: Box<Self>, committed: Result<(), &str>);
}

struct Pending<T, F> {
    work: F,
    reply: oneshot::Sender<Result<T, StorageError>>,
    /// After this the caller has given up (503): the write must not happen.
    deadline: Instant,
}

struct Done<T> {
    result: Result<T, StorageError>,
    reply: oneshot::Sender<Result<T, StorageError>>,
}

impl<T, F> Write for Pending<T, F>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConn) -> Result<T, StorageError> + Send + 'static,
{
    fn wanted(&self) -> bool {
        !self.reply.is_closed() && Instant::now() < self.deadline
    }

    fn run(self: Box<Self>, conn: &mut DbConn) -> Box<dyn Finish> {
        let result = super::transaction(conn, self.work);
        Box::new(Done {
            result,
            reply: self.reply,
        })
    }
}

impl<T: Send> Finish for Done<T> {
    fn fatal(&self) -> bool {
        matches!(
            self.result,
            Err(StorageError::Unavailable(_)
                | StorageError::Query(_)
                | StorageError::TaskFailed(_))
        )
    }

    fn finish(self: Box<Self>, committed: Result<(), &str>) {
        let answer = match committed {
            Ok(()) => self.result,
            // Nothing of the batch was kept, whatever this write returned.
            Err(reason) => Err(StorageError::Unavailable(reason.to_owned())),
        };
        // A caller that stopped waiting is told nothing.
        let _ = self.reply.send(answer);
    }
}

type Job = Box<dyn Write>;

/// The handle to the writer thread; the thread ends when the last handle goes.
#[derive(Debug)]
pub struct Writer {
    jobs: SyncSender<Job>,
}

impl Writer {
    /// Starts the thread; `connect` opens its connection (again after a failure).
    /// `lock` is a write statement run first in every batch: it takes
    /// SQLite's write lock before any job reads, so no job can meet a
    /// snapshot that another connection's commit made stale
    /// (`SQLITE_BUSY_SNAPSHOT`, which the busy handler does not retry).
    pub fn start(
        connect: impl Fn() -> Result<DbConn, StorageError> + Send + 'static,
        lock: &'static str,
        batches: impl Fn(usize) + Send + 'static,
    ) -> Self {
        let (jobs, queue) = sync_channel(QUEUE);
        let spawned = std::thread::Builder::new()
            .name("replyguard-writer".into())
            .spawn(move || write_loop(&queue, &connect, lock, &batches));
        if let Err(err) = spawned {
            // Every write then answers 503 (the queue has no reader).
            tracing::error!(error = %err, "the SQLite writer thread could not start");
        }
        Self { jobs }
    }

    /// Queues `work`; the receiver gets its result once its batch committed
    /// (or an error: if the receiver sees the sender dropped, the write was
    /// not committed).
    ///
    /// # Errors
    /// [`StorageError::Unavailable`] when too many writes wait already.
    pub fn submit<T, F>(
        &self,
        work: F,
        deadline: Instant,
    ) -> Result<oneshot::Receiver<Result<T, StorageError>>, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, StorageError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        match self.jobs.try_send(Box::new(Pending {
            work,
            reply,
            deadline,
        })) {
            Ok(()) => Ok(answer),
            Err(TrySendError::Full(_)) => Err(StorageError::Unavailable(
                "too many writes are waiting for the database".into(),
            )),
            Err(TrySendError::Disconnected(_)) => Err(StorageError::Unavailable(
                "the database writer has stopped".into(),
            )),
        }
    }
}

fn write_loop(
    queue: &Receiver<Job>,
    connect: &dyn Fn() -> Result<DbConn, StorageError>,
    lock: &str,
    batches: &dyn Fn(usize),
) {
    let mut conn: Option<DbConn> = None;
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // Writes whose callers gave up are dropped unmade.
        batch.retain(|job| job.wanted());
        if batch.is_empty() {
            continue;
        }
        batches(batch.len());
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match connect() {
                Ok(c) => conn.insert(c),
                Err(err) => {
                    tracing::warn!(error = %err, "the writer cannot reach the database");
                    // Dropping the batch tells each caller it was not written.
                    continue;
                }
            },
        };
        let mut finishes: Vec<Box<dyn Finish>> = Vec::with_capacity(batch.len());
        // A write that panics (a bug) must not take the writer with it: its
        // batch is rolled back and its callers get 503.
        let committed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            c.transaction(|c| {
                c.batch_execute(lock)?;
                for job in batch {
                    // A caller that gave up while earlier jobs ran is dropped.
                    if !job.wanted() {
                        continue;
                    }
                    let finish = job.run(c);
                    let fatal = finish.fatal();
                    finishes.push(finish);
                    if fatal {
                        // SQLite may have rolled the whole transaction back
                        // (a full disk, an I/O error): nothing more runs in
                        // it, and none of it is reported done. The jobs not
                        // run are dropped, and their callers get 503.
                        return Err(diesel::result::Error::RollbackTransaction);
                    }
                }
                Ok::<(), diesel::result::Error>(())
            })
        }));
        match committed {
            Ok(Ok(())) => finishes.into_iter().for_each(|f| f.finish(Ok(()))),
            Ok(Err(err)) => {
                let reason = format!("the write could not be committed: {err}");
                tracing::warn!(error = %err, "a batch of writes was not committed");
                finishes.into_iter().for_each(|f| f.finish(Err(&reason)));
                // Start over on a fresh connection.
                conn = None;
            }
            Err(_) => {
                tracing::error!("a write panicked; its batch was not committed");
                finishes
                    .into_iter()
                    .for_each(|f| f.finish(Err("the write failed")));
                conn = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use diesel::sql_types::BigInt;

    use super::*;

    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        x: i64,
    }

    fn writer(
        dir: &std::path::Path,
    ) -> (Writer, String, std::sync::Arc<std::sync::Mutex<Vec<usize>>>) {
        let path = dir.join("w.db").to_string_lossy().into_owned();
        let mut setup = diesel::SqliteConnection::establish(&path).unwrap();
        setup
            .batch_execute("PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER NOT NULL)")
            .unwrap();
        let sizes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = sizes.clone();
        let url = path.clone();
        let writer = Writer::start(
            move || {
                diesel::SqliteConnection::establish(&url)
                    .map(DbConn::Sqlite)
                    .map_err(|err| StorageError::Unavailable(err.to_string()))
            },
            "UPDATE t SET x = x WHERE 0",
            move |size| seen.lock().unwrap().push(size),
        );
        (writer, path, sizes)
    }

    fn insert(x: i64) -> impl FnOnce(&mut DbConn) -> Result<i64, StorageError> + Send + 'static {
        move |conn| {
            diesel::sql_query("INSERT INTO t (x) VALUES (?)")
                .bind::<BigInt, _>(x)
                .execute(conn)?;
            Ok(x)
        }
    }

    fn later() -> Instant {
        Instant::now() + std::time::Duration::from_secs(60)
    }

    fn stored(path: &str) -> Vec<i64> {
        let mut conn = diesel::SqliteConnection::establish(path).unwrap();
        diesel::sql_query("SELECT x FROM t ORDER BY x")
            .load::<Row>(&mut conn)
            .unwrap()
            .into_iter()
            .map(|r| r.x)
            .collect()
    }

    #[tokio::test]
    async fn a_failed_write_leaves_the_rest_of_its_batch_committed() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, path, sizes) = writer(dir.path());
        let mut answers = Vec::new();
        for x in 0..50 {
            let answer = if x == 7 {
                // Writes, then fails: its savepoint is rolled back.
                writer.submit(
                    move |conn: &mut DbConn| -> Result<i64, StorageError> {
                        insert(x)(conn)?;
                        Err(StorageError::Corrupt("refused".into()))
                    },
                    later(),
                )
            } else {
                writer.submit(insert(x), later())
            };
            answers.push(answer.unwrap());
        }
        for (x, answer) in (0..50).zip(answers) {
            let result = answer.await.unwrap();
            if x == 7 {
                assert!(matches!(result, Err(StorageError::Corrupt(_))));
            } else {
                assert_eq!(result.unwrap(), x);
            }
        }
        let expected: Vec<i64> = (0..50).filter(|x| *x != 7).collect();
        assert_eq!(stored(&path), expected);
        let sizes = sizes.lock().unwrap().clone();
        assert_eq!(sizes.iter().sum::<usize>(), 50);
        assert!(
            sizes.len() < 50,
            "writes queued together share commits: {sizes:?}"
        );
    }

    #[tokio::test]
    async fn a_panicking_write_fails_its_batch_and_the_writer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, path, _) = writer(dir.path());
        let boom = writer
            .submit(
                |_: &mut DbConn| -> Result<(), StorageError> { panic!("a bug") },
                later(),
            )
            .unwrap();
        // Its reply is dropped while unwinding: the caller sees no answer,
        // which `Database::write` reports as 503.
        assert!(!matches!(boom.await, Ok(Ok(()))));
        let after = writer.submit(insert(1), later()).unwrap();
        assert_eq!(after.await.unwrap().unwrap(), 1);
        assert_eq!(stored(&path), [1]);
    }

    #[tokio::test]
    async fn a_write_whose_caller_gave_up_is_not_made() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, path, _) = writer(dir.path());
        // Keeps the writer busy while the next writes queue and their callers
        // give up, whether it takes them in its batch or the next.
        let busy = writer
            .submit(
                |conn: &mut DbConn| -> Result<i64, StorageError> {
                    std::thread::sleep(std::time::Duration::from_millis(300));
                    insert(0)(conn)
                },
                later(),
            )
            .unwrap();
        let expired = writer.submit(insert(1), Instant::now()).unwrap();
        let dropped = writer.submit(insert(2), later()).unwrap();
        drop(dropped);
        let kept = writer.submit(insert(3), later()).unwrap();
        assert_eq!(kept.await.unwrap().unwrap(), 3);
        assert_eq!(busy.await.unwrap().unwrap(), 0);
        assert!(expired.await.is_err());
        assert_eq!(stored(&path), [0, 3]);
    }

    #[tokio::test]
    async fn a_database_failure_stops_the_batch_and_nothing_of_it_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, path, _) = writer(dir.path());
        let first = writer.submit(insert(1), later()).unwrap();
        let broken = writer
            .submit(
                |conn: &mut DbConn| -> Result<(), StorageError> {
                    diesel::sql_query("INSERT INTO missing_table VALUES (1)").execute(conn)?;
                    Ok(())
                },
                later(),
            )
            .unwrap();
        let after = writer.submit(insert(3), later()).unwrap();
        let first = first.await;
        let broken = broken.await;
        let after = after.await;
        // Whatever shared the broken write's batch was not kept, and said so.
        let kept = stored(&path);
        assert!(!matches!(broken, Ok(Ok(()))));
        assert_eq!(kept.contains(&1), matches!(first, Ok(Ok(1))), "{kept:?}");
        assert_eq!(kept.contains(&3), matches!(after, Ok(Ok(3))), "{kept:?}");
        // The writer goes on.
        let again = writer.submit(insert(4), later()).unwrap();
        assert_eq!(again.await.unwrap().unwrap(), 4);
    }
}
