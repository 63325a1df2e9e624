//! Per-IP request rate limiting of the public endpoints (actix-governor), keyed
//! by the same trusted client IP as everything else, so a forged
//! `X-Forwarded-For` from an untrusted peer buys no extra requests.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use actix_governor::governor::NotUntil;
use actix_governor::governor::clock::{Clock, DefaultClock, QuantaInstant};
use actix_governor::governor::middleware::NoOpMiddleware;
use actix_governor::{
    GovernorConfig, GovernorConfigBuilder, KeyExtractor, SimpleKeyExtractionError,
};
use actix_web::dev::ServiceRequest;
use actix_web::{HttpResponse, HttpResponseBuilder, ResponseError};

use super::client::client_ip;
use crate::config::Settings;
use crate::error::ApiError;
use crate::metrics::Metrics;

/// Extracts the trusted client IP.
#[derive(Clone)]
pub struct ClientIpKey {
    settings: Arc<Settings>,
    metrics: Arc<Metrics>,
}

impl KeyExtractor for ClientIpKey {
    type Key = IpAddr;
    type KeyExtractionError = SimpleKeyExtractionError<&'static str>;

    fn extract(&self, req: &ServiceRequest) -> Result<IpAddr, Self::KeyExtractionError> {
        // A request without a peer address (not over TCP) shares one bucket.
        Ok(client_ip(req.request(), &self.settings).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)))
    }

    fn exceed_rate_limit_response(
        &self,
        negative: &NotUntil<QuantaInstant>,
        _response: HttpResponseBuilder,
    ) -> HttpResponse {
        self.metrics.refused("rate_limit");
        let wait = negative.wait_time_from(DefaultClock::default().now());
        let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        ApiError::RateLimited {
            retry_after: retry_after.max(1),
        }
        .error_response()
    }
}

/// Turns the rate limiter's JSON 429 into the HTML error page for form posts
/// (browsers show it; SPEC §4), keeping its status and `Retry-After`.
pub fn page_for_form_posts(req: &actix_web::HttpRequest, response: HttpResponse) -> HttpResponse {
    // The handler's own 429 (flood control) is already a page for form posts;
    // only the limiter's JSON one is replaced.
    let is_json = response
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    if response.status() != actix_web::http::StatusCode::TOO_MANY_REQUESTS
        || !is_json
        || !super::comments::is_form_post(req)
    {
        return response;
    }
    let retry_after = response
        .headers()
        .get(actix_web::http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    super::form::rejected(&ApiError::RateLimited { retry_after }, None)
}

/// The shared limiter of one instance.
pub type RateLimit = GovernorConfig<ClientIpKey, NoOpMiddleware<QuantaInstant>>;

/// What a limiter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    /// Comment submissions.
    Writes,
    /// Public reads.
    Reads,
}

/// Builds a limiter from the settings; a rate of 0 lets everything through.
pub fn rate_limit(
    settings: Arc<Settings>,
    metrics: Arc<Metrics>,
    what: Limited,
) -> Option<RateLimit> {
    let (per_minute, burst) = match what {
        Limited::Writes => (settings.rate_limit_per_minute, settings.rate_limit_burst),
        Limited::Reads => (
            settings.read_rate_limit_per_minute,
            settings.read_rate_limit_burst,
        ),
    };
    let mut builder = GovernorConfigBuilder::default();
    builder
        // At most one per microsecond: the limiter's period may not be zero.
        .requests_per_minute(per_minute.clamp(1, 60_000_000))
        .burst_size(burst)
        .permissive(per_minute == 0);
    let mut builder = builder.key_extractor(ClientIpKey { settings, metrics });
    builder.finish()
}
