//! The compiled keyword lists (SPEC §5's moderation and disallowed keys).
//!
//! The lists live in the database with a version each; an instance keeps one
//! compiled [`KeywordMatcher`] and rebuilds it when the summed version changes.

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::CacheError;
use crate::domain::keywords::{KeywordMatcher, normalize_list};
use crate::storage::{self, Database, DbConn, settings};

/// This instance's compiled keyword lists.
pub struct KeywordCache {
    db: Database,
    current: ArcSwap<KeywordMatcher>,
}

/// Why the configured keyword files could not seed the lists.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("cannot read the keyword file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("keyword file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error(transparent)]
    Cache(#[from] CacheError),
}

impl KeywordCache {
    /// No lists until [`Self::seed_and_load`] reads the database.
    pub fn new(db: Database) -> Arc<Self> {
        Arc::new(Self {
            db,
            current: ArcSwap::from_pointee(KeywordMatcher::default()),
        })
    }

    /// Seeds the lists from the configured files (only lists never set before),
    /// then reads and compiles both. Blocking.
    ///
    /// # Errors
    /// An unreadable or invalid file, or the database failing.
    pub fn seed_and_load(
        &self,
        moderation_file: Option<&PathBuf>,
        disallowed_file: Option<&PathBuf>,
    ) -> Result<(), SeedError> {
        let now = storage::now();
        for (file, name) in [
            (moderation_file, settings::MODERATION_KEYS),
            (disallowed_file, settings::DISALLOWED_KEYS),
        ] {
            let Some(path) = file else { continue };
            let text = std::fs::read_to_string(path).map_err(|source| SeedError::Read {
                path: path.clone(),
                source,
            })?;
            let list = normalize_list(text.lines()).map_err(|message| SeedError::Invalid {
                path: path.clone(),
                message,
            })?;
            let seeded = self
                .db
                .run_blocking(|conn| settings::put_if_absent(conn, name, &list.join("\n"), now))
                .map_err(CacheError::from)?;
            if seeded {
                tracing::info!(
                    list = name,
                    entries = list.len(),
                    "keyword list seeded from file"
                );
            }
        }
        let matcher = self
            .db
            .run_blocking(|conn| Ok(read_matcher(conn)))
            .map_err(CacheError::from)??;
        self.current.store(Arc::new(matcher));
        Ok(())
    }

    /// The lists a request checks against.
    pub fn current(&self) -> Arc<KeywordMatcher> {
        self.current.load_full()
    }

    /// The lists as stored now.
    ///
    /// # Errors
    /// The database failing, or stored lists that do not compile.
    pub async fn stored(&self) -> Result<KeywordMatcher, CacheError> {
        self.db.run(|conn| Ok(read_matcher(conn))).await?
    }

    /// Rebuilds the matcher if the stored lists' version changed.
    ///
    /// # Errors
    /// As [`Self::stored`].
    pub async fn refresh(&self) -> Result<(), CacheError> {
        let version = self.db.run(settings::keywords_version).await?;
        if version != self.current.load().version() {
            let matcher = Arc::new(self.stored().await?);
            // Never replace newer lists (stored meanwhile by `replace`) with
            // these: the summed version only grows.
            self.current.rcu(|current| {
                if matcher.version() > current.version() {
                    matcher.clone()
                } else {
                    current.clone()
                }
            });
            tracing::info!(version, "keyword lists reloaded");
        }
        Ok(())
    }

    /// Replaces the given lists (both or neither) and applies them here at once;
    /// other instances follow within [`super::POLL_INTERVAL`].
    ///
    /// # Errors
    /// As [`Self::stored`].
    pub async fn replace(
        &self,
        lists: Vec<(&'static str, String)>,
    ) -> Result<Arc<KeywordMatcher>, CacheError> {
        let now = storage::now();
        let matcher = self
            .db
            .run(move |conn| {
                settings::put_all(conn, &lists, now)?;
                Ok(read_matcher(conn))
            })
            .await??;
        let matcher = Arc::new(matcher);
        self.current.store(matcher.clone());
        Ok(matcher)
    }
}

fn read_matcher(conn: &mut DbConn) -> Result<KeywordMatcher, CacheError> {
    let (moderation, v1) = settings::get_lines(conn, settings::MODERATION_KEYS)?;
    let (disallowed, v2) = settings::get_lines(conn, settings::DISALLOWED_KEYS)?;
    KeywordMatcher::new(moderation, disallowed, v1 + v2).map_err(CacheError::Keywords)
}
