//! The only place text becomes numbers. Training and serving both call
//! [`extract`], which emits every feature of a comment to a [`FeatureSink`]:
//! training collects the feature names (to build the vocabulary), serving hashes
//! them without allocating and looks the hash up in the vocabulary.
//!
//! A feature name is a group prefix and a body: `w:` word 1–2-grams, `c:` char
//! n-grams of whitespace-separated tokens padded with one space (scikit-learn's
//! `char_wb`), `s:` signals a spam filter needs (link domains, email domains,
//! ALL-CAPS words, repeated punctuation, long numbers, length bucket), `a:` the
//! author's name, `u:` the author's website domain.

use std::sync::LazyLock;

use crate::domain::comment::is_misleading;
use regex::Regex;
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// How a comment is turned into features; stored in the model artifact so the
/// server extracts exactly what the model was trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureConfig {
    /// Word n-gram sizes, inclusive (`[1, 2]`); `None` for no word features.
    pub word_ngrams: Option<[usize; 2]>,
    /// Character n-gram sizes within padded tokens, inclusive (`[3, 5]`).
    pub char_ngrams: Option<[usize; 2]>,
    /// Emit `s:` signal features.
    pub signals: bool,
    /// Emit `a:`/`u:` author features.
    pub author: bool,
}

/// Receives features as a group prefix plus the parts of their body; the name
/// is the concatenation `prefix + parts…`.
pub trait FeatureSink {
    fn feature(&mut self, prefix: &str, parts: &[&str]);

    /// Emits `prefix + padded[bounds[start]..bounds[start + n]]` for every start
    /// and every n in `lo..=hi`. Sinks may override it to share work between
    /// overlapping n-grams; the features must be the same, in the same order.
    fn char_ngrams(&mut self, prefix: &str, padded: &str, bounds: &[usize], lo: usize, hi: usize) {
        let chars = bounds.len() - 1;
        for n in lo..=hi {
            for start in 0..(chars + 1).saturating_sub(n) {
                self.feature(prefix, &[&padded[bounds[start]..bounds[start + n]]]);
            }
        }
    }
}

/// A comment as the model sees it.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScoringInput<'a> {
    pub text: &'a str,
    pub author_name: Option<&'a str>,
    pub author_email: Option<&'a str>,
    pub author_url: Option<&'a str>,
}

static RE_BR: LazyLock<Regex> = LazyLock::new(|| compile(r"(?i)<br\s*/?>"));
static RE_TAG: LazyLock<Regex> = LazyLock::new(|| compile(r"</?[a-zA-Z][^>]*>"));
static RE_EMAIL: LazyLock<Regex> = LazyLock::new(|| compile(r"[\w.+-]+@([\w-]+(?:\.[\w-]+)+)"));
static RE_URL: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r#"(?i)(?:https?://|www\.)[^\s<>"]+|\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:com|net|org|info|biz|ly|be|co|uk|ac|tk|me|tv|us|io|de|ru|in)\b(?:/[^\s<>"]*)?"#,
    )
});
static RE_PUNCT_RUN: LazyLock<Regex> = LazyLock::new(|| compile(r"[!?$£€.*]{2,}"));

#[expect(
    clippy::expect_used,
    reason = "the patterns are constants; a bad one fails every test"
)]
fn compile(pattern: &str) -> Regex {
    Regex::new(pattern).expect("constant regex compiles")
}

/// Text with markup removed, entities decoded, Unicode NFKC-normalized, links
/// and email addresses replaced by `__link__` / `__email__`.
struct Normalized {
    text: String,
    link_domains: Vec<String>,
    email_domains: Vec<String>,
}

fn normalize(raw: &str) -> Normalized {
    // Each step is skipped when its trigger character is absent: most comments
    // are plain ASCII text, and this runs on every request.
    let without_tags = if raw.contains('<') {
        let without_br = RE_BR.replace_all(raw, " ");
        RE_TAG.replace_all(&without_br, " ").into_owned().into()
    } else {
        std::borrow::Cow::Borrowed(raw)
    };
    let decoded = if without_tags.contains('&') {
        html_escape::decode_html_entities(&without_tags)
            .into_owned()
            .into()
    } else {
        without_tags
    };
    // NFKC leaves ASCII unchanged. Characters that show nothing are dropped,
    // so `sub\u{AD}scribe` and `s\u{200B}u\u{200B}b…` are the words a reader
    // sees (and a moderator is shown), not fragments of them.
    let mut text: String = if decoded.is_ascii() {
        decoded.into_owned()
    } else {
        decoded.nfkc().filter(|&c| !shows_nothing(c)).collect()
    };
    let mut email_domains = Vec::new();
    if text.contains('@') {
        for caps in RE_EMAIL.captures_iter(&text) {
            if let Some(domain) = caps.get(1) {
                email_domains.push(domain.as_str().to_lowercase());
            }
        }
        if !email_domains.is_empty() {
            text = RE_EMAIL.replace_all(&text, " __email__ ").into_owned();
        }
    }
    let mut link_domains = Vec::new();
    if text.contains('.') {
        for found in RE_URL.find_iter(&text) {
            link_domains.push(registrable_domain(found.as_str()));
        }
        if !link_domains.is_empty() {
            text = RE_URL.replace_all(&text, " __link__ ").into_owned();
        }
    }
    Normalized {
        text,
        link_domains,
        email_domains,
    }
}

