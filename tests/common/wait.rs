//! Waiting for what another process does (a watcher, a worker, a server): a condition polled
//! until it holds, or a panic naming what never happened.

use std::time::{Duration, Instant};

use super::Env;

/// How often [`wait_for`] looks again.
pub const POLL: Duration = Duration::from_millis(100);

/// Polls `done` every [`POLL`] until it returns true; panics naming `what` once `timeout` has
/// passed.
pub fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(POLL);
    }
}

impl Env {
    /// Waits (two minutes at most) until no clip of a recording that has arrived in full is
    /// still pending: the media jobs of a server's or worker's have settled every one.
    pub fn wait_for_media(&self) {
        wait_for(
            "the media of every complete recording to settle",
            Duration::from_secs(120),
            || {
                self.count(
                    "SELECT COUNT(*) FROM clips c JOIN recordings r ON r.id = c.recording_id \
                     WHERE c.media_state = 'pending' AND r.status <> 'incomplete'",
                ) == 0
            },
        );
    }
}
