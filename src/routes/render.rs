//! HTML rendering of comment text for public reads: escaped, line breaks kept,
//! web addresses turned into links marked `rel="nofollow ugc"`. A link never
//! shows a reader something other than where it goes: an internationalized
//! domain is shown in its ASCII (punycode) form, so `exаmple.com` with a
//! Cyrillic `а` reads `xn--exmple-4nf.com`; zero-width characters are dropped
//! from a link's shown text (percent-encoded in its target), and embedding,
//! override and isolate controls from the whole comment.

use html_escape::{encode_double_quoted_attribute, encode_text};
use linkify::{LinkFinder, LinkKind};

use crate::domain::comment::is_misleading;

/// Renders comment text as safe HTML.
pub fn content_html(text: &str) -> String {
    // Embedding, override and isolate controls change how the text around
    // them reads (an override before a link reverses its shown address), so
    // none is rendered; marks (U+200E/F) only nudge neutral characters.
    let text: String = text
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .chars()
        .filter(|c| !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
        .collect();
    let mut finder = LinkFinder::new();
    finder.kinds(&[LinkKind::Url]);
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    for span in finder.spans(&text) {
        let part = span.as_str();
        let scheme = part.get(..8).unwrap_or(part).to_ascii_lowercase();
        let is_web_link = span.kind() == Some(&LinkKind::Url)
            && (scheme.starts_with("http://") || scheme.starts_with("https://"));
        if let Some((href, shown)) = is_web_link.then(|| link(part)).flatten() {
            out.push_str("<a href=\"");
            out.push_str(&encode_double_quoted_attribute(&href));
            out.push_str("\" rel=\"nofollow ugc\">");
            out.push_str(&encode_text(&shown));
            out.push_str("</a>");
        } else {
            push_text(&mut out, part);
        }
    }
    out
}

/// The target and the shown text of a link as typed; `None` when it is not a
/// valid address (it then stays text). Plain ASCII addresses are kept exactly
/// as typed.
fn link(typed: &str) -> Option<(String, String)> {
    let plain = typed.is_ascii();
    let parsed = url::Url::parse(typed).ok()?;
    if plain {
        return Some((typed.to_owned(), typed.to_owned()));
    }
    let mut shown: String = typed.chars().filter(|c| !is_misleading(*c)).collect();
    if let Some(host) = parsed.host_str() {
        // The host as typed sits between `://` (and any user info) and the
        // next `/`, `?`, `#` or `:`.
        let start = shown.find("://").map_or(0, |i| i + 3);
        let end = shown[start..]
            .find(['/', '?', '#'])
            .map_or(shown.len(), |i| start + i);
        let authority = &shown[start..end];
        let host_start = authority.rfind('@').map_or(start, |i| start + i + 1);
        let host_end = shown[host_start..end]
            .rfind(':')
            .map_or(end, |i| host_start + i);
        if !shown[host_start..host_end].is_ascii() {
            shown.replace_range(host_start..host_end, host);
        }
    }
    Some((parsed.to_string(), shown))
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
    fn lookalike_domains_show_as_punycode_and_direction_controls_go() {
        let html = content_html("pay at https://exаmple.com/login today");
        assert!(
            html.contains(">https://xn--exmple-4nf.com/login</a>")
                && html.contains("href=\"https://xn--exmple-4nf.com/login\""),
            "{html}"
        );
        let html = content_html("open https://example.com/\u{202E}gpj.exe");
        assert!(!html.contains('\u{202E}'), "{html}");
        assert!(
            html.contains("href=\"https://example.com/gpj.exe\""),
            "{html}"
        );
        // A non-ASCII path on an ASCII host keeps its letters on screen.
        let html = content_html("https://de.example/wiki/Müller");
        assert!(
            html.contains(">https://de.example/wiki/Müller</a>"),
            "{html}"
        );
    }

    #[test]
    fn an_override_before_a_link_is_dropped() {
        let html = content_html("Login: \u{202E}https://evil.example/?moc.lapyap//:sptth");
        assert!(!html.contains('\u{202E}'), "{html}");
        let html = content_html("\u{2067}https://evil.example/x\u{2069} ok");
        assert!(html.contains("href=\"https://evil.example/x\""), "{html}");
        assert!(
            !html.contains('\u{2069}') && !html.contains("%E2%81%A9"),
            "{html}"
        );
    }

    #[test]
    fn other_schemes_stay_text() {
        let html = content_html("javascript:alert(1) ftp://x.example/file");
        assert!(!html.contains("<a"), "{html}");
    }
}
