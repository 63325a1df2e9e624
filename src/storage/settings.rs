//! Settings shared by every instance (the keyword lists), each with a version
//! that grows on every change so instances can poll cheaply.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::schema::settings;
use super::{DbConn, StorageError};

pub const MODERATION_KEYS: &str = "moderation_keys";
pub const DISALLOWED_KEYS: &str = "disallowed_keys";
/// No value: its version grows whenever a comment enters or leaves the
/// approved set by a moderator's hand (public reads are cached on it).
pub const PUBLIC_COMMENTS: &str = "public_comments";

/// A setting's value and version, if it was ever set.
///
/// # Errors
/// Any database failure.
pub fn get(conn: &mut DbConn, name: &str) -> Result<Option<(String, i64)>, StorageError> {
    Ok(settings::table
        .filter(settings::name.eq(name))
        .select((settings::value, settings::version))
        .first(conn)
        .optional()?)
}

/// Sets a value, bumping its version. Two writers creating the same setting
/// at once both succeed: the loser of the insert updates instead.
///
/// # Errors
/// Any database failure.
pub fn put(
    conn: &mut DbConn,
    name: &str,
    value: &str,
    now: NaiveDateTime,
) -> Result<(), StorageError> {
    if update(conn, name, value, now)? > 0 {
        return Ok(());
    }
    // In a (nested) transaction, so a lost race rolls back to a savepoint and
    // leaves any outer transaction usable for the update.
    let inserted = conn.transaction(|conn| {
        diesel::insert_into(settings::table)
            .values((
                settings::name.eq(name),
                settings::value.eq(value),
                settings::version.eq(1),
                settings::updated_at.eq(now),
            ))
            .execute(conn)
    });
    match inserted {
        Ok(_) => Ok(()),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
            update(conn, name, value, now).map(|_| ())
        }
        Err(err) => Err(err.into()),
    }
}

fn update(
    conn: &mut DbConn,
    name: &str,
    value: &str,
    now: NaiveDateTime,
) -> Result<usize, StorageError> {
    Ok(
        diesel::update(settings::table.filter(settings::name.eq(name)))
            .set((
                settings::value.eq(value),
                settings::version.eq(settings::version + 1),
                settings::updated_at.eq(now),
            ))
            .execute(conn)?,
    )
}

/// Sets a value only if it was never set (seeding from configuration files).
///
/// # Errors
/// Any database failure.
pub fn put_if_absent(
    conn: &mut DbConn,
    name: &str,
    value: &str,
    now: NaiveDateTime,
) -> Result<bool, StorageError> {
    if get(conn, name)?.is_some() {
        return Ok(false);
    }
    put(conn, name, value, now)?;
    Ok(true)
}

/// Sets several values in one transaction: all of them or none.
///
/// # Errors
/// Any database failure.
pub fn put_all(
    conn: &mut DbConn,
    values: &[(&str, String)],
    now: NaiveDateTime,
) -> Result<(), StorageError> {
    conn.transaction(|conn| {
        for (name, value) in values {
            put(conn, name, value, now)?;
        }
        Ok(())
    })
}

/// The stored lines of a list setting and its version (`0`: never set).
///
/// # Errors
/// Any database failure.
pub fn get_lines(conn: &mut DbConn, name: &str) -> Result<(Vec<String>, i64), StorageError> {
    Ok(match get(conn, name)? {
        Some((value, version)) => (value.lines().map(str::to_owned).collect(), version),
        None => (Vec::new(), 0),
    })
}

/// The sum of the keyword lists' versions: it changes whenever either list does.
///
/// # Errors
/// Any database failure.
pub fn keywords_version(conn: &mut DbConn) -> Result<i64, StorageError> {
    let versions: Vec<i64> = settings::table
        .filter(settings::name.eq_any([MODERATION_KEYS, DISALLOWED_KEYS]))
        .select(settings::version)
        .load(conn)?;
    Ok(versions.into_iter().sum())
}
