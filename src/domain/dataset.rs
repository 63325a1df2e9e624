//! Labelled examples: the one type every part of replyguard trains and
//! evaluates on, and the one reader that makes them from text (the CLI's data
//! files, the admin import, the base data shipped with the binary). Every row
//! is held to the same rules: text required, author fields optional and, when
//! given, held to the comment form's rules (SPEC §4).

use std::fmt;

use serde::Deserialize;

use super::comment::{
    AuthorEmail, AuthorName, AuthorUrl, MAX_AUTHOR_EMAIL_CHARS, MAX_AUTHOR_URL_CHARS,
    MAX_CONTENT_BYTES, is_misleading, visible,
};

/// A valid labelled example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledExample {
    /// The text exactly as given: a data set is trained on as it is, so that
    /// a model retrains bit for bit from its files.
    pub text: String,
    pub author_name: Option<String>,
    pub author_email: Option<String>,
    pub author_url: Option<String>,
    pub is_spam: bool,
}

impl AsRef<LabelledExample> for LabelledExample {
    fn as_ref(&self) -> &LabelledExample {
        self
    }
}

/// Where a row stands in its input, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Position {
    /// A line of JSONL (1-based).
    Line(usize),
    /// An element of a JSON array (0-based).
    Index(usize),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Line(n) => write!(f, "line {n}"),
            Self::Index(i) => write!(f, "rows[{i}]"),
        }
    }
}

/// Why a data set was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatasetError {
    #[error("the data is not UTF-8 text")]
    NotUtf8,
    #[error("the data is not a valid JSON array: {0}")]
    NotAnArray(String),
    #[error("the data holds no examples")]
    Empty,
    #[error("the data holds more than {0} examples")]
    TooMany(usize),
    /// Every bad row, with what is wrong with it.
    #[error("{} row(s) are invalid", .0.len())]
    Rows(Vec<(Position, Vec<String>)>),
}

/// A row as sent: `content` (or `text`), optional author fields, `label`.
/// Other fields (`id`, `date`, … of exported data sets) are ignored.
#[derive(Debug, Clone, Default, Deserialize)]
struct ExampleRow {
    text: Option<String>,
    content: Option<String>,
    #[serde(alias = "author")]
    author_name: Option<String>,
    author_email: Option<String>,
    author_url: Option<String>,
    label: Option<String>,
}

/// Reads a JSON array of rows, or JSONL (one row a line; blank lines and a
/// leading byte-order mark are skipped). Any bad row fails the whole read, and
/// every bad row is named.
///
/// # Errors
/// Text that is neither, no rows, more than `max_rows`, or invalid rows.
pub fn read_examples(
    bytes: &[u8],
    max_rows: Option<usize>,
) -> Result<Vec<LabelledExample>, DatasetError> {
    let text = std::str::from_utf8(bytes).map_err(|_| DatasetError::NotUtf8)?;
    let text = text.trim_start_matches('\u{FEFF}');
    let mut rows: Vec<(Position, Result<ExampleRow, String>)> = Vec::new();
    if text.trim_start().starts_with('[') {
        let values: Vec<serde_json::Value> =
            serde_json::from_str(text).map_err(|err| DatasetError::NotAnArray(err.to_string()))?;
        for (i, value) in values.into_iter().enumerate() {
            rows.push((Position::Index(i), row_from_value(value)));
        }
    } else {
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let row = serde_json::from_str(line)
                .map_err(|_| "This line is not valid JSON.".to_owned())
                .and_then(row_from_value);
            rows.push((Position::Line(i + 1), row));
        }
    }
    if rows.is_empty() {
        return Err(DatasetError::Empty);
    }
    if let Some(max) = max_rows.filter(|max| rows.len() > *max) {
        return Err(DatasetError::TooMany(max));
    }
    let mut examples = Vec::with_capacity(rows.len());
    let mut bad = Vec::new();
    for (position, row) in rows {
        match row.map_err(|e| vec![e]).and_then(LabelledExample::from_row) {
            Ok(example) => examples.push(example),
            Err(problems) => bad.push((position, problems)),
        }
    }
    if bad.is_empty() {
        Ok(examples)
    } else {
        Err(DatasetError::Rows(bad))
    }
}

