//! Group commit on PostgreSQL: concurrent requests of one instance share one
//! statement, one transaction and one commit (one WAL flush), where each used
//! to pay for its own. A task takes what is waiting (up to a bound) and hands
//! it to `run` as one batch; a few batches may be in flight at once, each on
//! its own pooled connection through [`super::Database::run`] (so its call
//! timeout and circuit breaker apply: a frozen database cannot hold this
//! task). While they are, new requests queue and form the next batch. Each
//! caller is answered after the commit that holds its row, never before.
//!
//! SQLite has its own writer ([`super::writer`]): one connection, one thread.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::StorageError;

/// Items waiting before more are refused (503) rather than queued.
const QUEUE: usize = 4096;

struct Waiting<I, O> {
    item: I,
    reply: oneshot::Sender<Result<O, StorageError>>,
}

/// The handle to the batching task; the task ends when the last handle goes.
pub struct Batcher<I, O> {
    queue: mpsc::Sender<Waiting<I, O>>,
}

impl<I, O> std::fmt::Debug for Batcher<I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher").finish_non_exhaustive()
    }
}

impl<I: Send + 'static, O: Send + 'static> Batcher<I, O> {
    /// Starts the task on the current tokio runtime. `run` gets each batch
    /// (at most `max_batch` items, in arrival order) and answers each item,
    /// in the same order; at most `in_flight` batches run at once.
    pub fn start<F, Fut>(max_batch: usize, in_flight: usize, run: F) -> Self
    where
        F: Fn(Vec<I>) -> Fut + Send + 'static,
        Fut: Future<Output = Vec<Result<O, StorageError>>> + Send + 'static,
    {
        let (queue, waiting) = mpsc::channel(QUEUE);
        tokio::spawn(batch_loop(waiting, max_batch.max(1), in_flight.max(1), run));
        Self { queue }
    }

    /// Queues `item` and waits for its batch to be stored, at most `patience`
    /// (then the item is not stored if its batch has not started yet).
    ///
    /// # Errors
    /// [`StorageError::Unavailable`] when too many items wait, when the batch
    /// was not stored or not in time; otherwise what `run` answered.
    pub async fn submit(&self, item: I, patience: Duration) -> Result<O, StorageError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .try_send(Waiting { item, reply })
            .map_err(|err| {
                StorageError::Unavailable(match err {
                    TrySendError::Full(_) => "too many writes are waiting for the database".into(),
                    TrySendError::Closed(_) => "the database writer has stopped".into(),
                })
            })?;
        match tokio::time::timeout(patience, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(StorageError::Unavailable(
                "the database could not take the write".into(),
            )),
            Err(_) => Err(StorageError::Unavailable(
                "the write did not finish in time".into(),
            )),
        }
    }
}

async fn batch_loop<I, O, F, Fut>(
    mut waiting: mpsc::Receiver<Waiting<I, O>>,
    max_batch: usize,
    in_flight: usize,
    run: F,
) where
    I: Send + 'static,
    O: Send + 'static,
    F: Fn(Vec<I>) -> Fut,
    Fut: Future<Output = Vec<Result<O, StorageError>>> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(in_flight));
    loop {
        // A free slot first: while every slot is busy, requests gather into
        // the next batch.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = waiting.recv().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match waiting.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        // An item whose caller gave up (and was answered 503) is not stored.
        batch.retain(|w| !w.reply.is_closed());
        if batch.is_empty() {
            continue;
        }
        let (items, replies): (Vec<I>, Vec<_>) =
            batch.into_iter().map(|w| (w.item, w.reply)).unzip();
        let stored = run(items);
        tokio::spawn(async move {
            let _slot = slot;
            let answers = stored.await;
            // An item left without an answer has its reply dropped: its
            // caller gets 503.
            for (reply, answer) in replies.into_iter().zip(answers) {
                // A caller that stopped waiting is told nothing.
                let _ = reply.send(answer);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    const PATIENCE: Duration = Duration::from_secs(10);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn items_waiting_together_share_a_batch_and_each_gets_its_answer() {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let seen = sizes.clone();
        let batcher = Arc::new(Batcher::start(16, 1, move |items: Vec<u32>| {
            seen.lock().unwrap().push(items.len());
            async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                items
                    .into_iter()
                    .map(|i| {
                        if i == 7 {
                            Err(StorageError::Corrupt("seven".into()))
                        } else {
                            Ok(i * 2)
                        }
                    })
                    .collect()
            }
        }));
        let calls: Vec<_> = (0..40)
            .map(|i| {
                let batcher = batcher.clone();
                tokio::spawn(async move { (i, batcher.submit(i, PATIENCE).await) })
            })
            .collect();
        for call in calls {
            let (i, answer) = call.await.unwrap();
            match answer {
                Ok(doubled) => assert_eq!(doubled, i * 2),
                Err(StorageError::Corrupt(_)) => assert_eq!(i, 7),
                Err(other) => panic!("{i}: {other}"),
            }
        }
        let sizes = sizes.lock().unwrap().clone();
        assert_eq!(sizes.iter().sum::<usize>(), 40);
        assert!(sizes.iter().all(|s| *s <= 16), "{sizes:?}");
        assert!(
            sizes.len() < 40,
            "items waiting together share batches: {sizes:?}"
        );
    }

    #[tokio::test]
    async fn an_item_whose_caller_gave_up_is_not_stored_and_a_short_answer_is_a_503() {
        let stored = Arc::new(AtomicUsize::new(0));
        let count = stored.clone();
        let batcher = Arc::new(Batcher::start(8, 1, move |items: Vec<u32>| {
            count.fetch_add(items.len(), Ordering::SeqCst);
            async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                // Answers only the first item.
                items.into_iter().take(1).map(Ok).collect()
            }
        }));
        // Occupies the only slot.
        let busy = tokio::spawn({
            let batcher = batcher.clone();
            async move { batcher.submit(1, PATIENCE).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        // Gives up before a slot is free: never handed to `run`.
        let gave_up = batcher.submit(2, Duration::from_millis(10)).await;
        assert!(matches!(gave_up, Err(StorageError::Unavailable(_))));
        let (a, b) = tokio::join!(batcher.submit(3, PATIENCE), batcher.submit(4, PATIENCE));
        assert_eq!(busy.await.unwrap().unwrap(), 1);
        // 3 and 4 shared a batch; only 3 was answered.
        assert_eq!(a.unwrap(), 3);
        assert!(matches!(b, Err(StorageError::Unavailable(_))));
        assert_eq!(stored.load(Ordering::SeqCst), 3);
    }
}