pub use crate::domain::links::registrable_domain;

/// A character that renders as nothing between two letters (zero-width
/// spaces, soft hyphens, bidirectional marks, tag characters: the ones
/// [`is_misleading`] names, but for the separators and the braille blank,
/// which show as a break or a space and so still part words). Zero-width
/// joiners stay: Persian words and emoji sequences are spelled with them.
fn shows_nothing(c: char) -> bool {
    is_misleading(c) && !matches!(c, '\u{2028}' | '\u{2029}' | '\u{2800}')
}

/// A word: a run of alphanumeric characters or `_` (Unicode-aware, like `\w`).
pub(crate) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Emits every feature of `input` to `sink`.
pub fn extract(config: &FeatureConfig, input: &ScoringInput<'_>, sink: &mut impl FeatureSink) {
    let normalized = normalize(input.text);
    let text = normalized.text.as_str();
    let lower = text.to_lowercase();

    if let Some([lo, hi]) = config.word_ngrams {
        let words: Vec<&str> = lower
            .split(|c| !is_word_char(c))
            .filter(|w| !w.is_empty())
            .collect();
        for n in lo.max(1)..=hi {
            for window in words.windows(n) {
                match window {
                    [one] => sink.feature("w:", &[one]),
                    [a, b] => sink.feature("w:", &[a, " ", b]),
                    _ => {
                        let joined = window.join(" ");
                        sink.feature("w:", &[&joined]);
                    }
                }
            }
        }
    }

    if let Some([lo, hi]) = config.char_ngrams {
        let mut padded = String::with_capacity(64);
        let mut bounds: Vec<usize> = Vec::with_capacity(64);
        for token in lower.split_whitespace() {
            padded.clear();
            padded.push(' ');
            padded.push_str(token);
            padded.push(' ');
            bounds.clear();
            bounds.extend(padded.char_indices().map(|(i, _)| i));
            bounds.push(padded.len());
            sink.char_ngrams("c:", &padded, &bounds, lo.max(1), hi);
        }
    }

    if config.signals {
        emit_signals(text, &lower, &normalized, sink);
    }

    if config.author {
        if let Some(name) = input.author_name.map(str::trim).filter(|n| !n.is_empty()) {
            sink.feature("a:", &[&name.to_lowercase()]);
        }
        if let Some(url) = input.author_url.filter(|u| !u.trim().is_empty()) {
            sink.feature("u:", &[&registrable_domain(url)]);
        }
    }
}

fn emit_signals(text: &str, lower: &str, normalized: &Normalized, sink: &mut impl FeatureSink) {
    for domain in &normalized.link_domains {
        sink.feature("s:dom:", &[domain]);
    }
    for domain in &normalized.email_domains {
        sink.feature("s:edom:", &[domain]);
    }
    let caps = text
        .split(|c| !is_word_char(c))
        .filter(|w| {
            w.chars().count() >= 2
                && w.chars().any(char::is_alphabetic)
                && !w.chars().any(char::is_lowercase)
        })
        .count();
    for _ in 0..caps {
        sink.feature("s:caps", &[]);
    }
    for run in RE_PUNCT_RUN.find_iter(text) {
        // One feature per run of the same character (`!!!` → `s:punct!`).
        let s = run.as_str();
        let mut chars = s.chars();
        let mut prev = chars.next();
        let mut len = 1;
        for c in chars.chain(std::iter::once('\0')) {
            if Some(c) == prev {
                len += 1;
            } else {
                if let (Some(p), true) = (prev, len >= 2) {
                    let mut buf = [0u8; 4];
                    sink.feature("s:punct", &[p.encode_utf8(&mut buf)]);
                }
                prev = Some(c);
                len = 1;
            }
        }
    }
    let long_numbers = lower
        .split(|c| !is_word_char(c))
        .filter(|w| w.len() >= 5 && w.chars().all(|c| c.is_ascii_digit()))
        .count();
    for _ in 0..long_numbers {
        sink.feature("s:longnum", &[]);
    }
    if normalized.link_domains.is_empty() && normalized.email_domains.is_empty() {
        sink.feature("s:nolink", &[]);
    }
    let bucket = ((text.chars().count() + 1) as f64).log2().floor().min(10.0) as u32;
    sink.feature("s:len", &[LEN_BUCKETS[bucket as usize]]);
}

