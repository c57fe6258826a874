//! The one folding rule of search (SPEC §8; issue 19, ADR 0008): how a
//! display name and a query become the text they are compared as, and
//! which words of a name a query word may start.
//!
//! [`match_tier`](crate::search::match_tier), every [`SearchIndex`]
//! (crate::SearchIndex) and the service use these functions and nothing
//! else, so the rule lives here once. An index that persists what it folded
//! records [`FOLD_VERSION`] and is rebuilt from the store when it differs.
//!
//! # The rule, in order
//!
//! 1. Default-ignorable characters (zero-width joiners and non-joiners,
//!    soft hyphens, variation selectors, bidi marks) are removed: they are
//!    invisible, and people do not type them.
//! 2. Compatibility normalisation (NFKC): full-width `Ｔａｒｏ` is `Taro`,
//!    the ligature `ﬁ` is `fi`, half-width katakana is katakana.
//! 3. Full Unicode case folding (ICU4X `icu_casemap`): `ß` and `ẞ` become
//!    `ss`, final `ς` becomes `σ`, `İ` becomes `i` + dot.
//! 4. Canonical decomposition (NFD); then a combining mark is dropped when
//!    the letter it sits on is Latin, Greek or Cyrillic (accents) or
//!    Arabic or Hebrew (optional vowel points, shadda, hamza: writers leave
//!    them out), and kept in every other script, where marks are vowels or
//!    voicing (Thai `ใจดี` ≠ `ใจดู`, Devanagari `राहुल` ≠ `रहल`, kana `だ` ≠ `た`).
//! 5. A Latin letter that still is not ASCII (no decomposition: `ø ł đ æ œ
//!    þ ð ħ ı ɛ ɔ …`) becomes its ASCII letters by the `any_ascii` tables
//!    (`ø`→`o`, `æ`→`ae`, `þ`→`th`, `ı`→`i`, so Turkish `ı I i İ` all meet),
//!    except the schwa `ə`→`a`, as Lucene's ASCII folding and Azerbaijani
//!    ASCII spelling have it (`Əliyev` is written `Aliyev`). A letter whose
//!    table entry is not ASCII letters is kept. Greek and Cyrillic letters
//!    are never transliterated.
//! 6. Katakana becomes hiragana (`カ`→`か`), so either finds the other.
//! 7. Canonical composition (NFC): kana voicing, Hangul syllables and
//!    Indic vowel signs are composed again.
//!
//! ```
//! use kinfolk::fold::fold;
//! assert_eq!(fold("Ørjan Sæther"), "orjan saether");
//! assert_eq!(fold("İlker IŞIK"), fold("ilker ışık"));
//! assert_eq!(fold("STRASSE"), fold("Straße"));
//! assert_eq!(fold("ＡＢＣ Ｔａｒｏ"), "abc taro");
//! assert_eq!(fold("ヤマダ"), "やまだ");
//! assert_ne!(fold("やまだ"), fold("やまた"));
//! ```

use icu_casemap::CaseMapper;
use icu_properties::props::{DefaultIgnorableCodePoint, Script};
use icu_properties::{CodePointMapData, CodePointSetData};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The version of this rule. An index that stores folded text records it
/// and is rebuilt from the store when it differs from the one it was built
/// with. Version 1 was "NFD, every combining mark removed, lower-cased";
/// version 2 is the rule of this module.
pub const FOLD_VERSION: u32 = 2;

/// The folded form of `text` (see the [module docs](self) for the rule).
/// Total: any string folds, nothing panics.
///
/// ```
/// use kinfolk::fold::fold;
/// assert_eq!(fold("José ÁLVAREZ"), "jose alvarez");
/// assert_eq!(fold("Łukasz Đặng"), "lukasz dang");
/// assert_eq!(fold("ﬁnn"), "finn");
/// // Vowel signs are letters, not accents: kept.
/// assert_eq!(fold("ใจดี"), "ใจดี");
/// ```
pub fn fold(text: &str) -> String {
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    let ignorable = CodePointSetData::new::<DefaultIgnorableCodePoint>();
    let visible: String = text.chars().filter(|&c| !ignorable.contains(c)).collect();
    let compat: String = visible.nfkc().collect();
    let cased = CaseMapper::new().fold_string(&compat).into_owned();
    let scripts = CodePointMapData::<Script>::new();
    let mut out = String::with_capacity(cased.len());
    // Whether marks on the letter just written are accents to drop (a mark
    // with no letter before it is dropped too).
    let mut drop_marks = true;
    for c in cased.nfd() {
        if is_combining_mark(c) {
            if !drop_marks {
                out.push(c);
            }
            continue;
        }
        let script = scripts.get(c);
        drop_marks = matches!(
            script,
            Script::Latin | Script::Greek | Script::Cyrillic | Script::Arabic | Script::Hebrew
        );
        if script == Script::Latin
            && !c.is_ascii()
            && c.is_alphabetic()
            && let Some(ascii) = latin_ascii(c)
        {
            out.extend(ascii.chars().map(|a| a.to_ascii_lowercase()));
            continue;
        }
        out.push(hiragana(c));
    }
    out.nfc().collect()
}

