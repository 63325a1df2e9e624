//! Keyset pagination shared by the public and admin lists: `limit` parsing and
//! opaque cursors over (created_at, id).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDateTime, Utc};

use crate::domain::ValidationErrors;
use crate::error::ApiError;
use crate::storage::comments::PublicCursor;

/// `limit` from the query: absent → `default`, else 1..=`max` or a 422.
pub fn parse_limit(raw: Option<&str>, default: i64, max: i64) -> Result<i64, ApiError> {
    let Some(raw) = raw else {
        return Ok(default);
    };
    match raw.trim().parse::<i64>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(ValidationErrors::single(
            "limit",
            format!("The limit must be a whole number from 1 to {max}."),
        )
        .into()),
    }
}

/// A cursor is `<created_at in µs since the epoch>.<id>`, base64url-encoded:
/// opaque to clients, stable across backends.
pub fn encode(created_at: NaiveDateTime, id: i64) -> String {
    let micros = created_at.and_utc().timestamp_micros();
    URL_SAFE_NO_PAD.encode(format!("{micros}.{id}"))
}

/// # Errors
/// A 422 naming `cursor` when it was not made by [`encode`].
pub fn decode(raw: &str) -> Result<PublicCursor, ApiError> {
    let invalid = || {
        ApiError::from(ValidationErrors::single(
            "cursor",
            "This cursor is not valid.",
        ))
    };
    let bytes = URL_SAFE_NO_PAD.decode(raw.trim()).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (micros, id) = text.split_once('.').ok_or_else(invalid)?;
    let micros: i64 = micros.parse().map_err(|_| invalid())?;
    // Years 1970 to 9999: every cursor this service makes, and nothing a
    // database could refuse as out of range.
    if !(0..=253_402_300_799_999_999).contains(&micros) {
        return Err(invalid());
    }
    let id: i64 = id.parse().map_err(|_| invalid())?;
    let created_at = DateTime::<Utc>::from_timestamp_micros(micros).ok_or_else(invalid)?;
    Ok(PublicCursor {
        created_at: created_at.naive_utc(),
        id,
    })
}

/// Given `limit + 1` fetched rows, trims to `limit` and returns the cursor of
/// the next page (or `None` on the last page).
pub fn next_page<T>(
    rows: &mut Vec<T>,
    limit: i64,
    key: impl Fn(&T) -> (NaiveDateTime, i64),
) -> Option<String> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if rows.len() <= limit {
        return None;
    }
    rows.truncate(limit);
    rows.last().map(|last| {
        let (created_at, id) = key(last);
        encode(created_at, id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips() {
        let at = DateTime::<Utc>::from_timestamp_micros(1_764_000_000_123_456).unwrap();
        let cursor = decode(&encode(at.naive_utc(), 99)).ok();
        assert_eq!(
            cursor,
            Some(PublicCursor {
                created_at: at.naive_utc(),
                id: 99
            })
        );
    }

    #[test]
    fn bad_cursors_and_limits_are_validation_errors() {
        let far_past = URL_SAFE_NO_PAD.encode("-300000000000000000.1");
        for raw in ["", "!!", "bm9wZQ", "MTIz", &far_past] {
            assert_eq!(
                decode(raw).unwrap_err().code(),
                "validation_failed",
                "{raw}"
            );
        }
        for raw in ["0", "201", "-1", "ten"] {
            assert!(parse_limit(Some(raw), 50, 200).is_err(), "{raw}");
        }
        assert_eq!(parse_limit(None, 50, 200).ok(), Some(50));
    }

    #[test]
    fn next_page_trims_and_points_at_the_last_row() {
        let at = Utc::now().naive_utc();
        let mut rows = vec![(at, 1), (at, 2), (at, 3)];
        assert_eq!(next_page(&mut rows, 2, |r| *r), Some(encode(at, 2)));
        assert_eq!(rows.len(), 2);
        assert_eq!(next_page(&mut rows, 2, |r| *r), None);
    }
}
