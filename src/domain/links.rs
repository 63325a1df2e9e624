//! Web links in comments: how many there are (a hold rule) and which sites
//! they point to (the moderator's "everything from this link domain").

/// Counts the web links in a text (`http(s)://…` and `www.…` addresses).
pub fn count_links(text: &str) -> usize {
    finder().links(text).count()
}

fn finder() -> linkify::LinkFinder {
    let mut finder = linkify::LinkFinder::new();
    finder.kinds(&[linkify::LinkKind::Url]);
    finder.url_must_have_scheme(false);
    finder
}

/// The registrable domains a comment links to, the author's website first,
/// each once, in order of appearance.
pub fn link_domains(author_url: Option<&str>, text: &str) -> Vec<String> {
    let mut domains: Vec<String> = Vec::new();
    let links = finder()
        .links(text)
        .map(|link| link.as_str().to_owned())
        .collect::<Vec<_>>();
    for url in author_url
        .into_iter()
        .chain(links.iter().map(String::as_str))
    {
        let domain = registrable_domain(url);
        if !domain.is_empty() && !domains.contains(&domain) {
            domains.push(domain);
        }
    }
    domains
}

/// `https://www.shop.example.co.uk/x` → `example.co.uk`; `youtu.be/x` → `youtu.be`.
pub fn registrable_domain(url: &str) -> String {
    let lower = url.to_lowercase();
    let rest = lower.split_once("://").map_or(lower.as_str(), |(_, r)| r);
    let host = rest
        .split(['/', '?', '#', ':'])
        .next()
        .unwrap_or("")
        .trim_start_matches("www.")
        .trim_matches('.');
    let labels: Vec<&str> = host.split('.').collect();
    let keep = match labels.as_slice() {
        [.., second, last] if labels.len() > 2 && second.len() <= 3 && last.len() == 2 => 3,
        _ => 2,
    };
    labels[labels.len().saturating_sub(keep)..].join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrable_domain_keeps_country_second_levels() {
        assert_eq!(
            registrable_domain("http://a.b.example.co.uk/x"),
            "example.co.uk"
        );
        assert_eq!(registrable_domain("www.example.com"), "example.com");
        assert_eq!(
            registrable_domain("HTTPS://Example.com:8080"),
            "example.com"
        );
    }

    #[test]
    fn link_domains_lists_the_website_then_the_text_once_each() {
        assert_eq!(
            link_domains(
                Some("https://www.shop.example.com/"),
                "see http://cheap.pills.test/x and www.example.com and http://pills.test"
            ),
            vec!["example.com".to_owned(), "pills.test".to_owned()]
        );
        assert!(link_domains(None, "no links here.").is_empty());
    }

    #[test]
    fn counts_links_with_and_without_scheme() {
        assert_eq!(count_links("a http://a.example b www.b.example c"), 2);
        assert_eq!(count_links("plain"), 0);
    }
}
