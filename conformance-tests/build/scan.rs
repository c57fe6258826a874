//! The scanner of `build.rs`: finds the conformance cases in a source
//! file, and the functions that look like cases but would not be stamped.
//! Shared, through `#[path]`, by `build.rs` and its test (`tests/scan.rs`).

/// One function header: where it starts, its text up to the body, and
/// whether it is at the top level of the file (not inside an `impl`).
pub struct Header {
    pub line: usize,
    pub text: String,
    pub top_level: bool,
}

/// Every `fn` header of a file, with comments and string contents left out
/// of the scan (so a signature quoted in a doc comment does not count).
pub fn headers(src: &str) -> Vec<Header> {
    let code = strip_comments_and_strings(src);
    let mut out = Vec::new();
    let mut depth = 0usize;
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => depth += 1,
            b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        let at_word = i == 0 || !is_ident(bytes[i - 1]);
        if at_word && code[i..].starts_with("fn ") {
            // Back up over the qualifiers (`pub`, `pub(crate)`, `async`, …)
            // to the start of the item, then take the text up to the body.
            let start = code[..i].rfind(['\n', ';', '{', '}']).map_or(0, |p| p + 1);
            let end = code[i..].find(['{', ';']).map_or(code.len(), |p| i + p);
            let text = code[start..end]
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            let line = code[..i].matches('\n').count() + 1;
            out.push(Header {
                line,
                text,
                top_level: depth == 0,
            });
        }
        i += 1;
    }
    out
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The source with comments blanked and string/char literal contents
/// blanked (newlines kept, so line numbers stay right).
fn strip_comments_and_strings(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let blank = |c: u8| if c == b'\n' { b'\n' } else { b' ' };
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                out.push(b' ');
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let mut nest = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    nest += 1;
                    out.extend_from_slice(b"  ");
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    nest -= 1;
                    out.extend_from_slice(b"  ");
                    i += 2;
                    if nest == 0 {
                        break;
                    }
                } else {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
        } else if b[i] == b'r'
            && (b[i + 1..].starts_with(b"\"") || b[i + 1..].starts_with(b"#"))
            && (i == 0 || !is_ident(b[i - 1]))
        {
            // Raw string: r"…", r#"…"#, …
            let mut j = i + 1;
            let mut hashes = 0;
            while j < b.len() && b[j] == b'#' {
                hashes += 1;
                j += 1;
            }
            if j < b.len() && b[j] == b'"' {
                let close: Vec<u8> = std::iter::once(b'"')
                    .chain(std::iter::repeat_n(b'#', hashes))
                    .collect();
                out.extend(std::iter::repeat_n(b' ', j + 1 - i));
                i = j + 1;
                while i < b.len() && !b[i..].starts_with(&close) {
                    out.push(blank(b[i]));
                    i += 1;
                }
                out.extend(std::iter::repeat_n(b' ', close.len().min(b.len() - i)));
                i += close.len();
            } else {
                out.push(b[i]);
                i += 1;
            }
        } else if b[i] == b'"' {
            out.push(b'"');
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    out.push(b' ');
                    out.push(blank(b[i + 1]));
                    i += 2;
                } else {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
            out.push(b'"');
            i += 1;
        } else if b[i] == b'\'' {
            // A char literal ('x', '\n', '\u{..}', '{') or a lifetime ('a).
            let lit_len = if b.get(i + 1) == Some(&b'\\') {
                b[i + 2..].iter().position(|&c| c == b'\'').map(|p| p + 3)
            } else if b.get(i + 2) == Some(&b'\'') {
                Some(3)
            } else {
                // Multi-byte char literal, or a lifetime.
                let s = &src[i + 1..];
                let mut it = s.char_indices();
                match (it.next(), it.next()) {
                    (Some((_, _)), Some((p, '\''))) => Some(p + 2),
                    _ => None,
                }
            };
            match lit_len {
                Some(n) => {
                    out.extend(std::iter::repeat_n(b' ', n));
                    i += n;
                }
                None => {
                    out.push(b'\'');
                    i += 1;
                }
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| src.to_string())
}

/// The case name when `h` is a case; `Err` with the reason when it looks
/// like one but would not be stamped (the case shape — one `Ctx` by value,
/// returning `TestResult` — but private, not async or inside an `impl`; or
/// a top-level `pub async fn` with half of that shape); `Ok(None)` for
/// anything else (a helper).
pub fn case_name(h: &Header) -> Result<Option<String>, String> {
    let t = &h.text;
    let Some((quals, rest)) = t.split_once("fn ") else {
        return Ok(None);
    };
    let Some((name, rest)) = rest.split_once('(') else {
        return Ok(None);
    };
    // The parameters end at the `)` that closes the first `(`.
    let mut depth = 1usize;
    let Some(close) = rest.char_indices().find_map(|(i, c)| {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        (depth == 0).then_some(i)
    }) else {
        return Ok(None);
    };
    let (params, ret) = (&rest[..close], &rest[close + 1..]);
    let one_ctx = params.split_once(':').is_some_and(|(pat, ty)| {
        !pat.contains(',') && ty.trim().trim_end_matches(',').trim() == "Ctx"
    });
    let returns_result = ret.trim() == "-> TestResult";
    let public_async = quals.trim() == "pub async" && h.top_level;
    if one_ctx && returns_result && public_async && name.bytes().all(is_ident) {
        return Ok(Some(name.trim().to_string()));
    }
    if (one_ctx && returns_result) || (public_async && (one_ctx || returns_result)) {
        return Err(format!(
            "`{t}` looks like a conformance case but would never run: a case is \
             exactly a top-level `pub async fn NAME(ctx: Ctx) -> TestResult`"
        ));
    }
    Ok(None)
}

/// The cases of one source file, in order, or every line (1-based) and
/// reason where a function looks like a case but would not be stamped.
///
/// # Errors
/// One `(line, reason)` per such function.
pub fn cases(src: &str) -> Result<Vec<String>, Vec<(usize, String)>> {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for h in headers(src) {
        match case_name(&h) {
            Ok(Some(name)) => found.push(name),
            Ok(None) => {}
            Err(e) => errors.push((h.line, e)),
        }
    }
    if errors.is_empty() {
        Ok(found)
    } else {
        Err(errors)
    }
}
