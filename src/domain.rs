//! Domain types: validated comment fields, statuses and the moderation decision.
//! Nothing here knows about HTTP or the database; everything is a pure function
//! of its inputs, so each rule is unit-tested next to its definition.

pub mod comment;
pub mod ids;
pub mod keywords;
pub mod moderation;
pub mod training;

pub use comment::{
    AuthorEmail, AuthorName, AuthorUrl, CommentBody, CommentDraft, Permalink, PostId, RawComment,
    ValidationErrors,
};
pub use ids::CommentId;
pub use moderation::{Decision, ModerationPolicy, Signals, Status, Thresholds, decide};
