//! The rules for cases and exhibit references, apart from storage.

use crate::error::{Error, Result};

/// Ranks and titles that come before a name and are not part of its initials.
const TITLES: &[&str] = &[
    "pc",
    "dc",
    "ps",
    "ds",
    "di",
    "dci",
    "insp",
    "inspector",
    "sgt",
    "sergeant",
    "constable",
    "mr",
    "mrs",
    "ms",
    "miss",
    "dr",
];

/// The exhibit prefix for footage an officer produced: their initials ("PC Alan Bloggs" gives
/// "AB"), or their staff number when no name is on record.
pub fn exhibit_prefix(display_name: Option<&str>, officer_id: &str) -> String {
    let initials: String = display_name
        .unwrap_or_default()
        .split_whitespace()
        .filter(|w| !TITLES.contains(&w.to_ascii_lowercase().replace('.', "").as_str()))
        .filter_map(|w| w.chars().find(|c| c.is_alphabetic()))
        .flat_map(char::to_uppercase)
        .collect();
    if initials.is_empty() {
        officer_id.to_owned()
    } else {
        initials
    }
}

/// The first `PREFIX/n` not yet used in the case.
pub fn next_reference(prefix: &str, used: &[String]) -> String {
    (1..)
        .map(|n| format!("{prefix}/{n}"))
        .find(|r| !used.iter().any(|u| u.eq_ignore_ascii_case(r)))
        .unwrap_or_default()
}

fn plain(what: &str, value: &str, max: usize, extra: &str) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= max
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::bad_input(format!(
            "{what} {value:?} must be 1-{max} letters, digits or {extra:?}"
        )))
    }
}

/// Optional free text given on the command line (descriptions, reasons, recipients): trimmed,
/// never empty when given, and at most `max` bytes.
pub fn optional_text(flag: &str, value: Option<String>, max: usize) -> Result<Option<String>> {
    match value.map(|v| v.trim().to_owned()) {
        Some(v) if v.is_empty() => Err(Error::bad_input(format!("{flag} must not be empty"))),
        Some(v) if v.len() > max => Err(Error::bad_input(format!(
            "{flag} is {} bytes; at most {max}",
            v.len()
        ))),
        other => Ok(other),
    }
}

/// A case URN (e.g. `01AB2345626`): letters, digits and `/ -`.
pub fn check_urn(urn: &str) -> Result<()> {
    plain("URN", urn, 32, "/-")
}

/// An exhibit reference (e.g. `AB/1`).
pub fn check_reference(reference: &str) -> Result<()> {
    plain("exhibit reference", reference, 32, "/-.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_skip_ranks_and_fall_back_to_the_staff_number() {
        assert_eq!(exhibit_prefix(Some("PC Alan Bloggs"), "4471"), "AB");
        assert_eq!(exhibit_prefix(Some("D.S. jane o'neill"), "1"), "JO");
        assert_eq!(exhibit_prefix(Some("Sgt. Mary Ann Smith"), "1"), "MAS");
        assert_eq!(exhibit_prefix(None, "4471"), "4471");
        assert_eq!(exhibit_prefix(Some("PC"), "4471"), "4471");
    }

    #[test]
    fn references_run_on_past_used_ones() {
        assert_eq!(next_reference("AB", &[]), "AB/1");
        let used = vec!["AB/1".to_owned(), "ab/2".to_owned(), "CD/3".to_owned()];
        assert_eq!(next_reference("AB", &used), "AB/3");
        assert_eq!(next_reference("CD", &used), "CD/1");
    }

    #[test]
    fn urns_and_references_are_plain() {
        assert!(check_urn("01AB2345626").is_ok());
        assert!(check_urn("").is_err());
        assert!(check_urn("01 AB").is_err());
        assert!(check_reference("AB/1").is_ok());
        assert!(check_reference("AB/1;DROP").is_err());
    }
}
