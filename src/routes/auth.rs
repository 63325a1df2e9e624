//! Admin authentication. [`require_admin`] wraps the whole admin scope, so
//! every admin request — whatever its path, query or body, and even when no
//! route matches — is authenticated (`Authorization: Bearer <token>`, checked
//! by [`crate::auth`]) before anything else looks at it. Handlers take the
//! [`Admin`] it leaves in the request: the token's name, the actor of their
//! decisions.

use std::future::{Ready, ready};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use crate::auth::{TokenScope, authenticate};
use crate::error::ApiError;
use crate::state::AppState;

/// An authenticated moderator, named after their token.
#[derive(Debug, Clone)]
pub struct Admin {
    pub actor: String,
}

/// Middleware: authenticates an admin request or answers it 401/403 (503
/// when the database cannot say) without running anything else.
///
/// # Errors
/// Only what the wrapped service returns.
pub async fn require_admin(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    match admin_of(&req).await {
        Ok(_) if !super::path_is_utf8(&req) => Ok(super::refuse(
            req,
            &ApiError::MalformedRequest("The address holds bytes that are not UTF-8 text.".into()),
        )),
        Ok(admin) => {
            req.extensions_mut().insert(admin);
            Ok(next.call(req).await?.map_into_left_body())
        }
        Err(error) => Ok(super::refuse(req, &error)),
    }
}

async fn admin_of(req: &ServiceRequest) -> Result<Admin, ApiError> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_owned())
        .ok_or(ApiError::Unauthorized)?;
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no app state")))?;
    let who = authenticate(&state.db, state.settings.admin_token.as_ref(), &token).await?;
    if who.scope != TokenScope::Admin {
        return Err(ApiError::Forbidden(
            "This token is for the Akismet-compatible endpoints only.".into(),
        ));
    }
    Ok(Admin { actor: who.actor })
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    /// The admin [`require_admin`] authenticated; a handler outside its
    /// scope gets 401, never an unchecked pass.
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<Admin>()
                .cloned()
                .ok_or(ApiError::Unauthorized),
        )
    }
}
