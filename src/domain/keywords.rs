//! Keyword lists, as WordPress's `moderation_keys` and `disallowed_keys`: one
//! entry per line, matched case-insensitively as a substring of the author's
//! name, email, URL, the content, the IP and the user agent. Thousands of
//! entries are matched in one pass with Aho-Corasick.

use aho_corasick::{AhoCorasick, MatchKind};

/// Longest entry kept; longer lines are refused.
pub const MAX_KEYWORD_CHARS: usize = 200;
/// Most entries in one list.
pub const MAX_KEYWORDS: usize = 50_000;

/// Normalizes a list: trimmed, lower-cased, empty lines and repeats dropped,
/// order kept.
///
/// # Errors
/// An entry longer than [`MAX_KEYWORD_CHARS`] or more than [`MAX_KEYWORDS`] entries.
pub fn normalize_list<'a>(
    entries: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for entry in entries {
        let entry = entry.trim().to_lowercase();
        if entry.is_empty() || !seen.insert(entry.clone()) {
            continue;
        }
        if entry.chars().count() > MAX_KEYWORD_CHARS || entry.chars().any(char::is_control) {
            return Err(format!(
                "`{}` is not a keyword: at most {MAX_KEYWORD_CHARS} printable characters per entry.",
                entry.chars().take(40).collect::<String>()
            ));
        }
        out.push(entry);
        if out.len() > MAX_KEYWORDS {
            return Err(format!("A list may hold at most {MAX_KEYWORDS} entries."));
        }
    }
    Ok(out)
}

/// One compiled list.
#[derive(Debug, Clone, Default)]
struct CompiledList {
    automaton: Option<AhoCorasick>,
    entries: Vec<String>,
}

impl CompiledList {
    fn new(entries: Vec<String>) -> Result<Self, String> {
        let automaton = if entries.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostFirst)
                    .build(&entries)
                    .map_err(|err| format!("the keyword list cannot be compiled: {err}"))?,
            )
        };
        Ok(Self { automaton, entries })
    }

    /// The first entry found in any field (fields already lower-cased).
    fn find(&self, fields: &[&str]) -> Option<&str> {
        let automaton = self.automaton.as_ref()?;
        fields.iter().find_map(|field| {
            automaton
                .find(*field)
                .and_then(|m| self.entries.get(m.pattern().as_usize()))
                .map(String::as_str)
        })
    }
}

/// Both lists, compiled, with the version they were read at.
#[derive(Debug, Clone, Default)]
pub struct KeywordMatcher {
    moderation: CompiledList,
    disallowed: CompiledList,
    version: i64,
}

/// Which entries a comment matched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeywordHits {
    pub disallowed: Option<String>,
    pub moderation: Option<String>,
}

impl KeywordMatcher {
    /// # Errors
    /// A list that cannot be compiled.
    pub fn new(
        moderation: Vec<String>,
        disallowed: Vec<String>,
        version: i64,
    ) -> Result<Self, String> {
        Ok(Self {
            moderation: CompiledList::new(moderation)?,
            disallowed: CompiledList::new(disallowed)?,
            version,
        })
    }

    pub fn version(&self) -> i64 {
        self.version
    }

    pub fn moderation_keys(&self) -> &[String] {
        &self.moderation.entries
    }

    pub fn disallowed_keys(&self) -> &[String] {
        &self.disallowed.entries
    }

    /// Matches the fields of a comment (any case).
    pub fn check(&self, fields: &[&str]) -> KeywordHits {
        if self.moderation.automaton.is_none() && self.disallowed.automaton.is_none() {
            return KeywordHits::default();
        }
        let lowered: Vec<String> = fields.iter().map(|f| f.to_lowercase()).collect();
        let lowered: Vec<&str> = lowered.iter().map(String::as_str).collect();
        KeywordHits {
            disallowed: self.disallowed.find(&lowered).map(str::to_owned),
            moderation: self.moderation.find(&lowered).map(str::to_owned),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_trimmed_lowercased_and_deduplicated() {
        let list = normalize_list(["  Casino ", "", "casino", "Viagra"]).unwrap();
        assert_eq!(list, ["casino", "viagra"]);
        assert!(normalize_list([&*"x".repeat(MAX_KEYWORD_CHARS + 1)]).is_err());
    }

    #[test]
    fn matching_is_case_insensitive_substring_in_any_field() {
        let m = KeywordMatcher::new(
            vec!["hold me".into()],
            vec!["casino".into(), "10.0.0.".into()],
            1,
        )
        .unwrap();
        let hits = m.check(&["Ada", "ada@example.com", "Best CASINOS here"]);
        assert_eq!(hits.disallowed.as_deref(), Some("casino"));
        assert_eq!(hits.moderation, None);
        assert_eq!(
            m.check(&["please HOLD ME"]).moderation.as_deref(),
            Some("hold me")
        );
        assert_eq!(
            m.check(&["10.0.0.7"]).disallowed.as_deref(),
            Some("10.0.0.")
        );
        assert_eq!(m.check(&["nothing"]), KeywordHits::default());
    }

    #[test]
    fn empty_lists_match_nothing() {
        assert_eq!(
            KeywordMatcher::default().check(&["anything"]),
            KeywordHits::default()
        );
    }
}
