//! What an instance keeps in memory and can always rebuild from the database:
//! the active model ([`ActiveModel`]), the compiled keyword lists
//! ([`KeywordCache`]) and the answers to public reads ([`PublicCache`]). Each carries a version stored in the database; one
//! background loop polls both versions every [`POLL_INTERVAL`] and reloads
//! what changed, so instances sharing a database follow each other's switches
//! within that interval (the instance that made a change applies it at once).

pub mod keywords;
pub mod model;
pub mod public;

use std::sync::Arc;
use std::time::Duration;

pub use keywords::KeywordCache;
pub use model::ActiveModel;
pub use public::PublicCache;

use crate::classifier::ClassifierError;
use crate::storage::StorageError;

/// How often each instance checks whether the active model or the keyword
/// lists changed elsewhere.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// Why a cache could not be (re)loaded.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The database names an active model that is not stored.
    #[error("the active model {0} is not stored")]
    ModelMissing(String),
    /// A stored model that this version cannot load.
    #[error("the model {version} does not load")]
    ModelDoesNotLoad {
        version: String,
        #[source]
        source: ClassifierError,
    },
    /// Stored keyword lists that do not compile.
    #[error("the stored keyword lists do not compile: {0}")]
    Keywords(String),
}

/// Polls the caches' versions every [`POLL_INTERVAL`] on the current runtime.
pub fn spawn_refresh(
    model: Arc<ActiveModel>,
    keywords: Arc<KeywordCache>,
    public: Arc<PublicCache>,
) {
    actix_web::rt::spawn(async move {
        let mut interval = actix_web::rt::time::interval(POLL_INTERVAL);
        loop {
            interval.tick().await;
            let model = model.clone();
            let reloaded = tokio::task::spawn_blocking(move || model.reload_if_switched()).await;
            match reloaded {
                Ok(Err(err)) => {
                    tracing::warn!(error = %err, "the active model could not be reloaded")
                }
                Err(err) => tracing::warn!(error = %err, "the model reload task failed"),
                Ok(Ok(())) => {}
            }
            if let Err(err) = keywords.refresh().await {
                tracing::warn!(error = %err, "keyword lists could not be reloaded");
            }
            if let Err(err) = public.refresh().await {
                tracing::warn!(error = %err, "the public comments' version could not be read");
            }
        }
    });
}
