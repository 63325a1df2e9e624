//! Domain types: validated comment fields, statuses, the submission checks,
//! the moderation decision and labelled examples.
//! Nothing here knows about HTTP or the database; everything is a pure function
//! of its inputs, so each rule is unit-tested next to its definition.

pub mod comment;
pub mod dataset;
pub mod errors;
pub mod ids;
pub mod keywords;
pub mod links;
pub mod moderation;
pub mod submission;
mod text;

pub use comment::{
    AuthorEmail, AuthorName, AuthorUrl, CommentBody, CommentDraft, Permalink, PostId, RawComment,
    ValidationErrors,
};
pub use ids::CommentId;
pub use moderation::{Decision, ModerationPolicy, Signals, Status, Thresholds, decide};
