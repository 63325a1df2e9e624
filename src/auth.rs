//! Admin authentication: `Authorization: Bearer <token>`.
//!
//! Tokens are random (256 bits), shown once at creation and stored only as a
//! SHA-256 hash; a lookup compares hashes, so the stored value is useless to a
//! reader of the database. `REPLYGUARD_ADMIN_TOKEN` is a bootstrap token compared
//! in constant time. No token ever reaches a log.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::routes::AppState;
use crate::storage::tokens;

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

/// An authenticated moderator, named after their token.
#[derive(Debug, Clone)]
pub struct Admin {
    pub actor: String,
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(|t| t.trim().to_owned());
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let token = presented
                .filter(|t| !t.is_empty())
                .ok_or(ApiError::Unauthorized)?;
            let state = state.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no app state")))?;
            authenticate(&state, &token).await
        })
    }
}

/// Checks a presented token.
///
/// # Errors
/// [`ApiError::Unauthorized`] for an unknown token, [`ApiError::Forbidden`] for a
/// revoked one, [`ApiError::Unavailable`] if the database cannot be asked.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Admin, ApiError> {
    let hash = hash_token(token);
    if let Some(bootstrap) = &state.settings.admin_token {
        let expected = hash_token(bootstrap.expose_secret());
        if constant_time_eq(hash.as_bytes(), expected.as_bytes()) {
            return Ok(Admin {
                actor: BOOTSTRAP_ACTOR.to_owned(),
            });
        }
    }
    let found = state
        .db
        .run(move |conn| tokens::find_by_hash(conn, &hash))
        .await?;
    match found {
        None => Err(ApiError::Unauthorized),
        Some(record) if record.revoked_at.is_some() => Err(ApiError::Forbidden),
        Some(record) => Ok(Admin { actor: record.name }),
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
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), a);
    }

    #[test]
    fn constant_time_eq_compares_whole_values() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
