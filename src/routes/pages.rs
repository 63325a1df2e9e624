//! The web pages (SPEC §10): the moderation page under `/admin/`, the
//! embeddable comment section `/embed/comments.js` and the `/demo/` article.
//! Every asset is compiled into the binary (no build step, nothing fetched
//! from anywhere else) and served with a strict Content-Security-Policy and an
//! `ETag`, so a browser revalidates with one cheap request.

use std::collections::HashMap;
use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use html_escape::{encode_double_quoted_attribute, encode_text};
use serde::Deserialize;

use super::comments::rfc3339;
use super::render::content_html;
use crate::domain::PostId;
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::comments;
use crate::storage::records::CommentRecord;

/// Pages may load scripts, styles and data from this server only; nothing
/// frames them.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// Comments the demo page renders without JavaScript.
const DEMO_COMMENTS: i64 = 200;

/// The post the demo article shows when `?post=` is absent.
const DEMO_POST: &str = "demo";

struct Asset {
    body: &'static str,
    content_type: &'static str,
    etag: String,
}

static ASSETS: LazyLock<HashMap<&'static str, Asset>> = LazyLock::new(|| {
    const JS: &str = "text/javascript; charset=utf-8";
    const CSS: &str = "text/css; charset=utf-8";
    const HTML: &str = "text/html; charset=utf-8";
    [
        ("/admin/", include_str!("../../web/admin/index.html"), HTML),
        (
            "/admin/admin.js",
            include_str!("../../web/admin/admin.js"),
            JS,
        ),
        (
            "/admin/admin.css",
            include_str!("../../web/admin/admin.css"),
            CSS,
        ),
        (
            "/embed/comments.js",
            include_str!("../../web/embed/comments.js"),
            JS,
        ),
        (
            "/embed/comments.css",
            include_str!("../../web/embed/comments.css"),
            CSS,
        ),
        (
            "/demo/demo.css",
            include_str!("../../web/demo/demo.css"),
            CSS,
        ),
    ]
    .into_iter()
    .map(|(path, body, content_type)| {
        let etag = super::etag::of(body.as_bytes());
        (
            path,
            Asset {
                body,
                content_type,
                etag,
            },
        )
    })
    .collect()
});

const DEMO_TEMPLATE: &str = include_str!("../../web/demo/index.html");

/// The paths of every embedded asset (for the route table and its test).
pub fn asset_paths() -> Vec<&'static str> {
    let mut paths: Vec<&'static str> = ASSETS.keys().copied().collect();
    paths.sort_unstable();
    paths
}

/// An embedded asset, or 304 when the browser's copy is current.
pub async fn asset(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let Some(asset) = ASSETS.get(req.path()) else {
        return Err(ApiError::NotFound(
            "There is nothing at this address.".into(),
        ));
    };
    let fresh = super::etag::matches(&req, &asset.etag);
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, asset.etag.clone()))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if asset.content_type.starts_with("text/html") {
        response
            .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_POLICY))
            .insert_header((header::REFERRER_POLICY, "no-referrer"));
    }
    if fresh {
        return Ok(response.finish());
    }
    Ok(response.content_type(asset.content_type).body(asset.body))
}

/// `/admin` and `/demo` without the slash.
pub async fn add_slash(req: HttpRequest) -> HttpResponse {
    let mut location = format!("{}/", req.path());
    if !req.query_string().is_empty() {
        location.push('?');
        location.push_str(req.query_string());
    }
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, location))
        .finish()
}

#[derive(Debug, Deserialize)]
pub struct DemoQuery {
    post: Option<String>,
    awaiting_moderation: Option<String>,
}

