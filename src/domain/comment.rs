//! A submitted comment, parsed field by field into newtypes that can only hold
//! valid values. [`CommentDraft::try_from`] reports every invalid field at once,
//! with messages worded for the person who filled in the form (after WordPress).
//!
//! Limits are those of SPEC §4 (which follow WordPress's columns): lengths are
//! counted in characters (Unicode scalar values), except the comment text, which
//! is limited in bytes.

use validator::ValidateEmail;

use super::CommentId;
pub use super::errors::ValidationErrors;
pub use super::text::is_misleading;
pub(crate) use super::text::visible;
use super::text::{has_control, has_control_in_text, is_invisible, one_line};

/// Longest post id, in characters.
pub const MAX_POST_ID_CHARS: usize = 255;
/// Longest author name, in characters (WordPress's `comment_author` limit).
pub const MAX_AUTHOR_NAME_CHARS: usize = 245;
/// Longest author email, in characters (WordPress's `comment_author_email`).
pub const MAX_AUTHOR_EMAIL_CHARS: usize = 100;
/// Longest author website, in characters (WordPress's `comment_author_url`).
pub const MAX_AUTHOR_URL_CHARS: usize = 200;
/// Largest comment text in bytes (WordPress's `comment_content` limit: a TEXT
/// column of 65,535 bytes less a margin of 10).
pub const MAX_CONTENT_BYTES: usize = 65_525;
/// Longest page address we keep. Browsers handle about this much; longer values
/// are not page addresses a site would send.
pub const MAX_PERMALINK_CHARS: usize = 2_048;

/// The fields of a submission as received, before validation. Both the JSON and
/// the form body are turned into this, so both obey exactly the same rules.
#[derive(Debug, Default, Clone)]
pub struct RawComment {
    pub post_id: Option<String>,
    pub parent_id: Option<String>,
    pub author_name: Option<String>,
    pub author_email: Option<String>,
    pub author_url: Option<String>,
    pub content: Option<String>,
    pub permalink: Option<String>,
    pub honeypot: Option<String>,
}

/// A submission whose every field is valid. Whether `parent_id` names an approved
/// comment of the same post can only be checked against the database, later.
#[derive(Debug, Clone)]
pub struct CommentDraft {
    pub post_id: PostId,
    pub parent_id: Option<CommentId>,
    pub author_name: AuthorName,
    pub author_email: AuthorEmail,
    pub author_url: Option<AuthorUrl>,
    pub content: CommentBody,
    pub permalink: Option<Permalink>,
    /// The hidden honeypot field was filled in: a bot, not a person.
    pub honeypot: bool,
}

impl TryFrom<RawComment> for CommentDraft {
    type Error = ValidationErrors;

    fn try_from(raw: RawComment) -> Result<Self, Self::Error> {
        let mut errors = ValidationErrors::default();
        let post_id = collect(
            &mut errors,
            "post_id",
            PostId::parse(raw.post_id.as_deref()),
        );
        let parent_id = collect(
            &mut errors,
            "parent_id",
            parse_parent_id(raw.parent_id.as_deref()),
        );
        let author_name = collect(
            &mut errors,
            "author_name",
            AuthorName::parse(raw.author_name.as_deref()),
        );
        let author_email = collect(
            &mut errors,
            "author_email",
            AuthorEmail::parse(raw.author_email.as_deref()),
        );
        let author_url = collect(
            &mut errors,
            "author_url",
            AuthorUrl::parse_optional(raw.author_url.as_deref()),
        );
        let content = collect(
            &mut errors,
            "content",
            CommentBody::parse(raw.content.as_deref()),
        );
        let permalink = collect(
            &mut errors,
            "permalink",
            Permalink::parse_optional(raw.permalink.as_deref()),
        );
        match (
            post_id,
            parent_id,
            author_name,
            author_email,
            author_url,
            content,
            permalink,
        ) {
            (
                Some(post_id),
                Some(parent_id),
                Some(author_name),
                Some(author_email),
                Some(author_url),
                Some(content),
                Some(permalink),
            ) if errors.is_empty() => Ok(Self {
                post_id,
                parent_id,
                author_name,
                author_email,
                author_url,
                content,
                permalink,
                honeypot: visible(raw.honeypot.as_deref()).is_some(),
            }),
            _ => Err(errors),
        }
    }
}

