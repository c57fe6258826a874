//! The case scanner of `build.rs` (which generates the case lists): it
//! finds every case, and refuses what looks like a case but would not run.
#![allow(clippy::unwrap_used)]

#[path = "../build/scan.rs"]
mod scan;

#[test]
fn finds_cases_in_every_spelling_rustfmt_writes() {
    let src = r#"
pub async fn plain(ctx: Ctx) -> TestResult {
    let s = "pub async fn in_a_string(ctx: Ctx) -> TestResult {";
    Ok(())
}

/// `pub async fn in_a_doc(ctx: Ctx) -> TestResult` is not a case.
pub async fn mutable(mut ctx: Ctx) -> TestResult {
    let c = '{';
    Ok(())
}

// pub async fn commented_out(ctx: Ctx) -> TestResult {}
pub async fn unused_context(_ctx: Ctx) -> TestResult {
    Ok(())
}

pub async fn a_name_so_long_that_rustfmt_puts_the_parameter_on_its_own_line(
    ctx: Ctx,
) -> TestResult {
    Ok(())
}
"#;
    assert_eq!(
        scan::cases(src).unwrap(),
        [
            "plain",
            "mutable",
            "unused_context",
            "a_name_so_long_that_rustfmt_puts_the_parameter_on_its_own_line"
        ]
    );
}

#[test]
fn helpers_are_not_cases() {
    let src = r#"
async fn world(ctx: &Ctx, n: usize) -> TestResult { Ok(()) }
pub async fn user(svc: &Kinfolk, name: &str) -> UserId { todo!() }
fn rows() -> Vec<&'static str> { vec![] }
impl Side {
    fn new(ctx: Ctx) -> Self { Self { ctx } }
}
"#;
    assert_eq!(scan::cases(src).unwrap(), Vec::<String>::new());
}

#[test]
fn refuses_what_looks_like_a_case_but_would_never_run() {
    let src = r#"
pub async fn good(ctx: Ctx) -> TestResult { Ok(()) }
async fn private_case(ctx: Ctx) -> TestResult { Ok(()) }
pub fn not_async(ctx: Ctx) -> TestResult { Ok(()) }
pub async fn wrong_return(ctx: Ctx) -> Result<(), Error> { Ok(()) }
pub async fn borrows(ctx: &Ctx) -> TestResult { Ok(()) }
mod inner {
    pub async fn nested(ctx: Ctx) -> TestResult { Ok(()) }
}
"#;
    let errors = scan::cases(src).unwrap_err();
    let lines: Vec<usize> = errors.iter().map(|(line, _)| *line).collect();
    assert_eq!(lines, [3, 4, 5, 6, 8], "{errors:#?}");
    assert!(errors[0].1.contains("private_case"), "{errors:#?}");
}
