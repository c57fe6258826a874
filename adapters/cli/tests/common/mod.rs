//! What the `kinfolk` command's test binaries share.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Spawns `serve` (the command already carries its arguments and
/// environment) with its log on a pipe; returns the child and its base URL,
/// read from the "listening on" log line. The log keeps being drained so the
/// child never blocks on a full pipe. The caller kills the child.
#[allow(clippy::zombie_processes, clippy::unwrap_used, dead_code)]
pub fn spawn_serve(mut cmd: Command) -> (Child, String) {
    let mut child = cmd
        .env("KINFOLK_LOG", "info")
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(
            Instant::now() < deadline,
            "serve did not report its address"
        );
        let line = lines.next().unwrap().unwrap();
        if let Some(rest) = line.split("listening on ").nth(1) {
            let url = rest.split_whitespace().next().unwrap().to_string();
            std::thread::spawn(move || for _ in lines.by_ref() {});
            return (child, url);
        }
    }
}

/// As [`spawn_serve`] for a `serve` given `--ops-listen`: returns the child,
/// its API base URL and its operator endpoint's base URL (logged first).
#[allow(clippy::zombie_processes, clippy::unwrap_used, dead_code)]
pub fn spawn_serve_with_ops(mut cmd: Command) -> (Child, String, String) {
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
            "serve did not report its addresses"
        );
        let line = lines.next().unwrap().unwrap();
        if let Some(u) = url(&line, "operator endpoint on ") {
            ops = Some(u);
        } else if let Some(api) = url(&line, "listening on ") {
            std::thread::spawn(move || for _ in lines.by_ref() {});
            return (
                child,
                api,
                ops.expect("the operator endpoint is logged first"),
            );
        }
    }
}
