//! Entity tags for answers that do not change often (embedded pages, public
//! reads): a browser or CDN that sends `If-None-Match` with the tag it holds
//! gets `304 Not Modified` and no body.

use actix_web::HttpRequest;
use actix_web::http::header;
use sha2::{Digest, Sha256};

/// A strong tag for `body`: the first 96 bits of its SHA-256, quoted.
pub fn of(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// Whether the request's `If-None-Match` names `etag` (or `*`); weak tags
/// compare by their value, as RFC 9110 asks for `If-None-Match`.
pub fn matches(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn tags_differ_by_content_and_are_quoted() {
        assert_ne!(of(b"a"), of(b"b"));
        assert!(of(b"a").starts_with('"') && of(b"a").ends_with('"'));
    }

    #[test]
    fn if_none_match_lists_weak_tags_and_stars() {
        let tag = of(b"x");
        for header in [tag.clone(), format!("\"other\", W/{tag}"), "*".to_owned()] {
            let req = TestRequest::default()
                .insert_header((header::IF_NONE_MATCH, header))
                .to_http_request();
            assert!(matches(&req, &tag));
        }
        let req = TestRequest::default()
            .insert_header((header::IF_NONE_MATCH, "\"other\""))
            .to_http_request();
        assert!(!matches(&req, &tag));
        assert!(!matches(&TestRequest::default().to_http_request(), &tag));
    }
}
