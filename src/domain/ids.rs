//! Identifier newtypes, so an id of one kind is never passed where another is meant.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The id of a stored comment (positive, assigned by the database).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CommentId(pub i64);

impl fmt::Display for CommentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