const LEN_BUCKETS: [&str; 11] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"];

/// Collects feature names (training and tests).
#[derive(Debug, Default)]
pub struct NameSink(pub Vec<String>);

impl FeatureSink for NameSink {
    fn feature(&mut self, prefix: &str, parts: &[&str]) {
        let mut name =
            String::with_capacity(prefix.len() + parts.iter().map(|p| p.len()).sum::<usize>());
        name.push_str(prefix);
        for part in parts {
            name.push_str(part);
        }
        self.0.push(name);
    }
}

/// 64-bit FNV-1a over the bytes of a feature name, fed in pieces: hashing
/// `prefix + parts` piecewise equals hashing the joined name, so serving needs no
/// allocation per feature.
#[derive(Debug, Clone, Copy)]
pub struct NameHash(u64);

impl NameHash {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    pub fn new() -> Self {
        Self(Self::OFFSET)
    }

    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(Self::PRIME);
        }
    }

    pub fn finish(self) -> u64 {
        self.0
    }

    /// The hash of a whole name.
    pub fn of(name: &str) -> u64 {
        let mut h = Self::new();
        h.write(name.as_bytes());
        h.finish()
    }
}

impl Default for NameHash {
    fn default() -> Self {
        Self::new()
    }
}

/// Hashes features (serving).
#[derive(Debug, Default)]
pub struct HashSink(pub Vec<u64>);

impl FeatureSink for HashSink {
    fn feature(&mut self, prefix: &str, parts: &[&str]) {
        let mut h = NameHash::new();
        h.write(prefix.as_bytes());
        for part in parts {
            h.write(part.as_bytes());
        }
        self.0.push(h.finish());
    }

    /// Hashes each start position once, extending the hash char by char and
    /// recording it at every wanted length; then emits in the default order.
    #[inline]
    fn char_ngrams(&mut self, prefix: &str, padded: &str, bounds: &[usize], lo: usize, hi: usize) {
        let chars = bounds.len() - 1;
        let mut base = NameHash::new();
        base.write(prefix.as_bytes());
        let first = self.0.len();
        let counts: Vec<usize> = (lo..=hi).map(|n| (chars + 1).saturating_sub(n)).collect();
        let total: usize = counts.iter().sum();
        self.0.resize(first + total, 0);
        for start in 0..chars {
            let mut h = base;
            let mut offset = first;
            for (k, n) in (lo..=hi).enumerate() {
                if start + n > chars {
                    break;
                }
                let from = if n == lo {
                    bounds[start]
                } else {
                    bounds[start + n - 1]
                };
                h.write(&padded.as_bytes()[from..bounds[start + n]]);
                self.0[offset + start] = h.finish();
                offset += counts[k];
            }
        }
    }
}

/// A comment's feature hashes (as [`HashSink`] makes them) and, for each
/// whitespace-separated token, its text and the range of its character
/// n-grams among the hashes: what an explanation needs to give each n-gram's
/// push back to its word without extracting the comment again. One buffer of
/// token text and one of ranges, so a comment costs no allocation per token.
#[derive(Debug, Default)]
pub struct Tokens {
    hashes: HashSink,
    text: String,
    /// Each token's range in `text` and its n-grams' range in `hashes`.
    spans: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)>,
}

impl Tokens {
    pub fn with_capacity(features: usize, text: usize) -> Self {
        Self {
            hashes: HashSink(Vec::with_capacity(features)),
            text: String::with_capacity(text),
            spans: Vec::with_capacity(text / 4),
        }
    }

    /// Every feature's name hash, in extraction order.
    pub fn hashes(&self) -> &[u64] {
        &self.hashes.0
    }

    /// Each token (lowercased, as its n-grams saw it) with the positions of
    /// its character n-grams in [`Self::hashes`].
    pub fn tokens(&self) -> impl Iterator<Item = (&str, std::ops::Range<usize>)> {
        self.spans
            .iter()
            .map(|(text, grams)| (&self.text[text.clone()], grams.clone()))
    }
}

impl FeatureSink for Tokens {
    #[inline]
    fn feature(&mut self, prefix: &str, parts: &[&str]) {
        self.hashes.feature(prefix, parts);
    }

