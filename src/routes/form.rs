//! Replies to plain HTML form posts: a `303` back to the site, or a small page
//! saying what happened. Browsers are only ever sent to allowed origins.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use html_escape::{encode_double_quoted_attribute, encode_text};

use crate::config::Settings;
use crate::domain::{CommentId, Status};
use crate::error::ApiError;

/// The first candidate (in order: `redirect_to`, `Referer`, `permalink`) that is
/// an http(s) URL on an allowed origin.
pub fn allowed_target<'a>(
    settings: &Settings,
    candidates: impl IntoIterator<Item = Option<&'a str>>,
) -> Option<url::Url> {
    candidates.into_iter().flatten().find_map(|raw| {
        let url = url::Url::parse(raw.trim()).ok()?;
        let web = matches!(url.scheme(), "http" | "https");
        (web && settings.is_allowed_origin(&url.origin().ascii_serialization())).then_some(url)
    })
}

/// Success: back to the site at the new comment, or a thank-you page.
pub fn accepted(target: Option<url::Url>, id: CommentId, status: Status) -> HttpResponse {
    if let Some(mut url) = target {
        url.set_fragment(Some(&format!("comment-{id}")));
        return HttpResponse::SeeOther()
            .insert_header((header::LOCATION, url.as_str()))
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
pub fn rejected(error: &ApiError, back: Option<url::Url>) -> HttpResponse {
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
        |url| encode_double_quoted_attribute(url.as_str()).into_owned(),
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