/// The ASCII letters of a non-ASCII Latin letter, if its transliteration
/// is letters only (small capitals such as `ʀ` give upper-case ones).
fn latin_ascii(c: char) -> Option<&'static str> {
    if c == 'ə' {
        return Some("a");
    }
    let t = any_ascii::any_ascii_char(c);
    (!t.is_empty() && t.bytes().all(|b| b.is_ascii_alphabetic())).then_some(t)
}

/// Katakana (and its iteration marks) as hiragana; any other char as is.
fn hiragana(c: char) -> char {
    match c {
        '\u{30A1}'..='\u{30F6}' | '\u{30FD}'..='\u{30FE}' => {
            char::from_u32(c as u32 - 0x60).unwrap_or(c)
        }
        _ => c,
    }
}

/// Whether `c` belongs to a word: a letter, a digit or a combining mark
/// (a vowel sign or virama inside an Indic or Thai word does not split it).
pub fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c)
}

/// The words of a folded text: split on anything that is not a letter, a
/// digit or a combining mark. Query terms are these words.
///
/// ```
/// let w: Vec<&str> = kinfolk::fold::words("ana-maria  o'neil").collect();
/// assert_eq!(w, ["ana", "maria", "o", "neil"]);
/// // A virama does not split a Devanagari word.
/// assert_eq!(kinfolk::fold::words("शर्मा").count(), 1);
/// ```
pub fn words(folded: &str) -> impl Iterator<Item = &str> {
    folded
        .split(|c: char| !is_word_char(c))
        .filter(|w| !w.is_empty())
}

/// Whether `c` is written in a script that runs names together without
/// spaces: Han, Hiragana, Katakana, Hangul.
pub fn is_unspaced(c: char) -> bool {
    matches!(
        CodePointMapData::<Script>::new().get(c),
        Script::Han | Script::Hiragana | Script::Katakana | Script::Hangul
    )
}

/// The words of a folded display name a query word may be a prefix of:
/// every [`words`] word, and inside a word every suffix that starts at a
/// Han, kana or Hangul character, so that `一郎` finds `鈴木一郎` and `민준`
/// finds `김민준` (scripts written without spaces are searched from any
/// character). Order: each word, then its suffixes, left to right.
///
/// ```
/// use kinfolk::fold::name_words;
/// assert_eq!(name_words("鈴木一郎 x"), ["鈴木一郎", "木一郎", "一郎", "郎", "x"]);
/// assert_eq!(name_words("ana maria"), ["ana", "maria"]);
/// ```
pub fn name_words(folded: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for w in words(folded) {
        out.push(w);
        if w.is_ascii() {
            continue;
        }
        for (i, c) in w.char_indices().skip(1) {
            if is_unspaced(c) {
                out.push(&w[i..]);
            }
        }
    }
    out
}

