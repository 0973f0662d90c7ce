//! The retention policy file: periods a force sets, validated on load with the line and field of
//! any mistake, and identified by the SHA-256 of its bytes.

use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;

use crate::error::{Code, Error, Result};

/// How long before its arrival footage may have been recorded, when a policy does not say.
const DEFAULT_WINDOW_DAYS: u32 = 7;

/// The built-in policy: UK defaults (31 days for non-evidential footage, CPIA periods).
pub const BUILTIN: &str = include_str!("../../deploy/retention-policy.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    footage: Footage,
    cases: Cases,
    deletion: Deletion,
    review: Review,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Deletion {
    grace_days: Spanned<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Review {
    groups: Vec<GroupFile>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupFile {
    name: Spanned<String>,
    description: String,
    retain_years: Spanned<u32>,
}

/// A records-management review group: retaining footage in it means reviewing it again after
/// `retain_years`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReviewGroup {
    pub name: String,
    pub description: String,
    pub retain_years: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Footage {
    #[serde(default)]
    recorded_at_window_days: Option<Spanned<u32>>,
    non_evidential_delete_after_days: Spanned<u32>,
    unreviewed_delete_after_days: Spanned<u32>,
    evidential_unlinked_review_after_days: Spanned<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cases {
    convicted_keep_months: Spanned<u32>,
    nfa_review_after_days: Spanned<u32>,
    acquitted_review_after_days: Spanned<u32>,
    closed_review_after_days: Spanned<u32>,
}

/// The periods, checked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Policy {
    /// Periods count from the recording time, but never from earlier than this many days
    /// before the footage arrived (nor after it arrived).
    pub recorded_at_window_days: u32,
    pub non_evidential_delete_after_days: u32,
    pub unreviewed_delete_after_days: u32,
    pub evidential_unlinked_review_after_days: u32,
    pub convicted_keep_months: u32,
    pub nfa_review_after_days: u32,
    pub acquitted_review_after_days: u32,
    pub closed_review_after_days: u32,
    /// Soft-deleted footage is purged this long after deletion.
    pub grace_days: u32,
    pub review_groups: Vec<ReviewGroup>,
    /// Hex SHA-256 of the policy file's bytes.
    pub sha256: String,
    /// Where it came from: a path, or `built-in`.
    pub source: String,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

impl Policy {
    pub fn builtin() -> Result<Policy> {
        Policy::parse(BUILTIN, "built-in")
    }

    pub fn load(path: &Path) -> Result<Policy> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::with_source(
                Code::Config,
                format!("cannot read retention policy {}", path.display()),
                e,
            )
        })?;
        Policy::parse(&text, &path.display().to_string())
    }

    /// Parses and checks a policy; errors name the source, the line and the field.
    pub fn parse(text: &str, source: &str) -> Result<Policy> {
        let file: File = toml::from_str(text).map_err(|e| {
            let at = e
                .span()
                .map(|s| format!(" line {}", line_of(text, s.start)))
                .unwrap_or_default();
            Error::new(
                Code::Config,
                format!("retention policy {source}{at}: {}", e.message()),
            )
        })?;
        let at_line = |start: usize, message: String| {
            Error::new(
                Code::Config,
                format!(
                    "retention policy {source} line {}: {message}",
                    line_of(text, start)
                ),
            )
        };
        let range = |field: &str, v: &Spanned<u32>, min: u32, max: u32| -> Result<u32> {
            let value = *v.get_ref();
            if (min..=max).contains(&value) {
                Ok(value)
            } else {
                Err(at_line(
                    v.span().start,
                    format!("{field} = {value} must be between {min} and {max}"),
                ))
            }
        };
        let check = |field: &str, v: &Spanned<u32>, max: u32| range(field, v, 1, max);
        let mut review_groups: Vec<ReviewGroup> = Vec::new();
        for g in &file.review.groups {
            let name = g.name.get_ref().trim();
            if name.is_empty() || review_groups.iter().any(|o| o.name == name) {
                return Err(at_line(
                    g.name.span().start,
                    format!("review.groups name {name:?} must be non-empty and unique"),
                ));
            }
            review_groups.push(ReviewGroup {
                name: name.to_owned(),
                description: g.description.clone(),
                retain_years: check("review.groups.retain_years", &g.retain_years, 100)?,
            });
        }
        if review_groups.is_empty() {
            return Err(Error::new(
                Code::Config,
                format!("retention policy {source}: review.groups must name at least one group"),
            ));
        }
        const DAYS: u32 = 100 * 366;
        let (f, c) = (&file.footage, &file.cases);
        Ok(Policy {
            recorded_at_window_days: match &f.recorded_at_window_days {
                Some(v) => range("footage.recorded_at_window_days", v, 0, DAYS)?,
                None => DEFAULT_WINDOW_DAYS,
            },
            non_evidential_delete_after_days: check(
                "footage.non_evidential_delete_after_days",
                &f.non_evidential_delete_after_days,
                DAYS,
            )?,
            unreviewed_delete_after_days: check(
                "footage.unreviewed_delete_after_days",
                &f.unreviewed_delete_after_days,
                DAYS,
            )?,
            evidential_unlinked_review_after_days: check(
                "footage.evidential_unlinked_review_after_days",
                &f.evidential_unlinked_review_after_days,
                DAYS,
            )?,
            convicted_keep_months: check(
                "cases.convicted_keep_months",
                &c.convicted_keep_months,
                1200,
            )?,
            nfa_review_after_days: check(
                "cases.nfa_review_after_days",
                &c.nfa_review_after_days,
                DAYS,
            )?,
            acquitted_review_after_days: check(
                "cases.acquitted_review_after_days",
                &c.acquitted_review_after_days,
                DAYS,
            )?,
            closed_review_after_days: check(
                "cases.closed_review_after_days",
                &c.closed_review_after_days,
                DAYS,
            )?,
            grace_days: range("deletion.grace_days", &file.deletion.grace_days, 0, 365)?,
            review_groups,
            sha256: hex::encode(Sha256::digest(text.as_bytes())),
            source: source.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_policy_is_the_uk_default() {
        let p = Policy::builtin().unwrap();
        assert_eq!(p.non_evidential_delete_after_days, 31);
        assert_eq!(p.convicted_keep_months, 6);
        assert_eq!(p.grace_days, 7);
        assert_eq!(p.review_groups.len(), 3);
        assert_eq!(p.sha256, hex::encode(Sha256::digest(BUILTIN.as_bytes())));
    }

    #[test]
    fn mistakes_name_the_line_and_field() {
        let bad = BUILTIN.replace(
            "non_evidential_delete_after_days = 31",
            "non_evidential_delete_after_days = 0",
        );
        let e = Policy::parse(&bad, "p.toml").unwrap_err().to_string();
        let line = bad
            .lines()
            .position(|l| l.starts_with("non_evidential_delete_after_days"))
            .unwrap()
            + 1;
        assert!(e.contains(&format!("p.toml line {line}")), "{e}");
        assert!(
            e.contains("footage.non_evidential_delete_after_days = 0"),
            "{e}"
        );

        let unknown = BUILTIN.replace("[cases]", "[cases]\nconvicted_keep_years = 1");
        let e = Policy::parse(&unknown, "p.toml").unwrap_err().to_string();
        assert!(
            e.contains("convicted_keep_years") && e.contains("line"),
            "{e}"
        );

        let missing = BUILTIN.replace("unreviewed_delete_after_days = 31\n", "");
        let e = Policy::parse(&missing, "p.toml").unwrap_err().to_string();
        assert!(e.contains("unreviewed_delete_after_days"), "{e}");

        let twice = format!(
            "{BUILTIN}\n[[review.groups]]\nname = \"3\"\ndescription = \"again\"\nretain_years = 1\n"
        );
        let e = Policy::parse(&twice, "p.toml").unwrap_err().to_string();
        assert!(e.contains("line") && e.contains("\"3\""), "{e}");
    }
}
