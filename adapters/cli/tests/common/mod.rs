//! What the `kinfolk` command's test binaries share.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Spawns `serve` (the command already carries its arguments and
/// environment) with its log on a pipe; returns the child and its base URL,
/// read from the "listening on" log line. The log keeps being drained so the
/// child never blocks on a full pipe. The caller kills the child.
#[allow(dead_code)]
pub fn spawn_serve(cmd: Command) -> (Child, String) {
    let (child, api, _) = spawn_and_read(cmd);
    (child, api)
}

/// As [`spawn_serve`] for a `serve` given `--ops-listen`: returns the child,
/// its API base URL and its operator endpoint's base URL (logged first).
#[allow(clippy::unwrap_used, dead_code)]
pub fn spawn_serve_with_ops(cmd: Command) -> (Child, String, String) {
    let (child, api, ops) = spawn_and_read(cmd);
    (
        child,
        api,
        ops.expect("the operator endpoint is logged first"),
    )
}

/// Spawns `serve` and reads its log up to the "listening on" line; returns
/// the child, the API URL and the operator endpoint's URL if it was logged
/// before.
#[allow(clippy::zombie_processes, clippy::unwrap_used)]
fn spawn_and_read(mut cmd: Command) -> (Child, String, Option<String>) {
    let mut child = cmd
        .env("KINFOLK_LOG", "info")
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let url = |line: &str, after: &str| {
        line.split(after)
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .map(str::to_string)
    };
    let mut ops = None;
    loop {
        assert!(
            Instant::now() < deadline,
            "serve did not report its address"
        );
        let line = lines.next().unwrap().unwrap();
        if let Some(u) = url(&line, "operator endpoint on ") {
            ops = Some(u);
        } else if let Some(api) = url(&line, "listening on ") {
            std::thread::spawn(move || for _ in lines.by_ref() {});
            return (child, api, ops);
        }
    }
}

/// Runs a finished command: whether it succeeded, and its stdout then
/// stderr as text.
#[allow(clippy::unwrap_used, dead_code)]
pub fn output(c: &mut Command) -> (bool, String) {
    let std::process::Output {
        status,
        stdout,
        stderr,
    } = c.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&stderr)
    );
    (status.success(), text)
}
