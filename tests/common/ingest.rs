//! `bwv ingest` as the tests run it: who recorded the footage on which camera, optionally its
//! category and when it was recorded, on files written for the test or on fixtures.

use std::path::Path;

use serde_json::Value;

use super::{Env, sha256_hex};

/// The options of one `bwv ingest`. [`Ingest::new`] is officer 4471 on CAM-1 with no category
/// and no recording time; the builder methods are `const`, so a test file can name its own
/// (`const INGEST: Ingest = Ingest::new().device("CAM-0001");`).
#[derive(Debug, Clone, Copy)]
pub struct Ingest<'a> {
    pub officer: &'a str,
    pub device: &'a str,
    pub category: Option<&'a str>,
    /// `--recorded-at` as given (RFC 3339, or anything, to test refusals).
    pub recorded_at: Option<&'a str>,
}

impl Default for Ingest<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> Ingest<'a> {
    pub const fn new() -> Self {
        Ingest {
            officer: "4471",
            device: "CAM-1",
            category: None,
            recorded_at: None,
        }
    }

    pub const fn officer(self, officer: &'a str) -> Self {
        Ingest { officer, ..self }
    }

    pub const fn device(self, device: &'a str) -> Self {
        Ingest { device, ..self }
    }

    pub const fn category(self, category: &'a str) -> Self {
        Ingest {
            category: Some(category),
            ..self
        }
    }

    pub const fn recorded_at(self, at: &'a str) -> Self {
        Ingest {
            recorded_at: Some(at),
            ..self
        }
    }

    /// `ingest --officer O --device D [--recorded-at T] [--category C] PATHS...`, for tests that
    /// run the command themselves (other global options first, another environment, a signal).
    pub fn args<'b>(&self, paths: &[&'b str]) -> Vec<&'b str>
    where
        'a: 'b,
    {
        let mut args = vec!["ingest", "--officer", self.officer, "--device", self.device];
        if let Some(at) = self.recorded_at {
            args.extend(["--recorded-at", at]);
        }
        if let Some(category) = self.category {
            args.extend(["--category", category]);
        }
        args.extend_from_slice(paths);
        args
    }
}

/// One file ingested: its recording, and the SHA-256 of its bytes as `bwv ingest` reported it.
#[derive(Debug, Clone)]
pub struct Ingested {
    pub id: String,
    pub sha256: String,
}

impl Env {
    /// Writes `footage <name>` to `name` under the test root and ingests it; insists on exit 0
    /// and on the hash of those bytes.
    pub fn ingest(&self, name: &str, how: &Ingest) -> Ingested {
        let bytes = format!("footage {name}");
        let path = self.write(name, bytes.as_bytes());
        let ingested = self.ingest_path(&path, how);
        assert_eq!(
            ingested.sha256,
            sha256_hex(bytes.as_bytes()),
            "bwv ingest reports the hash of {name}"
        );
        ingested
    }

    /// Ingests one existing file (a fixture, say); insists on exit 0.
    pub fn ingest_path(&self, path: &Path, how: &Ingest) -> Ingested {
        let line = self.ingest_lines(0, how, &[path]).remove(0);
        let field = |k: &str| {
            line[k]
                .as_str()
                .unwrap_or_else(|| panic!("no {k} in {line}"))
                .to_owned()
        };
        Ingested {
            id: field("recording_id"),
            sha256: field("sha256"),
        }
    }

    /// `bwv --json ingest` of files or directories (relative to the test root, or absolute),
    /// insisting on exit `code`: one JSON line per file.
    pub fn ingest_lines<P: AsRef<Path>>(&self, code: i32, how: &Ingest, paths: &[P]) -> Vec<Value> {
        let paths: Vec<String> = paths
            .iter()
            .map(|p| p.as_ref().to_string_lossy().into_owned())
            .collect();
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        self.json_lines(code, &how.args(&paths))
    }
}
