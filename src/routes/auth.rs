//! The [`Admin`] extractor: every admin handler takes one, so every admin
//! request is authenticated (`Authorization: Bearer <token>`, checked by
//! [`crate::auth`]) and the token's name is the actor of its decisions.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};

use crate::auth::{TokenScope, authenticate};
use crate::error::ApiError;
use crate::state::AppState;

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
            let token = presented.ok_or(ApiError::Unauthorized)?;
            let state = state.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no app state")))?;
            let who = authenticate(&state.db, state.settings.admin_token.as_ref(), &token).await?;
            if who.scope != TokenScope::Admin {
                return Err(ApiError::Forbidden(
                    "This token is for the Akismet-compatible endpoints only.".into(),
                ));
            }
            Ok(Admin { actor: who.actor })
        })
    }
}
