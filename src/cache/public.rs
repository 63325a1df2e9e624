//! Public reads (a post's approved comments and their count), kept as the
//! exact bytes answered, with their `ETag`, so that readers cost no database
//! work. A status change empties the cache at once on the instance that made
//! it; other instances notice within [`super::POLL_INTERVAL`] through a cheap
//! version (a counter moderation bumps, and the newest approved comment's id),
//! and an entry is never kept longer than [`MAX_AGE`] whatever happens.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::web::Bytes;

use crate::storage::{Database, StorageError, comments};

/// The longest an entry is served: a bound for what the version cannot see
/// (on PostgreSQL, an approved comment committing after a newer one was seen).
pub const MAX_AGE: Duration = Duration::from_secs(30);

/// Entries kept before the cache starts over (a crawler walking every post).
const MAX_ENTRIES: usize = 10_000;

/// Bytes of answers kept before the cache starts over: pages of long comments
/// asked for with every `limit` must not grow it without bound.
const MAX_BYTES: usize = 64 * 1024 * 1024;

/// Which public read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReadKey {
    /// One page of a post's approved comments.
    Page {
        post_id: String,
        limit: i64,
        cursor: Option<String>,
    },
    /// A post's approved-comment count.
    Count { post_id: String },
}

impl ReadKey {
    fn post_id(&self) -> &str {
        match self {
            Self::Page { post_id, .. } | Self::Count { post_id } => post_id,
        }
    }
}

/// An answer as sent.
#[derive(Debug, Clone)]
pub struct CachedRead {
    pub body: Bytes,
    pub etag: String,
    stored: Instant,
}

/// The answers kept, and their size.
#[derive(Debug, Default)]
struct Entries {
    map: HashMap<ReadKey, CachedRead>,
    bytes: usize,
}

impl Entries {
    fn clear(&mut self) {
        self.map.clear();
        self.bytes = 0;
    }
}

/// The cache of one instance.
#[derive(Debug)]
pub struct PublicCache {
    db: Database,
    entries: Mutex<Entries>,
    /// Grows on every invalidation: a read that started before one does not
    /// store what it read.
    generation: AtomicU64,
    /// The database's version when last polled.
    seen: Mutex<Option<comments::PublicVersion>>,
}

impl PublicCache {
    pub fn new(db: Database) -> Self {
        Self {
            db,
            entries: Mutex::new(Entries::default()),
            generation: AtomicU64::new(0),
            seen: Mutex::new(None),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic while holding the lock leaves a map that is still valid.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The stored answer, if fresh.
    pub fn get(&self, key: &ReadKey) -> Option<CachedRead> {
        let entries = self.entries();
        entries
            .map
            .get(key)
            .filter(|hit| hit.stored.elapsed() < MAX_AGE)
            .cloned()
    }

    /// Call before reading the database for `key`; pass the value to [`Self::put`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Stores an answer read since `generation`, unless something was
    /// invalidated meanwhile (it may be stale).
    pub fn put(&self, key: ReadKey, body: Bytes, etag: String, generation: u64) -> CachedRead {
        let read = CachedRead {
            body,
            etag,
            stored: Instant::now(),
        };
        let mut entries = self.entries();
        if self.generation() == generation {
            let size = read.body.len();
            if entries.map.len() >= MAX_ENTRIES || entries.bytes + size > MAX_BYTES {
                entries.clear();
            }
            if let Some(old) = entries.map.insert(key, read.clone()) {
                entries.bytes -= old.body.len();
            }
            entries.bytes += size;
        }
        read
    }

    /// Forgets one post's answers (its comments changed here).
    pub fn invalidate_post(&self, post_id: &str) {
        let mut entries = self.entries();
        self.generation.fetch_add(1, Ordering::AcqRel);
        let mut freed = 0;
        entries.map.retain(|key, read| {
            let keep = key.post_id() != post_id;
            if !keep {
                freed += read.body.len();
            }
            keep
        });
        entries.bytes -= freed;
    }

    /// Forgets everything (a moderation decision here, or a change elsewhere).
    pub fn clear(&self) {
        let mut entries = self.entries();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }

    /// After a moderation decision here: forgets everything at once, and
    /// bumps the version other instances poll. The bump is its own statement,
    /// after the decision committed (inside the decision's transaction it
    /// would order a lock between comment rows, and two bulk decisions could
    /// deadlock); if it fails, other instances still forget within [`MAX_AGE`].
    pub async fn moderated(&self) {
        self.clear();
        let now = crate::storage::now();
        if let Err(err) = self
            .db
            .write(move |conn| comments::bump_public_version(conn, now))
            .await
        {
            tracing::warn!(error = %err, "other instances will see this decision within {} s", MAX_AGE.as_secs());
        }
    }

    /// Polls the database's version and forgets everything if it moved.
    ///
    /// # Errors
    /// The database could not be read; the cache is left as it was.
    pub async fn refresh(&self) -> Result<(), StorageError> {
        let version = self.db.run(comments::public_version).await?;
        let changed = {
            let mut seen = self
                .seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let changed = seen.is_some_and(|before| before != version);
            *seen = Some(version);
            changed
        };
        if changed {
            self.clear();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::DatabaseUrl;

    fn cache() -> PublicCache {
        let url = DatabaseUrl::Sqlite(std::path::PathBuf::from("unused.db"));
        let options = crate::storage::PoolOptions {
            max_size: 1,
            timeout: Duration::from_secs(1),
        };
        PublicCache::new(Database::new(url, &options))
    }

    fn page(post: &str) -> ReadKey {
        ReadKey::Page {
            post_id: post.into(),
            limit: 50,
            cursor: None,
        }
    }

    #[test]
    fn an_answer_read_across_an_invalidation_is_not_kept() {
        let cache = cache();
        let before = cache.generation();
        cache.invalidate_post("a");
        cache.put(
            page("a"),
            Bytes::from_static(b"old"),
            "\"1\"".into(),
            before,
        );
        assert!(cache.get(&page("a")).is_none());
        let now = cache.generation();
        cache.put(page("a"), Bytes::from_static(b"new"), "\"2\"".into(), now);
        assert_eq!(cache.get(&page("a")).unwrap().body, "new");
    }

    #[test]
    fn invalidating_a_post_keeps_the_others() {
        let cache = cache();
        for post in ["a", "b"] {
            let generation = cache.generation();
            cache.put(
                page(post),
                Bytes::from_static(b"x"),
                "\"1\"".into(),
                generation,
            );
            let generation = cache.generation();
            let count = ReadKey::Count {
                post_id: post.into(),
            };
            cache.put(count, Bytes::from_static(b"1"), "\"2\"".into(), generation);
        }
        cache.invalidate_post("a");
        assert!(cache.get(&page("a")).is_none());
        assert!(
            cache
                .get(&ReadKey::Count {
                    post_id: "a".into()
                })
                .is_none()
        );
        assert!(cache.get(&page("b")).is_some());
        cache.clear();
        assert!(cache.get(&page("b")).is_none());
    }
}
