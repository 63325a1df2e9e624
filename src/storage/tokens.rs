//! Admin tokens. Only hashes are stored; the token itself is shown once.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::records::AdminTokenRecord;
use super::schema::admin_tokens;
use super::{DbConn, StorageError};

/// Stores a new admin token hash under `name`; `false` if the name is taken.
///
/// # Errors
/// Any database failure.
pub fn insert(
    conn: &mut DbConn,
    name: &str,
    token_hash: &str,
    now: NaiveDateTime,
) -> Result<bool, StorageError> {
    insert_with_scope(conn, name, token_hash, "admin", now)
}

/// Stores a new token hash under `name` with its scope (`admin` or
/// `akismet`); `false` if the name is taken.
///
/// # Errors
/// Any database failure.
pub fn insert_with_scope(
    conn: &mut DbConn,
    name: &str,
    token_hash: &str,
    scope: &str,
    now: NaiveDateTime,
) -> Result<bool, StorageError> {
    let taken = admin_tokens::table
        .filter(admin_tokens::name.eq(name))
        .count()
        .get_result::<i64>(conn)?;
    if taken > 0 {
        return Ok(false);
    }
    diesel::insert_into(admin_tokens::table)
        .values((
            admin_tokens::name.eq(name),
            admin_tokens::token_hash.eq(token_hash),
            admin_tokens::scope.eq(scope),
            admin_tokens::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(true)
}

/// The token with this hash, revoked or not.
///
/// # Errors
/// Any database failure.
pub fn find_by_hash(
    conn: &mut DbConn,
    token_hash: &str,
) -> Result<Option<AdminTokenRecord>, StorageError> {
    Ok(admin_tokens::table
        .filter(admin_tokens::token_hash.eq(token_hash))
        .select(AdminTokenRecord::as_select())
        .first(conn)
        .optional()?)
}

/// Every token, oldest first.
///
/// # Errors
/// Any database failure.
pub fn list(conn: &mut DbConn) -> Result<Vec<AdminTokenRecord>, StorageError> {
    Ok(admin_tokens::table
        .select(AdminTokenRecord::as_select())
        .order(admin_tokens::id.asc())
        .load(conn)?)
}

/// Revokes the token named `name`; `false` if there is none (or it was revoked).
///
/// # Errors
/// Any database failure.
pub fn revoke(conn: &mut DbConn, name: &str, now: NaiveDateTime) -> Result<bool, StorageError> {
    let changed = diesel::update(
        admin_tokens::table
            .filter(admin_tokens::name.eq(name))
            .filter(admin_tokens::revoked_at.is_null()),
    )
    .set(admin_tokens::revoked_at.eq(now))
    .execute(conn)?;
    Ok(changed > 0)
}