/// The length of a query term for the typo rule: its characters that are
/// not combining marks. A vowel sign does not make a word long enough to
/// tolerate a typo (`ใจดู` has three letters, so it does not find `ใจดี`
/// as a typo), while an accent never counted (terms are folded first).
///
/// ```
/// assert_eq!(kinfolk::fold::typo_len("alva"), 4);
/// assert_eq!(kinfolk::fold::typo_len("ใจดู"), 3);
/// ```
pub fn typo_len(term: &str) -> usize {
    term.chars().filter(|&c| !is_combining_mark(c)).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(query: &str, name: &str) -> bool {
        let n = fold(name);
        let q = fold(query);
        let nw = name_words(&n);
        let terms: Vec<&str> = words(&q).collect();
        !terms.is_empty() && terms.iter().all(|t| nw.iter().any(|w| w.starts_with(t)))
    }

    #[test]
    fn letters_without_a_decomposition_fold() {
        assert_eq!(fold("Ørjan Sæther"), "orjan saether");
        assert_eq!(fold("Łukasz"), "lukasz");
        assert_eq!(fold("Đặng Thị Hoa"), "dang thi hoa");
        assert_eq!(fold("Søren"), "soren");
        assert_eq!(fold("Ævar Þórsson"), "aevar thorsson");
        assert_eq!(fold("Œuvre ð ħ ɛ ɔ ĸ"), "oeuvre d h e o q");
        for (q, name) in [
            ("orj", "Ørjan Sæther"),
            ("saether", "Ørjan Sæther"),
            ("orjan", "Ørjan Sæther"),
            ("luk", "Łukasz"),
            ("lukasz", "Łukasz"),
            ("dan", "Đặng Thị Hoa"),
            ("dang", "Đặng Thị Hoa"),
            ("sor", "Søren"),
            ("aevar", "Ævar Þórsson"),
            ("thorsson", "Ævar Þórsson"),
        ] {
            assert!(prefix(q, name), "{q} → {name}");
        }
    }

    #[test]
    fn sharp_s_is_ss_in_both_cases() {
        assert_eq!(fold("Straße"), "strasse");
        assert_eq!(fold("STRASSE"), "strasse");
        assert_eq!(fold("ẞ"), "ss");
        assert!(prefix("strasse", "Anna Straße"));
        assert!(prefix("STRASSE", "Anna Straße"));
        assert!(prefix("straße", "Anna Strasse"));
    }

    #[test]
    fn turkish_dotted_and_dotless_i_all_meet() {
        let all: Vec<String> = ["ı", "I", "i", "İ"].iter().map(|s| fold(s)).collect();
        assert!(all.iter().all(|f| f == "i"), "{all:?}");
        assert_eq!(fold("İlker Işık"), "ilker isik");
        for q in [
            "ışık", "IŞIK", "ışı", "Işık", "isik", "ISIK", "ilker", "İLKER",
        ] {
            assert!(prefix(q, "İlker Işık"), "{q}");
        }
    }

    #[test]
    fn compatibility_forms() {
        assert_eq!(fold("ＡＢＣ Ｔａｒｏ"), "abc taro");
        assert!(prefix("abc", "ＡＢＣ Ｔａｒｏ"));
        assert!(prefix("taro", "ＡＢＣ Ｔａｒｏ"));
        assert_eq!(fold("ﬁnn"), "finn");
        assert!(prefix("finn", "ﬁnn Larsen"));
        // Half-width katakana is katakana, then hiragana.
        assert_eq!(fold("ﾀﾛｳ"), "たろう");
    }

    #[test]
    fn names_without_spaces_match_inside_a_run() {
        assert!(prefix("一郎", "鈴木一郎"));
        assert!(prefix("小明", "王小明"));
        assert!(prefix("민준", "김민준"));
        assert!(prefix("明", "王小明"));
        assert!(!prefix("小王", "王小明"));
        // Latin words still match only from their start.
        assert!(!prefix("ukasz", "Łukasz"));
    }

    #[test]
    fn katakana_and_hiragana_meet() {
        assert_eq!(fold("ヤマダ タロウ"), fold("やまだ たろう"));
        assert!(prefix("やま", "ヤマダ"));
        assert!(prefix("ヤマ", "やまだ"));
        assert_eq!(fold("ヴ"), "ゔ");
    }

    #[test]
    fn vowels_and_voicing_are_not_accents() {
        assert!(!prefix("やまた", "やまだ"));
        assert!(!prefix("ヤマタ", "山田 やまだ"));
        assert!(!prefix("ใจดู", "สมชาย ใจดี"));
        assert!(!prefix("रहल", "राहुल शर्मा"));
        assert!(prefix("ใจดี", "สมชาย ใจดี"));
        assert!(prefix("राहु", "राहुल शर्मा"));
        assert!(prefix("शर्", "राहुल शर्मा"));
        // A virama no longer splits the word: "म" is not a word start.
        assert!(!prefix("मा", "राहुल शर्मा"));
    }

    #[test]
    fn accents_go_in_latin_greek_cyrillic_arabic_hebrew() {
        assert_eq!(fold("José ÁLVAREZ"), "jose alvarez");
        assert_eq!(fold("Дмитрий Ёлкин"), "дмитрии елкин");
        assert_eq!(fold("Κώστας"), "κωστασ");
        assert!(fold("Κώστας").starts_with(&fold("ΚΩΣ")));
        // Hamza on alef and shadda are marks writers leave out.
        assert_eq!(fold("أحمد"), fold("احمد"));
        assert_eq!(fold("جرّاح"), fold("جراح"));
        assert_eq!(fold("שָׁלוֹם"), fold("שלום"));
    }

    #[test]
    fn invisible_characters_are_ignored() {
        assert_eq!(fold("An\u{00AD}na"), "anna");
        assert_eq!(fold("ශ්\u{200D}රී"), fold("ශ්රී"));
    }

    #[test]
    fn schwa_folds_like_lucene() {
        assert_eq!(fold("Əliyev"), "aliyev");
    }

    #[test]
    fn other_latin_letters_and_stray_marks() {
        // Small capital R: its ASCII form is upper-case, folded to lower.
        assert_eq!(fold("ʀ"), "r");
        // IPA glottal stop: no letter in ASCII, kept.
        assert_eq!(fold("ʔa"), "ʔa");
        // A mark with no letter before it is dropped.
        assert_eq!(fold("\u{301}José"), "jose");
        // Hausa hooked letters, Ewe/Twi open vowels.
        assert_eq!(
            fold("Ɓello Ɗanjuma Ɛfua Ɔkyere"),
            "bello danjuma efua okyere"
        );
    }

    #[test]
    fn fold_is_idempotent_and_total() {
        for s in [
            "",
            "Ørjan Sæther",
            "İlker Işık",
            "ＡＢＣ Ｔａｒｏ",
            "ヤマダ",
            "\u{0301}\u{0301}x",
            "ǅ ǈ ǋ",
            "ﷺ",
            "\u{10FFFF}",
            "e\u{301}\u{327}",
        ] {
            let once = fold(s);
            assert_eq!(fold(&once), once, "{s:?}");
        }
    }

    #[test]
    fn typo_length_counts_letters_not_marks() {
        assert_eq!(typo_len("ใจดู"), 3);
        assert_eq!(typo_len("राहुल"), 3);
        assert_eq!(typo_len("alvarez"), 7);
    }
}