/// One row: a JSON object whose known fields are strings (or null).
fn row_from_value(value: serde_json::Value) -> Result<ExampleRow, String> {
    if !value.is_object() {
        return Err("Each example must be a JSON object.".to_owned());
    }
    serde_json::from_value(value).map_err(|_| {
        "`content`, `text`, `author_name`, `author_email`, `author_url` and `label` \
         must be strings."
            .to_owned()
    })
}

impl LabelledExample {
    /// An example reported one at a time (Akismet's `submit-spam`/`submit-ham`):
    /// `None` when the text is empty or invalid; author fields that break the
    /// comment form's rules are dropped rather than refusing the report.
    pub fn reported(
        text: &str,
        author_name: Option<&str>,
        author_email: Option<&str>,
        author_url: Option<&str>,
        is_spam: bool,
    ) -> Option<Self> {
        let keep = |value: Option<&str>, valid: &dyn Fn(&str) -> bool| {
            value.filter(|v| valid(v)).map(str::to_owned)
        };
        Self::from_row(ExampleRow {
            text: Some(text.to_owned()),
            author_name: keep(author_name, &|v| AuthorName::parse(Some(v)).is_ok()),
            author_email: keep(author_email, &|v| AuthorEmail::parse(Some(v)).is_ok()),
            author_url: keep(author_url, &|v| AuthorUrl::parse_optional(Some(v)).is_ok()),
            label: Some(if is_spam { "spam" } else { "ham" }.to_owned()),
            ..ExampleRow::default()
        })
        .ok()
    }

    fn from_row(row: ExampleRow) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        let text = row.content.or(row.text).unwrap_or_default();
        // Unlike a submitted comment's, the text may hold control characters
        // other than NUL: public corpora do (the SMS set has `\x92`).
        if text.trim().is_empty() {
            problems.push("`content` (or `text`) is required and must not be empty.".to_owned());
        } else if text.trim().len() > MAX_CONTENT_BYTES {
            problems.push(format!(
                "`content` must be at most {MAX_CONTENT_BYTES} bytes."
            ));
        } else if text.contains('\0') {
            problems.push("`content` must not contain NUL characters.".to_owned());
        }
        let is_spam = match row.label.as_deref() {
            Some("spam") => Some(true),
            Some("ham") => Some(false),
            Some(other) => {
                problems.push(format!(
                    "`label` must be \"spam\" or \"ham\", not {other:?}."
                ));
                None
            }
            None => {
                problems.push("`label` must be \"spam\" or \"ham\".".to_owned());
                None
            }
        };
        // Author fields are optional, and held to a submitted comment's rules
        // when given: an empty or invisible-only value means none.
        // Real data sets carry names with zero-width or direction characters
        // (YouTube's do); a training row is never shown to a reader, so they
        // are dropped from it rather than refusing the set.
        let author_name: Option<String> = row
            .author_name
            .map(|name| name.chars().filter(|c| !is_misleading(*c)).collect());
        let author_name = match visible(author_name.as_deref()) {
            None => None,
            Some(name) => AuthorName::parse(Some(name))
                .map_err(|why| problems.push(format!("`author_name`: {why}")))
                .ok(),
        };
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
                text,
                author_name: author_name.map(|n| n.as_str().to_owned()),
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
    use crate::domain::comment::MAX_AUTHOR_NAME_CHARS;

    fn row(content: Option<&str>, label: Option<&str>) -> ExampleRow {
        ExampleRow {
            content: content.map(str::to_owned),
            label: label.map(str::to_owned),
            ..ExampleRow::default()
        }
    }

