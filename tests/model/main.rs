//! The spam model: the sparse scorer against linfa, pinned scores of the shipped
//! model, and the `train`/`eval`/`classify` commands end to end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli;
mod equality;
mod golden;
mod process;
