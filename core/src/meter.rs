//! Metrics of the service, through the [`metrics`] facade: every command is
//! counted and timed, and its errors counted by [`Error::code`]. Nothing is
//! recorded until the host installs a recorder (`kinfolk serve` installs
//! the Prometheus one and serves it at `/metrics`); without one each call
//! costs a few atomic loads.
//!
//! | metric | type | labels | what |
//! |---|---|---|---|
//! | `kinfolk_commands_total` | counter | `command` | commands finished (ok or not) |
//! | `kinfolk_command_errors_total` | counter | `command`, `code` | commands that failed, by [`Error::code`] |
//! | `kinfolk_command_duration_seconds` | histogram | `command` | time from the call to the answer |
//! | `kinfolk_store_queue_depth` | gauge | | jobs waiting in the store's queues ([`crate::Store::queue_depth`]), sampled by [`Kinfolk::observe_store`] |
//!
//! `command` is the method's name (`toggle_follow`, `search_users`, …).
//!
//! ```
//! # async fn demo(svc: kinfolk::Kinfolk) {
//! kinfolk::meter::describe(); // once, after installing a recorder
//! svc.observe_store();        // before each scrape
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use crate::error::{Error, Result};
use crate::service::Kinfolk;

/// Counter: commands finished, label `command`.
pub const COMMANDS_TOTAL: &str = "kinfolk_commands_total";
/// Counter: commands that failed, labels `command` and `code`.
pub const COMMAND_ERRORS_TOTAL: &str = "kinfolk_command_errors_total";
/// Histogram: command latency in seconds, label `command`.
pub const COMMAND_DURATION_SECONDS: &str = "kinfolk_command_duration_seconds";
/// Gauge: jobs waiting in the store's queues.
pub const STORE_QUEUE_DEPTH: &str = "kinfolk_store_queue_depth";

/// Registers the description and unit of every metric above with the
/// installed recorder (Prometheus prints them as `# HELP` lines). Call once
/// after installing the recorder; harmless without one.
pub fn describe() {
    metrics::describe_counter!(
        COMMANDS_TOTAL,
        "kinfolk commands finished, successful or not, by command"
    );
    metrics::describe_counter!(
        COMMAND_ERRORS_TOTAL,
        "kinfolk commands that failed, by command and error code"
    );
    metrics::describe_histogram!(
        COMMAND_DURATION_SECONDS,
        metrics::Unit::Seconds,
        "kinfolk command latency, from the call to the answer"
    );
    metrics::describe_gauge!(
        STORE_QUEUE_DEPTH,
        "store jobs queued and not yet started (sampled at each scrape)"
    );
}

/// Records one finished command.
fn record(command: &'static str, start: Instant, error: Option<&Error>) {
    metrics::counter!(COMMANDS_TOTAL, "command" => command).increment(1);
    metrics::histogram!(COMMAND_DURATION_SECONDS, "command" => command)
        .record(start.elapsed().as_secs_f64());
    if let Some(e) = error {
        metrics::counter!(COMMAND_ERRORS_TOTAL, "command" => command, "code" => e.code())
            .increment(1);
    }
}

/// `.metered("name")` on a command's future: the one wrapper every command
/// goes through.
pub(crate) trait MeterExt: Future + Sized {
    /// Counts and times this command when it finishes.
    fn metered(self, command: &'static str) -> Metered<Self> {
        Metered {
            inner: Box::pin(self),
            command,
            start: None,
        }
    }
}

impl<F: Future> MeterExt for F {}

/// A command's future, counted and timed when it finishes (not when it is
/// dropped unfinished).
pub(crate) struct Metered<F> {
    inner: Pin<Box<F>>,
    command: &'static str,
    start: Option<Instant>,
}

impl<T, F: Future<Output = Result<T>>> Future for Metered<F> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let start = *self.start.get_or_insert_with(Instant::now);
        match self.inner.as_mut().poll(cx) {
            Poll::Ready(out) => {
                record(self.command, start, out.as_ref().err());
                Poll::Ready(out)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Kinfolk {
    /// Samples the store's queue depth into the `kinfolk_store_queue_depth`
    /// gauge ([`crate::Store::queue_depth`]); a store that does not report
    /// one leaves the gauge unset. Call it before each scrape.
    pub fn observe_store(&self) {
        if let Some(depth) = self.inner.store.queue_depth() {
            metrics::gauge!(STORE_QUEUE_DEPTH).set(depth as f64);
        }
    }
}