/// The demo article with its comment section, rendered on the server so that
/// it works without JavaScript; `comments.js` then takes it over.
pub async fn demo(
    query: web::Query<DemoQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let post = PostId::parse(Some(query.post.as_deref().unwrap_or(DEMO_POST)))
        .map_err(|_| ApiError::NotFound("There is no demo article with that post id.".into()))?;
    let key = post.as_str().to_owned();
    let approved = state
        .db
        .run(move |conn| comments::list_approved_for_post(conn, &key, None, DEMO_COMMENTS))
        .await?;
    let notice = if query.awaiting_moderation.is_some() {
        "Your comment is awaiting moderation."
    } else {
        ""
    };
    let back = format!(
        "/demo/?post={}",
        percent_encoding::utf8_percent_encode(post.as_str(), percent_encoding::NON_ALPHANUMERIC)
    );
    let post_attr = encode_double_quoted_attribute(post.as_str());
    let back = encode_double_quoted_attribute(&back);
    let comments = thread_html(&approved);
    let html = fill(DEMO_TEMPLATE, |name| match name {
        "post_id" => Some(&post_attr),
        "redirect_to" => Some(&back),
        "notice" => Some(notice),
        "comments" => Some(&comments),
        _ => None,
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_POLICY))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .content_type("text/html; charset=utf-8")
        .body(html))
}

/// Replaces each `{{name}}` of `template` in one pass (a value that itself
/// holds `{{…}}` is never expanded again); unknown names stay as they are.
fn fill<'a>(template: &str, value: impl Fn(&str) -> Option<&'a str>) -> String {
    let mut out = String::with_capacity(template.len() * 2);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after
            .find("}}")
            .and_then(|end| Some((end, value(&after[..end])?)))
        {
            Some((end, text)) => {
                out.push_str(text);
                rest = &after[end + 2..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The approved comments as nested lists, replies under their parent (the
/// same markup `comments.js` renders). A reply whose parent is not shown
/// (not approved any more) is shown at the top level.
fn thread_html(records: &[CommentRecord]) -> String {
    let shown: std::collections::HashSet<i64> = records.iter().map(|r| r.id).collect();
    let mut children: HashMap<Option<i64>, Vec<&CommentRecord>> = HashMap::new();
    for record in records {
        let parent = record.parent_id.filter(|p| shown.contains(p));
        children.entry(parent).or_default().push(record);
    }
    let mut out = String::new();
    push_list(&mut out, &children, None, "rg-comment-list");
    out
}

fn push_list(
    out: &mut String,
    children: &HashMap<Option<i64>, Vec<&CommentRecord>>,
    parent: Option<i64>,
    class: &str,
) {
    let Some(list) = children.get(&parent) else {
        return;
    };
    out.push_str(&format!("<ol class=\"{class}\">\n"));
    for record in list {
        let author = encode_text(&record.author_name);
        let author = match &record.author_url {
            Some(url) => format!(
                "<a href=\"{}\" rel=\"nofollow ugc external\">{author}</a>",
                encode_double_quoted_attribute(url)
            ),
            None => author.into_owned(),
        };
        let at = rfc3339(record.created_at.and_utc());
        out.push_str(&format!(
            "<li id=\"comment-{id}\" class=\"rg-comment\">\n<article>\n\
             <footer class=\"rg-meta\"><b class=\"rg-author\">{author}</b> \
             <span class=\"rg-says\">says:</span> \
             <time datetime=\"{at}\">{date}</time></footer>\n\
             <div class=\"rg-content\">{content}</div>\n</article>\n",
            id = record.id,
            date = record.created_at.format("%B %-d, %Y at %H:%M UTC"),
            content = content_html(&record.content),
        ));
        push_list(out, children, Some(record.id), "rg-children");
        out.push_str("</li>\n");
    }
    out.push_str("</ol>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_never_expanded_twice() {
        let filled = fill("<a b=\"{{x}}\">{{y}}</a>{{z}}", |name| match name {
            "x" => Some("{{y}}"),
            "y" => Some("<i>"),
            _ => None,
        });
        assert_eq!(filled, "<a b=\"{{y}}\"><i></a>{{z}}");
    }
}
