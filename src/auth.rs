//! Admin tokens: making, hashing and checking them. The HTTP side (reading
//! `Authorization: Bearer <token>`) is [`crate::routes::auth`].
//!
//! Tokens are random (256 bits), shown once at creation and stored only as a
//! SHA-256 hash; a lookup compares hashes, so the stored value is useless to a
//! reader of the database. `REPLYGUARD_ADMIN_TOKEN` is a bootstrap token compared
//! in constant time. No token ever reaches a log.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::storage::{Database, StorageError, tokens};

/// Every token starts with this, so a leaked one is easy to recognise.
pub const TOKEN_PREFIX: &str = "rg_";
/// Actor recorded for decisions made with `REPLYGUARD_ADMIN_TOKEN`.
pub const BOOTSTRAP_ACTOR: &str = "bootstrap";

/// A new random token.
///
/// # Errors
/// The operating system's random source failed.
pub fn generate_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// The stored form of a token.
pub fn hash_token(token: &str) -> String {
    format!("{:x}", Sha256::digest(token.as_bytes()))
}

/// Compares two byte strings in time independent of where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Why a presented token was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No token, or one replyguard never issued.
    #[error("unknown token")]
    Unknown,
    /// A token that was revoked.
    #[error("revoked token")]
    Revoked,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Checks a presented token; returns the actor it names (the token's name,
/// or [`BOOTSTRAP_ACTOR`] for `REPLYGUARD_ADMIN_TOKEN`).
///
/// # Errors
/// [`AuthError::Unknown`], [`AuthError::Revoked`], or the database failing.
pub async fn authenticate(
    db: &Database,
    bootstrap: Option<&SecretString>,
    token: &str,
) -> Result<String, AuthError> {
    if token.is_empty() {
        return Err(AuthError::Unknown);
    }
    let hash = hash_token(token);
    if let Some(bootstrap) = bootstrap {
        let expected = hash_token(bootstrap.expose_secret());
        if constant_time_eq(hash.as_bytes(), expected.as_bytes()) {
            return Ok(BOOTSTRAP_ACTOR.to_owned());
        }
    }
    let found = db
        .run(move |conn| tokens::find_by_hash(conn, &hash))
        .await?;
    match found {
        None => Err(AuthError::Unknown),
        Some(record) if record.revoked_at.is_some() => Err(AuthError::Revoked),
        Some(record) => Ok(record.name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_hash_to_hex() {
        let a = generate_token().unwrap();
        let b = generate_token().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() > 40);
        // SHA-256, hex: a known vector, and the same token always hashes the same.
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hash_token(&a), hash_token(&a.clone()));
        assert_ne!(hash_token(&a), hash_token(&b));
    }

    #[test]
    fn constant_time_eq_compares_whole_values() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