    #[inline]
    fn char_ngrams(&mut self, prefix: &str, padded: &str, bounds: &[usize], lo: usize, hi: usize) {
        let text = self.text.len();
        self.text.push_str(padded.trim());
        let grams = self.hashes.0.len();
        self.hashes.char_ngrams(prefix, padded, bounds, lo, hi);
        self.spans
            .push((text..self.text.len(), grams..self.hashes.0.len()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> FeatureConfig {
        FeatureConfig {
            word_ngrams: Some([1, 2]),
            char_ngrams: Some([3, 5]),
            signals: true,
            author: true,
        }
    }

    fn names(text: &str) -> Vec<String> {
        let mut sink = NameSink::default();
        extract(
            &config(),
            &ScoringInput {
                text,
                ..Default::default()
            },
            &mut sink,
        );
        sink.0
    }

    #[test]
    fn html_entities_and_tags_are_decoded_and_case_folded() {
        let f = names("Don&#39;t<br />STOP <b>now</b>");
        assert!(f.contains(&"w:don".to_owned()), "{f:?}");
        assert!(f.contains(&"w:stop now".to_owned()), "{f:?}");
        assert!(!f.iter().any(|n| n.contains("br")), "{f:?}");
    }

    #[test]
    fn characters_that_show_nothing_do_not_split_or_change_words() {
        let plain = names("Subscribe to my channel");
        for hidden in [
            "S\u{200B}u\u{200B}b\u{200B}s\u{200B}c\u{200B}r\u{200B}i\u{200B}b\u{200B}e to my channel",
            "Sub\u{AD}scribe to my chan\u{AD}nel",
            "\u{FEFF}Subscribe to my ch\u{2060}an\u{200E}nel\u{E0041}",
        ] {
            assert_eq!(names(hidden), plain, "{hidden:?}");
        }
        // A zero-width joiner spells Persian words and emoji: it stays.
        assert_ne!(names("\u{645}\u{200C}\u{627}"), names("\u{645}\u{627}"));
        // A line separator still parts two words.
        assert!(names("hello\u{2028}world").contains(&"w:hello world".to_owned()));
    }

    #[test]
    fn links_become_a_token_and_a_domain_signal() {
        let f = names("check https://www.shop.example.com/x?y=1 and youtu.be/abc");
        assert!(f.contains(&"w:__link__".to_owned()), "{f:?}");
        assert!(f.contains(&"s:dom:example.com".to_owned()), "{f:?}");
        assert!(f.contains(&"s:dom:youtu.be".to_owned()), "{f:?}");
        assert!(!f.contains(&"s:nolink".to_owned()));
    }

    #[test]
    fn email_addresses_become_a_token_and_a_domain_signal() {
        let f = names("write to me@mail.example.org now");
        assert!(f.contains(&"w:__email__".to_owned()), "{f:?}");
        assert!(f.contains(&"s:edom:mail.example.org".to_owned()), "{f:?}");
    }

    #[test]
    fn caps_and_punctuation_runs_are_signals() {
        let f = names("FREE MONEY now!!! really??");
        assert_eq!(f.iter().filter(|n| *n == "s:caps").count(), 2);
        assert!(
            f.contains(&"s:punct!".to_owned()) && f.contains(&"s:punct?".to_owned()),
            "{f:?}"
        );
    }

    #[test]
    fn char_ngrams_are_padded_per_token_and_unicode_aware() {
        let f = names("héé");
        for expected in ["c: hé", "c:héé", "c:éé ", "c: héé", "c:héé ", "c: héé "] {
            assert!(
                f.contains(&expected.to_owned()),
                "{expected} missing in {f:?}"
            );
        }
    }

    #[test]
    fn author_features_use_name_and_site_domain() {
        let mut sink = NameSink::default();
        let input = ScoringInput {
            text: "hi",
            author_name: Some(" Cheap Pills "),
            author_url: Some("https://www.pills.example/buy"),
            author_email: None,
        };
        extract(&config(), &input, &mut sink);
        assert!(sink.0.contains(&"a:cheap pills".to_owned()));
        assert!(sink.0.contains(&"u:pills.example".to_owned()));
    }

    #[test]
    fn piecewise_hash_equals_hash_of_the_joined_name() {
        let mut names = NameSink::default();
        let mut hashes = HashSink::default();
        let input = ScoringInput {
            text: "Subscribe to my channel!!! http://x.example héé ünïcødé a",
            ..Default::default()
        };
        extract(&config(), &input, &mut names);
        extract(&config(), &input, &mut hashes);
        let from_names: Vec<u64> = names.0.iter().map(|n| NameHash::of(n)).collect();
        assert_eq!(from_names, hashes.0);
    }
}
