//! HTML rendering of comment text for public reads: escaped, line breaks kept,
//! web addresses turned into links marked `rel="nofollow ugc"`.

use html_escape::{encode_double_quoted_attribute, encode_text};
use linkify::{LinkFinder, LinkKind};

/// Renders comment text as safe HTML.
pub fn content_html(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut finder = LinkFinder::new();
    finder.kinds(&[LinkKind::Url]);
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    for span in finder.spans(&text) {
        let part = span.as_str();
        let scheme = part.get(..8).unwrap_or(part).to_ascii_lowercase();
        let is_web_link = span.kind() == Some(&LinkKind::Url)
            && (scheme.starts_with("http://") || scheme.starts_with("https://"));
        if is_web_link {
            out.push_str("<a href=\"");
            out.push_str(&encode_double_quoted_attribute(part));
            out.push_str("\" rel=\"nofollow ugc\">");
            out.push_str(&encode_text(part));
            out.push_str("</a>");
        } else {
            push_text(&mut out, part);
        }
    }
    out
}

fn push_text(out: &mut String, text: &str) {
    let mut lines = text.split('\n');
    if let Some(first) = lines.next() {
        out.push_str(&encode_text(first));
    }
    for line in lines {
        out.push_str("<br>\n");
        out.push_str(&encode_text(line));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            content_html("<script>alert('x')</script> & co"),
            "&lt;script&gt;alert('x')&lt;/script&gt; &amp; co"
        );
    }

    #[test]
    fn line_breaks_become_br() {
        assert_eq!(
            content_html("one\r\ntwo\nthree\rfour"),
            "one<br>\ntwo<br>\nthree<br>\nfour"
        );
        assert!(
            content_html("HTTPS://Example.com/x").starts_with("<a href=\"HTTPS://Example.com/x\"")
        );
    }

    #[test]
    fn web_addresses_become_nofollow_links() {
        assert_eq!(
            content_html("see https://example.com/a?b=1&c=2 now"),
            "see <a href=\"https://example.com/a?b=1&amp;c=2\" rel=\"nofollow ugc\">https://example.com/a?b=1&amp;c=2</a> now"
        );
    }

    #[test]
    fn a_quote_ends_a_link_and_is_escaped() {
        assert_eq!(
            content_html("x https://example.com/\"onmouseover=\"y"),
            "x <a href=\"https://example.com/\" rel=\"nofollow ugc\">https://example.com/</a>\"onmouseover=\"y"
        );
    }

    #[test]
    fn other_schemes_stay_text() {
        let html = content_html("javascript:alert(1) ftp://x.example/file");
        assert!(!html.contains("<a"), "{html}");
    }
}
