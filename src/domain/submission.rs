//! What refuses a valid-looking submission once the database has told us the
//! facts — a reply target that is not an approved comment of the post (422), a
//! duplicate (409), the flood window (429) — and the pure flood rule. The
//! workflow that asks for the facts in SPEC §4's order is [`crate::submission`].

use chrono::NaiveDateTime;

use super::ValidationErrors;

/// Why a submission was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A field is invalid (also: the comment replied to is not an approved
    /// comment of the same post).
    Invalid(ValidationErrors),
    /// The same text from the same email under the same post and parent.
    Duplicate,
    /// Too soon after the submitter's previous stored comment.
    TooSoon { retry_after: u64 },
}

/// The refusal of a reply whose target is missing, elsewhere or unpublished.
pub fn parent_refused() -> Refusal {
    Refusal::Invalid(ValidationErrors::single(
        "parent_id",
        "The comment you are replying to does not exist on this post or is not published.",
    ))
}

/// Seconds the submitter must still wait (rounded up, at least 1), or `None`
/// when the latest stored comment from the same IP or email (`latest`) is at
/// least `flood_seconds` before `now`. Both times come from one clock, the
/// database's. `flood_seconds = 0` disables the rule.
pub fn flood_retry_after(
    now: NaiveDateTime,
    latest: Option<NaiveDateTime>,
    flood_seconds: u64,
) -> Option<u64> {
    let latest = latest.filter(|_| flood_seconds > 0)?;
    let waited = (now - latest).num_milliseconds();
    let needed = i64::try_from(flood_seconds)
        .unwrap_or(i64::MAX)
        .saturating_mul(1000);
    (waited < needed).then(|| {
        let rest = needed.saturating_sub(waited).saturating_add(999) / 1000;
        u64::try_from(rest).unwrap_or(1).max(1)
    })
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeDelta};

    use super::*;

    fn at(ms: i64) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 26)
            .and_then(|d| d.and_hms_opt(12, 0, 0))
            .unwrap()
            + TimeDelta::milliseconds(ms)
    }

    #[test]
    fn flood_window_rounds_the_wait_up_to_whole_seconds() {
        let now = at(10_000);
        assert_eq!(flood_retry_after(now, None, 15), None, "first comment");
        assert_eq!(flood_retry_after(now, Some(at(0)), 15), Some(5));
        assert_eq!(flood_retry_after(now, Some(at(9_999)), 15), Some(15));
        assert_eq!(flood_retry_after(now, Some(at(-4_999)), 15), Some(1));
        assert_eq!(
            flood_retry_after(now, Some(at(-5_000)), 15),
            None,
            "exactly 15 s"
        );
        assert_eq!(
            flood_retry_after(now, Some(at(10_000)), 0),
            None,
            "disabled"
        );
    }

    #[test]
    fn a_latest_comment_in_the_future_still_floods() {
        // The clock read at the latest comment is ahead of this one's (a clock
        // step on the database host): the submitter waits the whole window.
        assert_eq!(flood_retry_after(at(0), Some(at(2_000)), 15), Some(17));
    }

    #[test]
    fn huge_windows_do_not_overflow() {
        assert!(flood_retry_after(at(0), Some(at(0)), u64::MAX).is_some_and(|s| s > 1_000_000));
    }
}
