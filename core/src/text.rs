//! Text rules shared by the profile fields and by search: NFC, control
//! characters, bidi controls, and the case/accent folding used for matching.

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

use crate::error::{Error, Result};

/// Bidi embedding/override (U+202A–202E) and isolate (U+2066–2069) controls.
pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Trims, NFC-normalises and checks a single-line text field: `min..=max`
/// Unicode scalar values, no control characters, no bidi controls.
pub(crate) fn single_line(
    field: &'static str,
    raw: &str,
    min: usize,
    max: usize,
) -> Result<String> {
    let text = nfc(raw.trim());
    check_chars(field, &text, false)?;
    check_len(field, &text, min, max)?;
    Ok(text)
}

/// Like [`single_line`] but newlines are allowed (`\r\n` and `\r` become `\n`).
pub(crate) fn multi_line(field: &'static str, raw: &str, min: usize, max: usize) -> Result<String> {
    let unified = raw.replace("\r\n", "\n").replace('\r', "\n");
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
