//! Human text or one JSON object per line, and progress bars only where a person is watching.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::error::Error;

pub struct Output {
    json: bool,
}

impl Output {
    pub fn new(json: bool) -> Self {
        Output { json }
    }

    pub fn json(&self) -> bool {
        self.json
    }

    /// Prints a result: the JSON form with `--json`, otherwise the human text.
    pub fn record<T: Serialize>(&self, value: &T, human: impl FnOnce() -> String) {
        if self.json {
            match serde_json::to_string(value) {
                Ok(line) => println!("{line}"),
                Err(e) => eprintln!("error: cannot format output: {e}"),
            }
        } else {
            println!("{}", human());
        }
    }

    /// Errors go to stderr, as JSON with `--json` (stdout carries only results).
    pub fn error(&self, error: &Error) {
        if self.json {
            let v = serde_json::json!({"error": {"code": error.code().as_str(), "message": error.to_string()}});
            eprintln!("{v}");
        } else {
            eprintln!("error: {error}");
        }
    }

    /// A byte-count progress bar on stderr, hidden unless stderr is a terminal and output is
    /// for people.
    pub fn progress(&self, total: u64, what: &str) -> ProgressBar {
        self.bar(
            total,
            what,
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
    }

    /// Like [`Output::progress`], counting items instead of bytes.
    pub fn progress_items(&self, total: u64, what: &str) -> ProgressBar {
        self.bar(total, what, "{msg} [{bar:30}] {pos}/{len} eta {eta}")
    }

    fn bar(&self, total: u64, what: &str, template: &str) -> ProgressBar {
        if self.json || !std::io::stderr().is_terminal() {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(total);
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(what.to_owned());
        bar
    }
}
