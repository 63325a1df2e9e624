//! Labelled examples supplied by operators (imports), validated row by row.

use serde::Deserialize;

use super::comment::{
    AuthorEmail, AuthorUrl, MAX_AUTHOR_EMAIL_CHARS, MAX_AUTHOR_NAME_CHARS, MAX_AUTHOR_URL_CHARS,
    MAX_CONTENT_BYTES, visible,
};

/// A valid labelled example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledExample {
    pub content: String,
    pub author_name: Option<String>,
    pub author_email: Option<String>,
    pub author_url: Option<String>,
    pub is_spam: bool,
}

/// A row as sent (SPEC §6): `content` (or `text`), optional author fields, `label`.
/// Other fields (`id`, `date`, … of exported data sets) are ignored.
#[derive(Debug, Clone, Deserialize)]
pub struct ExampleRow {
    pub content: Option<String>,
    pub text: Option<String>,
    #[serde(alias = "author")]
    pub author_name: Option<String>,
    pub author_email: Option<String>,
    pub author_url: Option<String>,
    pub label: Option<String>,
}

impl TryFrom<ExampleRow> for LabelledExample {
    type Error = Vec<String>;

    fn try_from(row: ExampleRow) -> Result<Self, Self::Error> {
        let mut problems = Vec::new();
        let content = row
            .content
            .or(row.text)
            .map(|c| c.trim().to_owned())
            .unwrap_or_default();
        if content.is_empty() {
            problems.push("`content` is required and must not be empty.".to_owned());
        } else if content.len() > MAX_CONTENT_BYTES {
            problems.push(format!(
                "`content` must be at most {MAX_CONTENT_BYTES} bytes."
            ));
        } else if content.contains('\0') {
            problems.push("`content` must not contain NUL characters.".to_owned());
        }
        let is_spam = match row.label.as_deref() {
            Some("spam") => Some(true),
            Some("ham") => Some(false),
            _ => {
                problems.push("`label` must be \"spam\" or \"ham\".".to_owned());
                None
            }
        };
        // Author fields are optional, and held to the limits and formats of a
        // submitted comment's (SPEC §4) when given: an empty value means none.
        let author_name = visible(row.author_name.as_deref()).map(str::to_owned);
        if let Some(name) = &author_name {
            if name.chars().count() > MAX_AUTHOR_NAME_CHARS {
                problems.push(format!(
                    "`author_name` must be at most {MAX_AUTHOR_NAME_CHARS} characters."
                ));
            } else if name.chars().any(char::is_control) {
                problems.push("`author_name` must not contain control characters.".to_owned());
            }
        }
        let author_email = match visible(row.author_email.as_deref()) {
            None => None,
            Some(email) => AuthorEmail::parse(Some(email))
                .map_err(|_| {
                    problems.push(format!(
                        "`author_email` must be a valid email address of at most \
                         {MAX_AUTHOR_EMAIL_CHARS} characters."
                    ));
                })
                .ok(),
        };
        let author_url = AuthorUrl::parse_optional(row.author_url.as_deref())
            .map_err(|_| {
                problems.push(format!(
                    "`author_url` must be an http:// or https:// address of at most \
                     {MAX_AUTHOR_URL_CHARS} characters."
                ));
            })
            .ok()
            .flatten();
        match is_spam {
            Some(is_spam) if problems.is_empty() => Ok(Self {
                content,
                author_name,
                author_email: author_email.map(|e| e.as_str().to_owned()),
                author_url: author_url.map(|u| u.as_str().to_owned()),
                is_spam,
            }),
            _ => Err(problems),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(content: Option<&str>, label: Option<&str>) -> ExampleRow {
        ExampleRow {
            content: content.map(str::to_owned),
            text: None,
            author_name: None,
            author_email: None,
            author_url: None,
            label: label.map(str::to_owned),
        }
    }

    #[test]
    fn rows_need_content_and_a_known_label() {
        assert!(
            LabelledExample::try_from(row(Some("buy now"), Some("spam"))).is_ok_and(|e| e.is_spam)
        );
        assert!(LabelledExample::try_from(row(Some("hi"), Some("ham"))).is_ok_and(|e| !e.is_spam));
        assert_eq!(
            LabelledExample::try_from(row(None, Some("maybe")))
                .unwrap_err()
                .len(),
            2
        );
        assert!(LabelledExample::try_from(row(Some("  "), Some("ham"))).is_err());
    }

    fn with_author(name: &str, email: &str, url: &str) -> ExampleRow {
        ExampleRow {
            author_name: Some(name.to_owned()),
            author_email: Some(email.to_owned()),
            author_url: Some(url.to_owned()),
            ..row(Some("buy now"), Some("spam"))
        }
    }

    #[test]
    fn author_fields_follow_the_comment_rules_when_given() {
        let example =
            LabelledExample::try_from(with_author(" Ada ", "Ada@Example.COM", "example.com/x"))
                .unwrap();
        assert_eq!(example.author_name.as_deref(), Some("Ada"));
        assert_eq!(example.author_email.as_deref(), Some("ada@example.com"));
        assert_eq!(example.author_url.as_deref(), Some("http://example.com/x"));

        let empty =
            LabelledExample::try_from(with_author("\u{200B}", " \u{FEFF}", "\u{200B}")).unwrap();
        assert_eq!(
            (empty.author_name, empty.author_email, empty.author_url),
            (None, None, None)
        );

        let problems =
            LabelledExample::try_from(with_author("a\u{7}b", "not an address", "ftp://x.example"))
                .unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        for field in ["author_name", "author_email", "author_url"] {
            assert!(problems.iter().any(|p| p.contains(field)), "{problems:?}");
        }
        let long_name = "n".repeat(MAX_AUTHOR_NAME_CHARS + 1);
        assert!(LabelledExample::try_from(with_author(&long_name, "", "")).is_err());
    }
}