    #[test]
    fn rows_need_content_and_a_known_label() {
        assert!(
            LabelledExample::from_row(row(Some("buy now"), Some("spam"))).is_ok_and(|e| e.is_spam)
        );
        assert!(LabelledExample::from_row(row(Some("hi"), Some("ham"))).is_ok_and(|e| !e.is_spam));
        let problems = LabelledExample::from_row(row(None, Some("maybe"))).unwrap_err();
        assert_eq!(problems.len(), 2);
        assert!(problems[1].contains("\"maybe\""), "{problems:?}");
        assert!(LabelledExample::from_row(row(Some("  "), Some("ham"))).is_err());
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
            LabelledExample::from_row(with_author(" Ada ", "Ada@Example.COM", "example.com/x"))
                .unwrap();
        assert_eq!(example.author_name.as_deref(), Some("Ada"));
        assert_eq!(example.author_email.as_deref(), Some("ada@example.com"));
        assert_eq!(example.author_url.as_deref(), Some("http://example.com/x"));

        let empty =
            LabelledExample::from_row(with_author("\u{200B}", " \u{FEFF}", "\u{200B}")).unwrap();
        assert_eq!(
            (empty.author_name, empty.author_email, empty.author_url),
            (None, None, None)
        );

        let problems =
            LabelledExample::from_row(with_author("a\u{7}b", "not an address", "ftp://x.example"))
                .unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        for field in ["author_name", "author_email", "author_url"] {
            assert!(problems.iter().any(|p| p.contains(field)), "{problems:?}");
        }
        let long_name = "n".repeat(MAX_AUTHOR_NAME_CHARS + 1);
        assert!(LabelledExample::from_row(with_author(&long_name, "", "")).is_err());
    }

    #[test]
    fn reported_examples_drop_bad_author_fields_but_need_text() {
        let example = LabelledExample::reported(
            "buy now",
            Some("a\u{7}b"),
            Some("nope"),
            Some("x.example"),
            true,
        )
        .unwrap();
        assert_eq!(
            (
                example.author_name,
                example.author_email,
                example.author_url.as_deref()
            ),
            (None, None, Some("http://x.example/"))
        );
        assert!(LabelledExample::reported(" ", None, None, None, false).is_none());
    }

    #[test]
    fn reads_jsonl_and_arrays_naming_every_bad_row() {
        let jsonl = "\u{FEFF}{\"text\": \"hi\", \"label\": \"ham\"}\n\n{\"text\": \"x\", \"label\": \"maybe\"}\nnope\n";
        let Err(DatasetError::Rows(bad)) = read_examples(jsonl.as_bytes(), None) else {
            panic!("bad rows must fail the read");
        };
        let positions: Vec<String> = bad.iter().map(|(p, _)| p.to_string()).collect();
        assert_eq!(positions, ["line 3", "line 4"]);

        let array = br#"[{"content": "a", "label": "spam"}, 5]"#;
        let Err(DatasetError::Rows(bad)) = read_examples(array, None) else {
            panic!("a non-object row must fail the read");
        };
        assert_eq!(bad[0].0, Position::Index(1));

        let fine = read_examples(b"{\"content\": \" a \", \"label\": \"spam\"}", Some(1)).unwrap();
        assert_eq!(fine[0].text, " a ", "texts are kept as given");
        assert_eq!(
            read_examples(
                b"{\"text\":\"a\",\"label\":\"ham\"}\n{\"text\":\"b\",\"label\":\"ham\"}",
                Some(1)
            ),
            Err(DatasetError::TooMany(1))
        );
        assert_eq!(read_examples(b"\n \n", None), Err(DatasetError::Empty));
        assert!(matches!(
            read_examples(b"[1,", None),
            Err(DatasetError::NotAnArray(_))
        ));
        assert_eq!(read_examples(&[0xff], None), Err(DatasetError::NotUtf8));
    }
}
