//! Admin tokens: making, hashing and checking them. The HTTP side (reading
//! `Authorization: Bearer <token>`) is [`crate::routes::auth`].
//!
//! Tokens are random (256 bits), shown once at creation and stored only as a
//! SHA-256 hash; a lookup compares hashes, so the stored value is useless to a
//! reader of the database. `REPLYGUARD_ADMIN_TOKEN` is a bootstrap token compared
//! in constant time. No token ever reaches a log.

use std::fmt::Write as _;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::storage::{Database, StorageError, tokens};

/// Every token starts with this, so a leaked one is easy to recognise.
pub const TOKEN_PREFIX: &str = "rg_";
/// Actor recorded for decisions made with `REPLYGUARD_ADMIN_TOKEN`.
pub const BOOTSTRAP_ACTOR: &str = "bootstrap";

/// A new random token: [`TOKEN_PREFIX`] and 192 random bits in lower-case hex
/// (51 characters). Lower case and under 63 characters, so that it survives
/// as the first label of a host name, where Akismet clients put their key and
/// URL parsers fold case (`rg_….replyguard.example`).
///
/// # Errors
/// The operating system's random source failed.
pub fn generate_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes)?;
    let mut token = String::from(TOKEN_PREFIX);
    for byte in bytes {
        let _ = write!(token, "{byte:02x}");
    }
    Ok(token)
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenScope {
    /// Everything: the admin API and the Akismet-compatible endpoints.
    Admin,
    /// Only the Akismet-compatible endpoints (a site's plugin, which must not
    /// moderate).
    Akismet,
}

impl TokenScope {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Akismet => "akismet",
        }
    }
}

/// Who a token names and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The token's name ([`BOOTSTRAP_ACTOR`] for `REPLYGUARD_ADMIN_TOKEN`),
    /// recorded with its decisions.
    pub actor: String,
    pub scope: TokenScope,
}

/// The stored form of a token.
pub fn hash_token(token: &str) -> String {
    format!("{:x}", Sha256::digest(token.as_bytes()))
}

/// Compares two byte strings in time independent of where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `presented` is `expected`, compared in constant time (over hashes,
/// so the lengths leak nothing either).
pub fn same_token(presented: &str, expected: &SecretString) -> bool {
    let (a, b) = (hash_token(presented), hash_token(expected.expose_secret()));
    constant_time_eq(a.as_bytes(), b.as_bytes())
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

/// Checks a presented token.
///
/// # Errors
/// [`AuthError::Unknown`], [`AuthError::Revoked`], or the database failing.
pub async fn authenticate(
    db: &Database,
    bootstrap: Option<&SecretString>,
    token: &str,
) -> Result<Authenticated, AuthError> {
    if token.is_empty() {
        return Err(AuthError::Unknown);
    }
    let hash = hash_token(token);
    if let Some(bootstrap) = bootstrap
        && same_token(token, bootstrap)
    {
        return Ok(Authenticated {
            actor: BOOTSTRAP_ACTOR.to_owned(),
            scope: TokenScope::Admin,
        });
    }
    let found = db
        .run(move |conn| tokens::find_by_hash(conn, &hash))
        .await?;
    match found {
        None => Err(AuthError::Unknown),
        Some(record) if record.revoked_at.is_some() => Err(AuthError::Revoked),
        Some(record) => Ok(Authenticated {
            scope: if record.scope == TokenScope::Akismet.as_str() {
                TokenScope::Akismet
            } else {
                TokenScope::Admin
            },
            actor: record.name,
        }),
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
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == 51 && a.len() < 64);
        assert_eq!(
            a,
            a.to_ascii_lowercase(),
            "survives a host name's case folding"
        );
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
