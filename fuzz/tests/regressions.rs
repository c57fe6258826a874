//! Inputs the fuzzers found (or that were written to reproduce a finding),
//! run as plain tests: `cargo test` in `fuzz/`.

/// A search cursor with a valid header and the largest position: the
/// offset arithmetic of `search_users` overflowed (a panic in debug builds,
/// a wrong page in release ones).
#[test]
fn search_cursor_with_huge_offset() {
    let mut input = vec![6u8, 20, 1];
    input.extend([0u8; 18]);
    input.extend([0xffu8; 8]);
    kinfolk_fuzz::cursor(&input);
    for list in 0..8u8 {
        for limit in [1u8, 20, 50, 100, 255] {
            let mut input = vec![list, limit, 1];
            input.extend([0u8; 18]);
            input.extend([0xffu8; 8]);
            kinfolk_fuzz::cursor(&input);
            let mut input = vec![list, limit, 1];
            input.extend([0u8; 18]);
            input.extend([0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf0]);
            kinfolk_fuzz::cursor(&input);
        }
    }
}
