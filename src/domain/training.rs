//! Labelled examples supplied by operators (imports), validated row by row.

use serde::Deserialize;

use super::comment::MAX_CONTENT_BYTES;

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
        let clean = |v: Option<String>| {
            v.map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty() && !s.contains('\0'))
        };
        match is_spam {
            Some(is_spam) if problems.is_empty() => Ok(Self {
                content,
                author_name: clean(row.author_name),
                author_email: clean(row.author_email),
                author_url: clean(row.author_url),
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
}
