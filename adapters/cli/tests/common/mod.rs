//! What the `kinfolk` command's test binaries share.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Spawns `serve` (the command already carries its arguments and
/// environment) with its log on a pipe; returns the child and its base URL,
/// read from the "listening on" log line. The log keeps being drained so the
/// child never blocks on a full pipe. The caller kills the child.
#[allow(clippy::zombie_processes, clippy::unwrap_used)]
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