fn collect<T>(
    errors: &mut ValidationErrors,
    field: &'static str,
    parsed: Result<T, String>,
) -> Option<T> {
    parsed.map_err(|message| errors.add(field, message)).ok()
}

fn parse_parent_id(raw: Option<&str>) -> Result<Option<CommentId>, String> {
    let Some(value) = raw.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    match value.parse::<i64>() {
        Ok(0) => Ok(None),
        Ok(id) if id > 0 => Ok(Some(CommentId(id))),
        _ => Err("The comment you are replying to must be given by its number.".to_owned()),
    }
}

/// The site's identifier of the page or post commented on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostId(String);

impl PostId {
    /// # Errors
    /// A message when the id is missing, too long or holds control characters.
    pub fn parse(raw: Option<&str>) -> Result<Self, String> {
        let value = one_line(
            raw,
            MAX_POST_ID_CHARS,
            "Please say which post this comment is for.",
            &format!("The post ID must be at most {MAX_POST_ID_CHARS} characters."),
            "The post ID contains characters that are not allowed.",
        )?;
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The name the commenter gave, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorName(String);

impl AuthorName {
    /// # Errors
    /// A message when the name is missing, too long or holds control characters.
    pub fn parse(raw: Option<&str>) -> Result<Self, String> {
        let value = one_line(
            raw,
            MAX_AUTHOR_NAME_CHARS,
            "Please enter your name.",
            "Your name is too long.",
            "Your name contains characters that are not allowed.",
        )?;
        if value.chars().any(is_misleading) {
            return Err(
                "Your name contains invisible or text-direction characters; please type it plainly."
                    .to_owned(),
            );
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The commenter's email address, lower-cased. Never shown publicly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorEmail(String);

impl AuthorEmail {
    /// # Errors
    /// A message when the address is missing, too long or not an address.
    pub fn parse(raw: Option<&str>) -> Result<Self, String> {
        let value = visible(raw).ok_or("Please enter your email address.")?;
        if value.chars().count() > MAX_AUTHOR_EMAIL_CHARS {
            return Err("Your email address is too long.".to_owned());
        }
        if has_control(value) || !value.validate_email() || !deliverable_shape(value) {
            return Err("Please enter a valid email address.".to_owned());
        }
        // Stored lower-cased: `Ada@Example.com` and `ada@example.com` are one
        // author for known-author, duplicate and flood checks.
        Ok(Self(value.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What `validator` lets through but a commenter's address never looks like
/// (WordPress's `is_email` refuses these too): a domain without a dot
/// (`ada@localhost`), or a local part that starts or ends with a dot or holds
/// two in a row (`ada.@example.com`).
fn deliverable_shape(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    domain.contains('.')
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
}

/// Parses an `http`/`https` address. A value typed without a scheme
/// (`example.com`) gets `http://` in front, as WordPress does.
fn parse_web_url(value: &str) -> Option<url::Url> {
    if has_control(value) || value.chars().any(char::is_whitespace) {
        return None;
    }
    let has_scheme = value
        .split_once(':')
        .is_some_and(|(scheme, _)| !scheme.is_empty() && !scheme.contains(['/', '.', '?', '#']));
    let candidate = if has_scheme {
        value.to_owned()
    } else {
        format!("http://{value}")
    };
    let url = url::Url::parse(&candidate).ok()?;
    let host_ok = url.host_str().is_some_and(|h| !h.is_empty());
    (matches!(url.scheme(), "http" | "https") && host_ok).then_some(url)
}

/// The commenter's website: an `http` or `https` address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorUrl(String);

impl AuthorUrl {
    /// An absent or empty value means no website.
    ///
    /// # Errors
    /// A message when the value is not an http(s) address or is too long.
    pub fn parse_optional(raw: Option<&str>) -> Result<Option<Self>, String> {
        let Some(value) = visible(raw) else {
            return Ok(None);
        };
        if value.chars().count() > MAX_AUTHOR_URL_CHARS {
            return Err("Your website address is too long.".to_owned());
        }
        if value.chars().any(is_misleading) {
            return Err(
                "Your website address contains invisible or text-direction characters.".to_owned(),
            );
        }
        let url = parse_web_url(value)
            .ok_or("Please enter a valid website address, starting with http:// or https://.")?;
        let normalized = String::from(url);
        if normalized.chars().count() > MAX_AUTHOR_URL_CHARS {
            return Err("Your website address is too long.".to_owned());
        }
        Ok(Some(Self(normalized)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The address of the page the comment was written on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permalink(String);

impl Permalink {
    /// An absent or empty value means none.
    ///
    /// # Errors
    /// A message when the value is not an http(s) address or is too long.
    pub fn parse_optional(raw: Option<&str>) -> Result<Option<Self>, String> {
        let Some(value) = visible(raw) else {
            return Ok(None);
        };
        if value.chars().count() > MAX_PERMALINK_CHARS {
            return Err(format!(
                "The page address must be at most {MAX_PERMALINK_CHARS} characters."
            ));
        }
        let url = parse_web_url(value)
            .filter(|_| value.contains("://"))
            .ok_or("The page address must be a full http:// or https:// address.")?;
        Ok(Some(Self(url.into())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// SHA-256 (hex) of `text` case-folded with whitespace runs collapsed.
fn folded_digest(text: &str) -> String {
    use sha2::{Digest, Sha256};
    let normalized: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
    format!("{:x}", Sha256::digest(normalized.join(" ").as_bytes()))
}

/// The comment text, trimmed, between 1 and [`MAX_CONTENT_BYTES`] bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentBody(String);

impl CommentBody {
    /// SHA-256 (hex) of the text case-folded with whitespace runs collapsed, so
    /// trivial variations of the same comment compare equal.
    pub fn fingerprint(&self) -> String {
        // Invisible characters (zero-width spaces, joiners, BOM) are dropped
        // first: `hi\u{200B} there` is `hi there` to a reader.
        let visible: String = self
            .0
            .chars()
            .filter(|c| c.is_whitespace() || !is_invisible(*c))
            .collect();
        folded_digest(&visible)
    }

    /// The fingerprints an earlier comment with this text may be stored under:
    /// [`Self::fingerprint`] and, when the text holds invisible characters, the
    /// one versions before 2026-11-25 stored (which kept them).
    pub fn fingerprints(&self) -> Vec<String> {
        let current = self.fingerprint();
        let legacy = folded_digest(&self.0);
        if legacy == current {
            vec![current]
        } else {
            vec![current, legacy]
        }
    }

    /// # Errors
    /// A message when the text is missing, shows nothing, is too long or holds
    /// control characters other than line breaks and tabs.
    pub fn parse(raw: Option<&str>) -> Result<Self, String> {
        let value = visible(raw).ok_or("Please type your comment text.")?;
        if value.len() > MAX_CONTENT_BYTES {
            return Err("Your comment is too long.".to_owned());
        }
        if has_control_in_text(value) {
            return Err("Your comment contains characters that are not allowed.".to_owned());
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_websites_refuse_misleading_characters() {
        for name in [
            "ad\u{200B}min",
            "\u{202E}nimda",
            "Ada\u{2066}",
            "so\u{00AD}ft",
            "Ada\u{3164}",
            "Ada\u{034F}",
            "Ad\u{2028}a",
            "\u{E0041}\u{E0042}x",
            "x\u{2800}",
        ] {
            let err = AuthorName::parse(Some(name)).unwrap_err();
            assert!(err.contains("text-direction"), "{name:?}: {err}");
        }
        // Joiners that real names and emoji need stay allowed.
        assert!(AuthorName::parse(Some("می\u{200C}خواهم")).is_ok());
        assert!(AuthorName::parse(Some("Ada 👩\u{200D}💻")).is_ok());
        for url in [
            "https://example.com/\u{202E}gpj.exe",
            "https://exa\u{200B}mple.com",
        ] {
            assert!(AuthorUrl::parse_optional(Some(url)).is_err(), "{url:?}");
        }
    }

    fn valid_raw() -> RawComment {
        RawComment {
            post_id: Some("42".into()),
            parent_id: None,
            author_name: Some("Ada".into()),
            author_email: Some("ada@example.com".into()),
            author_url: None,
            content: Some("Nice post.".into()),
            permalink: None,
            honeypot: None,
        }
    }

    #[test]
    fn a_complete_submission_is_accepted() {
        let draft = CommentDraft::try_from(valid_raw());
        assert!(draft.is_ok(), "{draft:?}");
    }

    #[test]
    fn every_invalid_field_is_reported_at_once() {
        let raw = RawComment::default();
        let errors = CommentDraft::try_from(raw).err().unwrap_or_default();
        let fields: Vec<_> = errors.fields().keys().map(String::as_str).collect();
        assert_eq!(
            fields,
            ["author_email", "author_name", "content", "post_id"]
        );
    }

    #[test]
    fn author_name_rules() {
        let long = "n".repeat(MAX_AUTHOR_NAME_CHARS);
        let too_long = "n".repeat(MAX_AUTHOR_NAME_CHARS + 1);
        let cases: [(&str, Option<&str>, bool); 7] = [
            ("absent", None, false),
            ("empty", Some(""), false),
            ("whitespace", Some("  \t "), false),
            ("zero-width only", Some("\u{200B}\u{FEFF}"), false),
            ("control char", Some("Ada\u{0}"), false),
            ("at the limit", Some(&long), true),
            ("over the limit", Some(&too_long), false),
        ];
        for (case, raw, ok) in cases {
            assert_eq!(AuthorName::parse(raw).is_ok(), ok, "case {case}");
        }
        assert_eq!(
            AuthorName::parse(Some("  Ada  ")).map(|n| n.0),
            Ok("Ada".to_owned())
        );
    }

    #[test]
    fn name_length_counts_characters_not_bytes() {
        let name = "é".repeat(MAX_AUTHOR_NAME_CHARS);
        assert!(AuthorName::parse(Some(&name)).is_ok());
    }

    #[test]
    fn email_rules() {
        // Local parts may not exceed 64 characters, so the length comes from the domain.
        let at_limit = format!("{}@{}.example.com", "a".repeat(60), "b".repeat(27));
        let over = format!("{}@{}.example.com", "a".repeat(60), "b".repeat(28));
        assert_eq!(at_limit.chars().count(), MAX_AUTHOR_EMAIL_CHARS);
        let cases: [(&str, Option<&str>, bool); 11] = [
            ("absent", None, false),
            ("dotless domain", Some("ada@localhost"), false),
            (
                "local part ends with a dot",
                Some("ada.@example.com"),
                false,
            ),
            ("two dots in a row", Some("a..da@example.com"), false),
            ("dots inside", Some("ada.love.lace@mail.example.com"), true),
            ("no at sign", Some("ada.example.com"), false),
            ("no domain", Some("ada@"), false),
            ("spaces", Some("a da@example.com"), false),
            ("valid", Some(" ada@example.com "), true),
            ("at the limit", Some(&at_limit), true),
            ("over the limit", Some(&over), false),
        ];
        for (case, raw, ok) in cases {
            assert_eq!(AuthorEmail::parse(raw).is_ok(), ok, "case {case}");
        }
    }

    #[test]
    fn email_is_lower_cased() {
        assert_eq!(
            AuthorEmail::parse(Some("Ada@Example.COM")).map(|e| e.0),
            Ok("ada@example.com".to_owned())
        );
    }

    #[test]
    fn author_url_rules() {
        type Case<'a> = (&'a str, Option<&'a str>, Result<Option<&'a str>, ()>);
        let cases: [Case<'_>; 8] = [
            ("absent", None, Ok(None)),
            ("empty", Some("  "), Ok(None)),
            (
                "https",
                Some("https://ada.dev/"),
                Ok(Some("https://ada.dev/")),
            ),
            ("no scheme", Some("ada.dev"), Ok(Some("http://ada.dev/"))),
            ("javascript", Some("javascript:alert(1)"), Err(())),
            ("ftp", Some("ftp://ada.dev"), Err(())),
            ("data", Some("data:text/html,hi"), Err(())),
            ("no host", Some("http://"), Err(())),
        ];
        for (case, raw, expected) in cases {
            let got = AuthorUrl::parse_optional(raw)
                .map(|u| u.map(|u| u.0))
                .map_err(|_| ());
            assert_eq!(got, expected.map(|u| u.map(str::to_owned)), "case {case}");
        }
        let long = format!("https://ada.dev/{}", "p".repeat(MAX_AUTHOR_URL_CHARS));
        assert!(AuthorUrl::parse_optional(Some(&long)).is_err());
    }

    #[test]
    fn content_is_limited_in_bytes() {
        let at_limit = "a".repeat(MAX_CONTENT_BYTES);
        assert!(CommentBody::parse(Some(&at_limit)).is_ok());
        // 2 bytes per character: fewer characters than the limit, more bytes.
        let over_in_bytes = "é".repeat(MAX_CONTENT_BYTES / 2 + 1);
        assert!(CommentBody::parse(Some(&over_in_bytes)).is_err());
    }

    #[test]
    fn content_keeps_line_breaks_but_refuses_nul() {
        assert!(CommentBody::parse(Some("line one\nline two\r\n\tend")).is_ok());
        assert!(CommentBody::parse(Some("bad \u{0} byte")).is_err());
        assert!(CommentBody::parse(Some(" \n\u{200B}\n ")).is_err());
    }

    #[test]
    fn fingerprint_ignores_case_whitespace_and_invisible_characters() {
        let a = CommentBody::parse(Some("Great  post,\n THANKS")).unwrap();
        let b = CommentBody::parse(Some("great post, thanks")).unwrap();
        let c = CommentBody::parse(Some("great post, thanks!")).unwrap();
        let d = CommentBody::parse(Some("great\u{200B} post,\u{FEFF} thanks")).unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_eq!(b.fingerprint(), d.fingerprint(), "invisible characters");
        assert_ne!(a.fingerprint(), c.fingerprint());
        // Comments stored before invisible characters were dropped are found too.
        assert_eq!(b.fingerprints(), [b.fingerprint()]);
        let legacy = d.fingerprints();
        assert_eq!(legacy.len(), 2);
        assert_ne!(legacy[1], legacy[0]);
    }

    #[test]
    fn parent_id_zero_or_absent_means_top_level() {
        assert_eq!(parse_parent_id(None), Ok(None));
        assert_eq!(parse_parent_id(Some("0")), Ok(None));
        assert_eq!(parse_parent_id(Some("")), Ok(None));
        assert_eq!(parse_parent_id(Some("17")), Ok(Some(CommentId(17))));
        assert!(parse_parent_id(Some("-3")).is_err());
        assert!(parse_parent_id(Some("abc")).is_err());
    }

    #[test]
    fn post_id_rules() {
        assert!(PostId::parse(Some(&"p".repeat(MAX_POST_ID_CHARS))).is_ok());
        assert!(PostId::parse(Some(&"p".repeat(MAX_POST_ID_CHARS + 1))).is_err());
        assert!(PostId::parse(Some("  ")).is_err());
        assert!(PostId::parse(Some("a\nb")).is_err());
    }

    #[test]
    fn permalink_must_be_a_full_web_address() {
        assert!(Permalink::parse_optional(Some("https://blog.example/p/1")).is_ok());
        assert!(Permalink::parse_optional(Some("blog.example/p/1")).is_err());
        assert!(Permalink::parse_optional(Some("javascript:alert(1)")).is_err());
        assert_eq!(Permalink::parse_optional(Some("")), Ok(None));
    }

    #[test]
    fn a_filled_honeypot_is_noted_not_refused() {
        let raw = RawComment {
            honeypot: Some("http://spam.example".into()),
            ..valid_raw()
        };
        assert!(CommentDraft::try_from(raw).is_ok_and(|d| d.honeypot));
        for empty in ["  ", "\u{200B}", " \u{FEFF}\u{00A0}"] {
            let blank = RawComment {
                honeypot: Some(empty.into()),
                ..valid_raw()
            };
            assert!(
                CommentDraft::try_from(blank).is_ok_and(|d| !d.honeypot),
                "{empty:?}"
            );
        }
    }
}
