//! The active model: which one scores, and its hot swap.
//!
//! The database says which version is active (`None`: the default model, the
//! shipped one or `REPLYGUARD_MODEL_PATH`) and a generation that every switch
//! increments. [`ActiveModel::reload_if_switched`] compares generations and
//! swaps a newly loaded model in atomically; a request keeps the snapshot it
//! started with.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;

use super::CacheError;
use crate::classifier::{Artifact, SpamModel};
use crate::storage::{Database, StorageError, models};

/// The model requests score with, kept in step with the database.
pub struct ActiveModel {
    db: Database,
    current: ArcSwap<SpamModel>,
    /// Scores when no trained model is active.
    default_model: Arc<SpamModel>,
    /// The switch generation `current` belongs to (-1: none loaded yet).
    generation: AtomicI64,
    /// Serializes reloads, so an older read can never replace a newer model.
    reloading: Mutex<()>,
}

impl ActiveModel {
    /// Loads the active model from the database (else `default_model`). A
    /// stored active model that does not load must not keep the service down:
    /// it scores with the default and says so loudly.
    ///
    /// # Errors
    /// The database being unavailable (any other failure is logged and the
    /// default model scores).
    pub fn load(db: Database, default_model: SpamModel) -> Result<Arc<Self>, StorageError> {
        let active = Self::new(db, default_model);
        active.reload_or_default()?;
        Ok(active)
    }

    /// Scores with `default_model` until [`Self::reload_if_switched`] reads
    /// the database (start-up before the database answers).
    pub fn new(db: Database, default_model: SpamModel) -> Arc<Self> {
        let default_model = Arc::new(default_model);
        Arc::new(Self {
            current: ArcSwap::new(default_model.clone()),
            db,
            default_model,
            generation: AtomicI64::new(-1),
            reloading: Mutex::new(()),
        })
    }

    /// [`Self::reload_if_switched`], where only an unavailable database is an
    /// error: an active model that is missing or does not load is logged, and
    /// the default model scores.
    ///
    /// # Errors
    /// The database being unavailable.
    pub fn reload_or_default(&self) -> Result<(), StorageError> {
        match self.reload_if_switched() {
            Err(CacheError::Storage(err @ StorageError::Unavailable(_))) => Err(err),
            Err(err) => {
                tracing::error!(error = %err, "the active model does not load; scoring with the default model");
                Ok(())
            }
            Ok(()) => Ok(()),
        }
    }

    /// A snapshot of the active model, for scoring one request.
    pub fn current(&self) -> Arc<SpamModel> {
        self.current.load_full()
    }

    /// The switch generation of the model in [`Self::current`]; a training job
    /// compares against it so that it never overrides an operator's switch.
    pub fn generation(&self) -> i64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The built-in (or configured) default model.
    pub fn default_model(&self) -> Arc<SpamModel> {
        self.default_model.clone()
    }

    /// The version of the default model.
    pub fn default_version(&self) -> &str {
        self.default_model.version()
    }

    /// Swaps in the active model if another instance (or this one) switched it.
    ///
    /// # Errors
    /// The database failing, or an active model that is missing or does not load.
    pub fn reload_if_switched(&self) -> Result<(), CacheError> {
        let _one_at_a_time = self
            .reloading
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (version, generation) = self.db.run_blocking(models::active)?;
        if generation == self.generation() {
            return Ok(());
        }
        let model = match version {
            None => self.default_model.clone(),
            Some(version) => {
                let json = self
                    .db
                    .run_blocking(|conn| models::artifact(conn, &version))?
                    .ok_or_else(|| CacheError::ModelMissing(version.clone()))?;
                let model = Artifact::from_json(json.as_bytes())
                    .and_then(SpamModel::from_artifact)
                    .map_err(|source| CacheError::ModelDoesNotLoad { version, source })?;
                Arc::new(model)
            }
        };
        tracing::info!(
            model_version = model.version(),
            generation,
            "active model loaded"
        );
        self.current.store(model);
        self.generation.store(generation, Ordering::Release);
        Ok(())
    }
}
