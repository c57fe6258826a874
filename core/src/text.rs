//! Text rules shared by the profile fields and by search: NFC, control
//! characters, bidi controls, and the case/accent folding used for matching.

use icu_properties::props::{DefaultIgnorableCodePoint, GeneralCategory, GeneralCategoryGroup};
use icu_properties::{CodePointMapData, CodePointSetData};
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

use crate::error::{Error, Result};

/// Bidi embedding/override (U+202A–202E) and isolate (U+2066–2069) controls.
pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Trims, NFC-normalises and checks a single-line text field (display
/// names, locations, room names, account handles): no control characters,
/// no bidi controls, invisible characters removed ([`remove_invisible`]),
/// trimmed again, then `min..=max` Unicode scalar values. Text that had
/// characters and is left with no visible one is refused.
pub(crate) fn single_line(
    field: &'static str,
    raw: &str,
    min: usize,
    max: usize,
) -> Result<String> {
    let text = nfc(raw.trim());
    check_chars(field, &text, false)?;
    let text = match remove_invisible(&text) {
        Some(kept) => kept.trim().to_string(),
        None => text,
    };
    let any_visible = text.chars().any(is_visible);
    if !any_visible && (min > 0 || !text.is_empty() || !raw.trim().is_empty()) {
        return Err(Error::validation(
            field,
            if raw.trim().is_empty() && min > 0 {
                "must not be empty"
            } else {
                "must contain a visible character"
            },
        ));
    }
    check_len(field, &text, min, max)?;
    Ok(text)
}

fn default_ignorable(c: char) -> bool {
    CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
}

fn category(c: char) -> GeneralCategory {
    CodePointMapData::<GeneralCategory>::new().get(c)
}

/// Whether `c` is invisible: Default_Ignorable_Code_Point (U+200B, U+00AD,
/// U+3164 HANGUL FILLER, U+FEFF, …) or General_Category Format (U+200E,
/// U+200F, U+2060, …), from the Unicode Character Database via
/// `icu_properties`.
pub fn is_invisible(c: char) -> bool {
    default_ignorable(c) || category(c) == GeneralCategory::Format
}

/// Whether `c` shows something by itself: a letter, number, punctuation or
/// symbol (General_Category L, N, P, S) that is not default-ignorable. Space,
/// marks alone, format and control characters are not visible.
pub fn is_visible(c: char) -> bool {
    let gc = category(c);
    (GeneralCategoryGroup::Letter.contains(gc)
        || GeneralCategoryGroup::Number.contains(gc)
        || GeneralCategoryGroup::Punctuation.contains(gc)
        || GeneralCategoryGroup::Symbol.contains(gc))
        && !default_ignorable(c)
}

/// ZERO WIDTH NON-JOINER and ZERO WIDTH JOINER: they shape Persian, Indic
/// and emoji text between two visible characters.
fn is_joiner(c: char) -> bool {
    matches!(c, '\u{200C}' | '\u{200D}')
}

/// Variation selectors and emoji tag characters: they modify the character
/// before them (text/emoji presentation, subdivision flags).
fn is_modifier(c: char) -> bool {
    matches!(c, '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}' | '\u{E0020}'..='\u{E007F}')
}

/// The rule for invisible characters in names (issue 14 item 5): every
/// [invisible](is_invisible) character is removed, except
/// - a joiner (U+200C, U+200D) standing between two visible characters
///   (modifiers in between allowed): `👩` ZWJ `💻`, Persian `می` ZWNJ `خواهم`;
/// - a variation selector or tag character right after a visible character
///   or a kept joiner or modifier: `❤️`, `🏴󠁧󠁢󠁳󠁣󠁴󠁿`.
///
/// Returns `None` when nothing is removed (the common case, no allocation).
///
/// ```
/// use kinfolk::text::remove_invisible;
/// assert_eq!(remove_invisible("Ann\u{200B}a"), Some("Anna".to_string()));
/// assert_eq!(remove_invisible("\u{200F}Dana"), Some("Dana".to_string()));
/// assert_eq!(remove_invisible("👩\u{200D}💻"), None); // an emoji sequence
/// assert_eq!(remove_invisible("Ada"), None);
/// ```
pub fn remove_invisible(text: &str) -> Option<String> {
    if text.is_ascii() || !text.chars().any(is_invisible) {
        return None;
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    // Whether the last kept character continues a visible sequence.
    let mut after_visible = false;
    for (i, &c) in chars.iter().enumerate() {
        if !is_invisible(c) {
            out.push(c);
            after_visible = is_visible(c);
            continue;
        }
        let keep = if is_joiner(c) {
            after_visible
                && chars[i + 1..]
                    .iter()
                    .find(|n| !is_modifier(**n))
                    .is_some_and(|n| is_visible(*n))
        } else {
            is_modifier(c) && after_visible
        };
        if keep {
            out.push(c);
        } else {
            after_visible = false;
        }
    }
    (out.len() != text.len()).then_some(out)
}

/// Like [`single_line`] but newlines are allowed (`\r\n` and `\r` become `\n`).
pub(crate) fn multi_line(field: &'static str, raw: &str, min: usize, max: usize) -> Result<String> {
    // Text without a carriage return (every stored value) is not copied.
    let unified = if raw.contains('\r') {
        std::borrow::Cow::Owned(raw.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        std::borrow::Cow::Borrowed(raw)
    };
    let text = nfc(unified.trim());
    check_chars(field, &text, true)?;
    check_len(field, &text, min, max)?;
    Ok(text)
}

/// `text` in NFC. Text the quick check proves already normalised (ASCII, most
/// input, and every stored value, which is validated again on each decode)
/// is copied as it is: normalising decomposes and recomposes every
/// character, the check is one pass without allocation. The result is the
/// same either way.
fn nfc(text: &str) -> String {
    if text.is_ascii() || is_nfc_quick(text.chars()) == IsNormalized::Yes {
        text.to_owned()
    } else {
        text.nfc().collect()
    }
}

fn check_chars(field: &'static str, text: &str, newlines: bool) -> Result<()> {
    for c in text.chars() {
        if c == '\n' && newlines {
            continue;
        }
        if c.is_control() {
            return Err(Error::validation(
                field,
                "control characters are not allowed",
            ));
        }
        if is_bidi_control(c) {
            return Err(Error::validation(
                field,
                "bidi override and isolate characters are not allowed",
            ));
        }
    }
    Ok(())
}

fn check_len(field: &'static str, text: &str, min: usize, max: usize) -> Result<()> {
    let n = text.chars().count();
    if n < min {
        return Err(Error::validation(
            field,
            if min == 1 {
                "must not be empty".to_string()
            } else {
                format!("must have at least {min} characters")
            },
        ));
    }
    if n > max {
        return Err(Error::validation(
            field,
            format!("must have at most {max} characters"),
        ));
    }
    Ok(())
}

/// The folded form used for matching: [`crate::fold::fold`], the one
/// folding rule of search (kept here for callers of the old path).
///
/// ```
/// assert_eq!(kinfolk::text::fold("José ÁLVAREZ"), "jose alvarez");
/// // Accents go in Latin, Greek and Cyrillic: й (и + breve) folds to и.
/// assert_eq!(kinfolk::text::fold("Дмитрий"), "дмитрии");
/// // Final sigma folds to σ, so an upper-case prefix ("ΚΩΣ") still
/// // matches the word ("Κώστας").
/// assert!(kinfolk::text::fold("Κώστας").starts_with(&kinfolk::text::fold("ΚΩΣ")));
/// ```
pub fn fold(text: &str) -> String {
    crate::fold::fold(text)
}

/// The words of a folded text: [`crate::fold::words`].
pub fn words(folded: &str) -> impl Iterator<Item = &str> {
    crate::fold::words(folded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nfc_fast_path_gives_what_normalising_gives() {
        for s in [
            "",
            "Ada Lovelace",
            "José",            // precomposed: already NFC
            "Jose\u{301}",     // combining acute: becomes "José"
            "\u{212B}ngström", // ANGSTROM SIGN: NFC maps it to Å
            "Ελένη Παπαδοπούλου",
            "Дми́трий", // combining accent with no precomposed form
            "김민준",
            "\u{1100}\u{1161}", // conjoining jamo: compose to 가
            "جواهر آل سلان",
            "e\u{301}\u{327}", // two marks, canonical reordering
        ] {
            assert_eq!(nfc(s), s.nfc().collect::<String>(), "{s:?}");
        }
        assert_eq!(nfc("Jose\u{301}"), "Jos\u{e9}");
    }
}
