//! Replies to plain HTML form posts: a `303` back to the site, or a small page
//! saying what happened. Browsers are only ever sent to allowed origins.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use html_escape::{encode_double_quoted_attribute, encode_text};

use crate::config::Settings;
use crate::domain::{CommentId, Status};
use crate::error::ApiError;

/// Where a browser goes back to after a form post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A page of the site, on an allowed origin.
    Site(url::Url),
    /// A page of replyguard itself (`redirect_to=/demo/`): a path on this
    /// server, never another host.
    Local(String),
}

impl Target {
    fn href(&self) -> &str {
        match self {
            Self::Site(url) => url.as_str(),
            Self::Local(path) => path,
        }
    }
}

/// The first candidate (in order: `redirect_to`, `Referer`, `permalink`) that is
/// an http(s) URL on an allowed origin; a `redirect_to` may also be a path on
/// this server.
pub fn allowed_target(
    settings: &Settings,
    redirect_to: Option<&str>,
    others: [Option<&str>; 2],
) -> Option<Target> {
    if let Some(path) = redirect_to.and_then(local_path) {
        return Some(Target::Local(path));
    }
    [redirect_to]
        .into_iter()
        .chain(others)
        .flatten()
        .find_map(|raw| {
            let url = url::Url::parse(raw.trim()).ok()?;
            let web = matches!(url.scheme(), "http" | "https");
            (web && settings.is_allowed_origin(&url.origin().ascii_serialization()))
                .then_some(Target::Site(url))
        })
}

/// `raw` as a path on this server (`/demo/?post=a`), or `None` when it is
/// anything else (`//evil.example/`, `/\\evil.example`, `https://…`).
fn local_path(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let second = raw.chars().nth(1);
    if !raw.starts_with('/') || matches!(second, Some('/' | '\\')) {
        return None;
    }
    const HOST: &str = "replyguard.invalid";
    let base = url::Url::parse(&format!("http://{HOST}/")).ok()?;
    let url = base.join(raw).ok()?;
    // Dot segments collapse on joining (`/.//evil.example` → `//evil.example`):
    // the result is checked again, as a browser would read it.
    if url.host_str() != Some(HOST) || url.path().starts_with("//") {
        return None;
    }
    let mut path = url.path().to_owned();
    if let Some(query) = url.query() {
        path.push('?');
        path.push_str(query);
    }
    Some(path)
}

/// Success: back to the site at the new comment, or a thank-you page. A page
/// of replyguard's own is told, in its query, that the comment awaits
/// moderation (it has no other way to know without JavaScript).
pub fn accepted(target: Option<Target>, id: CommentId, status: Status) -> HttpResponse {
    let location = match target {
        Some(Target::Site(mut url)) => {
            url.set_fragment(Some(&format!("comment-{id}")));
            Some(url.to_string())
        }
        Some(Target::Local(mut path)) => {
            if status != Status::Approved {
                path.push(if path.contains('?') { '&' } else { '?' });
                path.push_str("awaiting_moderation=1");
            }
            Some(format!("{path}#comment-{id}"))
        }
        None => None,
    };
    if let Some(location) = location {
        return HttpResponse::SeeOther()
            .insert_header((header::LOCATION, location))
            .finish();
    }
    let message = if status == Status::Approved {
        "Thank you. Your comment has been published."
    } else {
        "Thank you. Your comment is awaiting moderation."
    };
    page(
        StatusCode::OK,
        "Comment received",
        &format!("<p>{message}</p>"),
    )
}

/// Failure: the same status as the JSON error, each problem named, a link back.
pub fn rejected(error: &ApiError, back: Option<Target>) -> HttpResponse {
    let mut body = String::new();
    match error.fields() {
        Some(fields) => {
            body.push_str("<p><strong>Error:</strong> please correct the following.</p>\n<ul>\n");
            for message in fields.fields().values().flatten() {
                body.push_str(&format!("<li>{}</li>\n", encode_text(message)));
            }
            body.push_str("</ul>\n");
        }
        None => body.push_str(&format!(
            "<p><strong>Error:</strong> {}</p>\n",
            encode_text(&error.to_string())
        )),
    }
    let href = back.map_or_else(
        || "javascript:history.back()".to_owned(),
        |target| encode_double_quoted_attribute(target.href()).into_owned(),
    );
    body.push_str(&format!("<p><a href=\"{href}\">&laquo; Back</a></p>"));
    let mut response = page(error.status_code(), "Comment submission failure", &body);
    error.log();
    if let Some(seconds) = error.retry_after() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, seconds.into());
    }
    response
}

fn page(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"robots\" content=\"noindex\">\n<title>{title}</title>\n</head>\n\
         <body>\n{body}\n</body>\n</html>\n"
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_stay_on_this_server() {
        assert_eq!(
            local_path("/demo/?post=a b"),
            Some("/demo/?post=a%20b".into())
        );
        assert_eq!(local_path(" /demo/ "), Some("/demo/".into()));
        for foreign in [
            "//evil.example/",
            "/\\evil.example",
            "/.//evil.example/",
            "/..//evil.example",
            "/%2e//evil.example",
            "/%2E%2E//evil.example",
            "/a/..//evil.example",
            "/x/../\\evil.example",
            "/.//evil.example:8080/x",
            "https://evil.example/",
            "demo/",
            "",
        ] {
            assert_eq!(local_path(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn a_local_target_learns_the_comment_awaits_moderation() {
        let response = accepted(
            Some(Target::Local("/demo/?post=a".into())),
            CommentId(7),
            Status::Pending,
        );
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            response.headers().get(header::LOCATION).unwrap(),
            "/demo/?post=a&awaiting_moderation=1#comment-7"
        );
        let response = accepted(
            Some(Target::Local("/demo/".into())),
            CommentId(8),
            Status::Approved,
        );
        assert_eq!(
            response.headers().get(header::LOCATION).unwrap(),
            "/demo/#comment-8"
        );
    }
}
