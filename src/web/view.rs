//! How pages write things people read: times in UTC to the second (the audit log's clock),
//! sizes in binary units, durations as clock time, stored states in words. Pages show these
//! strings; templates do no formatting of their own.

use chrono::{DateTime, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use uuid::Uuid;

use crate::domain::{Classification, Recording};

const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

/// A value as one segment of a page's address: a case URN may hold `/` or `?`.
pub fn segment(value: &str) -> String {
    utf8_percent_encode(value, SEGMENT).to_string()
}

pub fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub fn when_maybe(t: Option<DateTime<Utc>>) -> String {
    t.map(when).unwrap_or_else(|| "—".into())
}

pub fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// Seconds as `H:MM:SS` (or `M:SS` under an hour).
pub fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    let (h, m, s) = (s / 3600, (s / 60) % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// A stored state's spelling as words: `non-evidential` reads "Non-evidential".
pub fn words(state: &str) -> String {
    let mut c = state.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// How long a recording runs, from what the probe found in its clips.
pub fn duration(r: &Recording) -> Option<f64> {
    let secs: Vec<f64> = r
        .clips
        .iter()
        .filter_map(|c| c.probe.as_ref()?.get("duration_secs")?.as_f64())
        .collect();
    (!secs.is_empty()).then(|| secs.iter().sum())
}

/// The officer as a list shows them: the dock's label beside the staff number.
pub fn officer(r: &Recording) -> String {
    match r.officer_label.as_deref().filter(|l| !l.trim().is_empty()) {
        Some(label) => format!("{label} ({})", r.officer_id),
        None => r.officer_id.clone(),
    }
}

/// One recording in a list.
pub struct RecordingRow {
    pub id: Uuid,
    pub recorded: String,
    pub officer: String,
    pub device: String,
    pub category: String,
    pub classification: &'static str,
    pub classification_words: String,
    pub status: String,
    pub duration: String,
    pub next_action: String,
    /// The poster's address, when the person gave a reason to see stills.
    pub poster: Option<String>,
}

impl RecordingRow {
    pub fn of(r: &Recording) -> RecordingRow {
        RecordingRow {
            id: r.id,
            recorded: when(r.recorded_at),
            officer: officer(r),
            device: r.device_serial.clone(),
            category: r.category.clone().unwrap_or_else(|| "—".into()),
            classification: r.classification.as_str(),
            classification_words: words(r.classification.as_str()),
            status: words(r.status.as_str()),
            duration: duration(r).map(clock).unwrap_or_else(|| "—".into()),
            next_action: next_action(r),
            poster: None,
        }
    }
}

/// What retention does next, in words: "Delete on 2027-01-03 (non-evidential-31-days)".
pub fn next_action(r: &Recording) -> String {
    match (r.next_action, r.next_action_at) {
        (Some(a), Some(at)) => format!(
            "{} on {}{}",
            words(a.as_str()),
            day(at),
            r.next_action_rule
                .as_deref()
                .map(|rule| format!(" ({rule})"))
                .unwrap_or_default()
        ),
        (Some(a), None) => words(a.as_str()),
        _ => "—".into(),
    }
}

/// The classifications a person may choose, with their words, for select lists.
pub fn classifications() -> Vec<(&'static str, String)> {
    Classification::ALL
        .iter()
        .map(|c| (c.as_str(), words(c.as_str())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_read_sizes_and_clock_times() {
        assert_eq!(size(512), "512 bytes");
        assert_eq!(size(3 * 1024 * 1024 + 512 * 1024), "3.5 MiB");
        assert_eq!(clock(59.6), "1:00");
        assert_eq!(clock(3725.0), "1:02:05");
        assert_eq!(words("non-evidential"), "Non-evidential");
        assert_eq!(segment("01/AB 12?x"), "01%2FAB%2012%3Fx");
    }
}
