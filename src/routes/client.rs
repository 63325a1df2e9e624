//! Who sent a request: the client IP (believing `X-Forwarded-For` only from
//! trusted proxies) and the metadata recorded with a comment.

use std::net::IpAddr;

use actix_web::HttpRequest;
use actix_web::http::header;

use crate::config::Settings;
use crate::submission::Submitter;

/// Longest `User-Agent` kept; real ones are far shorter.
const MAX_USER_AGENT_CHARS: usize = 512;
/// Longest `Referer` kept.
const MAX_REFERRER_CHARS: usize = 2_048;

/// Who sent a request, as recorded with a comment.
pub fn submitter(req: &HttpRequest, settings: &Settings) -> Submitter {
    Submitter {
        ip: client_ip(req, settings),
        user_agent: header_text(req, header::USER_AGENT, MAX_USER_AGENT_CHARS),
        referrer: header_text(req, header::REFERER, MAX_REFERRER_CHARS),
    }
}

fn header_text(req: &HttpRequest, name: header::HeaderName, max_chars: usize) -> Option<String> {
    let value = req.headers().get(name)?.to_str().ok()?.trim();
    (!value.is_empty()).then(|| value.chars().take(max_chars).collect())
}

/// The client's address. The peer address, unless the peer is a trusted proxy:
/// then the right-most `X-Forwarded-For` entry that is not itself a trusted
/// proxy (entries further left were written by the client and prove nothing).
pub fn client_ip(req: &HttpRequest, settings: &Settings) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !settings.is_trusted_proxy(peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(parse_forwarded_entry)
        .collect();
    let client = forwarded
        .iter()
        .rev()
        .find(|ip| !settings.is_trusted_proxy(**ip))
        .or_else(|| forwarded.first())
        .copied();
    Some(client.unwrap_or(peer))
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:443`.
fn parse_forwarded_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    entry.parse::<std::net::SocketAddr>().ok().map(|s| s.ip())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn settings(proxies: &[&str]) -> Settings {
        let mut s = Settings::from_env().unwrap();
        s.trusted_proxies = proxies.iter().map(|p| p.parse().unwrap()).collect();
        s
    }

    fn request(peer: &str, xff: Option<&str>) -> HttpRequest {
        let mut req = TestRequest::default().peer_addr(peer.parse().unwrap());
        if let Some(xff) = xff {
            req = req.insert_header(("X-Forwarded-For", xff));
        }
        req.to_http_request()
    }

    #[test]
    fn forwarded_for_from_an_untrusted_peer_is_ignored() {
        let req = request("203.0.113.9:5000", Some("1.1.1.1"));
        assert_eq!(client_ip(&req, &settings(&[])), "203.0.113.9".parse().ok());
    }

    #[test]
    fn trusted_proxy_hands_over_the_rightmost_untrusted_entry() {
        let s = settings(&["10.0.0.0/8"]);
        let req = request("10.0.0.2:5000", Some("6.6.6.6, 198.51.100.7, 10.0.0.5"));
        assert_eq!(client_ip(&req, &s), "198.51.100.7".parse().ok());
    }

    #[test]
    fn trusted_proxy_without_header_is_the_client() {
        let s = settings(&["10.0.0.0/8"]);
        let req = request("10.0.0.2:5000", None);
        assert_eq!(client_ip(&req, &s), "10.0.0.2".parse().ok());
    }

    #[test]
    fn forwarded_entries_may_carry_ports() {
        assert_eq!(
            parse_forwarded_entry("[2001:db8::1]:443"),
            "2001:db8::1".parse().ok()
        );
        assert_eq!(
            parse_forwarded_entry(" 1.2.3.4:80 "),
            "1.2.3.4".parse().ok()
        );
        assert_eq!(parse_forwarded_entry("unknown"), None);
    }
}
