//! Text rules shared by every field: what counts as invisible, trimming to
//! what shows, and which control characters a field may hold.

/// Characters that render as nothing: a field made only of these (and
/// whitespace) is empty, whatever its byte length.
pub(crate) fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
        )
}

/// Trims whitespace and returns `None` for a value that is absent or shows nothing.
pub(crate) fn visible(raw: Option<&str>) -> Option<&str> {
    let trimmed = raw?.trim();
    (!trimmed.chars().all(is_invisible)).then_some(trimmed)
}

/// One-line fields admit no control characters at all.
pub(crate) fn has_control(value: &str) -> bool {
    value.chars().any(char::is_control)
}

/// Comment text may hold line breaks and tabs but no other control characters
/// (NUL in particular cannot be stored in PostgreSQL text).
pub(crate) fn has_control_in_text(value: &str) -> bool {
    value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

/// A required one-line field: visible, at most `max` characters, no control
/// characters; each failure has its own message.
pub(crate) fn one_line<'a>(
    raw: Option<&'a str>,
    max: usize,
    missing: &str,
    too_long: &str,
    not_allowed: &str,
) -> Result<&'a str, String> {
    let value = visible(raw).ok_or(missing)?;
    if value.chars().count() > max {
        return Err(too_long.to_owned());
    }
    if has_control(value) {
        return Err(not_allowed.to_owned());
    }
    Ok(value)
}

/// Characters that make text read differently from what it is: bidirectional
/// controls (an override turns `moc.elgoog` into `google.com` on screen) and
/// zero-width characters inside a word (`ad\u{200B}min` shows as `admin`).
/// Zero-width joiners (U+200C, U+200D) are not among them: Persian and emoji
/// sequences need them.
pub fn is_misleading(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{00AD}'
            | '\u{180E}'
            | '\u{200B}'
            | '\u{2060}'..='\u{2064}'
            | '\u{FEFF}'
            // Fillers and blanks that show nothing: combining grapheme joiner,
            // Hangul fillers, line and paragraph separators, braille blank,
            // musical formatting, tag characters.
            | '\u{034F}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{3164}'
            | '\u{FFA0}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{2800}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E007F}'
    )
}
