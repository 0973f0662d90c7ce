//! What happens next to a recording under the policy, from the facts that decide it. Pure: the
//! same facts always give the same answer, which is what lets a plan be checked and a property
//! test run over random histories.

use chrono::{DateTime, Duration, Months, Utc};
use serde::Serialize;

use super::policy::Policy;
use crate::domain::{CaseStatus, Classification};

pub use crate::domain::RetentionAction as Action;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct NextAction {
    pub action: Action,
    pub at: Option<DateTime<Utc>>,
    pub rule: &'static str,
}

#[derive(Debug, Clone)]
pub struct CaseFacts {
    pub status: CaseStatus,
    pub concluded_at: Option<DateTime<Utc>>,
    pub sentence_release: Option<DateTime<Utc>>,
    pub appeal: bool,
}

/// The latest records-management review decision on a recording.
#[derive(Debug, Clone)]
pub struct ReviewFacts {
    pub decided_at: DateTime<Utc>,
    /// Retain until then (and review again); none: dispose.
    pub retain_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct Facts {
    /// When the footage was recorded, as its camera, dock or operator said.
    pub recorded_at: DateTime<Utc>,
    /// When the footage reached bwv, where a machine gave the recording time (camera, dock,
    /// file time); none where an operator stated it, which is then taken as said (an archive
    /// migrated by hand keeps its real dates).
    pub arrived_at: Option<DateTime<Utc>>,
    pub classification: Classification,
    /// The lapse dates of the holds in force on it (none: an open-ended hold).
    pub holds: Vec<Option<DateTime<Utc>>>,
    pub cases: Vec<CaseFacts>,
    pub review: Option<ReviewFacts>,
}

fn days(n: u32) -> Duration {
    Duration::days(i64::from(n))
}

/// A camera clock may be a little ahead of ours; more than this is not a plausible recording time.
const CLOCK_AHEAD: Duration = Duration::days(1);

/// Whether the recording time a camera or dock gave is believable: not long before the footage
/// arrived (cameras dock every shift), and not after it.
pub fn plausible_recording_time(
    recorded_at: DateTime<Utc>,
    arrived_at: DateTime<Utc>,
    p: &Policy,
) -> bool {
    recorded_at >= arrived_at - days(p.recorded_at_window_days)
        && recorded_at <= arrived_at + CLOCK_AHEAD
}

impl Facts {
    /// Where footage periods are counted from: the recording time, but never earlier than the
    /// window before arrival nor later than arrival, so a wrong clock (1990, 2090) can neither
    /// make footage due the day it arrives nor keep it for decades.
    pub fn counted_from(&self, p: &Policy) -> DateTime<Utc> {
        match self.arrived_at {
            Some(arrived) => self
                .recorded_at
                .max(arrived - days(p.recorded_at_window_days))
                .min(arrived),
            None => self.recorded_at,
        }
    }
}

pub fn next_action(f: &Facts, p: &Policy) -> NextAction {
    let keep = |at, rule| NextAction {
        action: Action::Keep,
        at,
        rule,
    };
    if !f.holds.is_empty() {
        // Looked at again when the last hold lapses; never while one is open-ended.
        let lapse = if f.holds.iter().any(Option::is_none) {
            None
        } else {
            f.holds.iter().flatten().max().copied()
        };
        return keep(lapse, "legal-hold");
    }
    if f.cases
        .iter()
        .any(|c| matches!(c.status, CaseStatus::Open | CaseStatus::Charged) || c.appeal)
    {
        return keep(None, "case-active");
    }
    // Every linked case has its outcome: the most protective one decides.
    let mut latest: Option<(DateTime<Utc>, &'static str)> = None;
    for c in &f.cases {
        let Some(concluded) = c.concluded_at else {
            return keep(None, "case-outcome-date-unknown");
        };
        let (until, rule) = match c.status {
            CaseStatus::Convicted => {
                let minimum = concluded
                    .checked_add_months(Months::new(p.convicted_keep_months))
                    .unwrap_or(concluded);
                (
                    c.sentence_release.map_or(minimum, |r| r.max(minimum)),
                    "cpia-convicted",
                )
            }
            CaseStatus::Nfa => (concluded + days(p.nfa_review_after_days), "case-nfa"),
            CaseStatus::Acquitted => (
                concluded + days(p.acquitted_review_after_days),
                "case-acquitted",
            ),
            // A closed case with a sentence release date was a conviction: CPIA still applies.
            _ => {
                let review = concluded + days(p.closed_review_after_days);
                let cpia = c.sentence_release.map(|r| {
                    r.max(
                        concluded
                            .checked_add_months(Months::new(p.convicted_keep_months))
                            .unwrap_or(concluded),
                    )
                });
                (cpia.map_or(review, |k| k.max(review)), "case-closed")
            }
        };
        if latest.is_none_or(|(t, _)| until > t) {
            latest = Some((until, rule));
        }
    }
    let base = match latest {
        Some((at, rule)) => NextAction {
            action: Action::Review,
            at: Some(at),
            rule,
        },
        None => by_classification(f, p),
    };
    // A reviewer's decision settles a review, unless a case reached an outcome after it (that
    // outcome's own review comes first). It never brings forward what the rules require.
    if let (Action::Review, Some(r), Some(floor)) = (base.action, &f.review, base.at)
        && f.cases
            .iter()
            .all(|c| c.concluded_at.is_none_or(|t| t <= r.decided_at))
    {
        return match r.retain_until {
            Some(until) => NextAction {
                action: Action::Review,
                at: Some(until.max(floor)),
                rule: "review-retained",
            },
            None => NextAction {
                action: Action::Delete,
                at: Some(r.decided_at.max(floor)),
                rule: "review-dispose",
            },
        };
    }
    base
}

fn by_classification(f: &Facts, p: &Policy) -> NextAction {
    let from = f.counted_from(p);
    match f.classification {
        Classification::Evidential => NextAction {
            action: Action::Review,
            at: Some(from + days(p.evidential_unlinked_review_after_days)),
            rule: "evidential-unlinked",
        },
        Classification::NonEvidential => NextAction {
            action: Action::Delete,
            at: Some(from + days(p.non_evidential_delete_after_days)),
            rule: "non-evidential",
        },
        Classification::Unreviewed => NextAction {
            action: Action::Delete,
            at: Some(from + days(p.unreviewed_delete_after_days)),
            rule: "unreviewed",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn facts(classification: Classification) -> Facts {
        Facts {
            recorded_at: t("2026-01-01T10:00:00Z"),
            arrived_at: Some(t("2026-01-01T18:00:00Z")),
            classification,
            holds: vec![],
            cases: vec![],
            review: None,
        }
    }

    fn case(
        status: &str,
        concluded: Option<&str>,
        release: Option<&str>,
        appeal: bool,
    ) -> CaseFacts {
        CaseFacts {
            status: CaseStatus::parse(status).expect("a case status"),
            concluded_at: concluded.map(t),
            sentence_release: release.map(t),
            appeal,
        }
    }

    #[test]
    fn footage_without_a_case_follows_its_classification() {
        let p = Policy::builtin().unwrap();
        let n = next_action(&facts(Classification::NonEvidential), &p);
        assert_eq!(
            (n.action, n.at, n.rule),
            (
                Action::Delete,
                Some(t("2026-02-01T10:00:00Z")),
                "non-evidential"
            )
        );
        let n = next_action(&facts(Classification::Unreviewed), &p);
        assert_eq!((n.action, n.rule), (Action::Delete, "unreviewed"));
        let n = next_action(&facts(Classification::Evidential), &p);
        assert_eq!(
            (n.action, n.at),
            (Action::Review, Some(t("2026-04-01T10:00:00Z")))
        );
    }

    #[test]
    fn cases_keep_footage_whatever_its_classification() {
        let p = Policy::builtin().unwrap();
        let mut f = facts(Classification::NonEvidential);
        f.cases.push(case("charged", None, None, false));
        assert_eq!(next_action(&f, &p).action, Action::Keep);
        // Convicted: the later of release and conviction + 6 months.
        f.cases[0] = case(
            "convicted",
            Some("2026-03-01T00:00:00Z"),
            Some("2026-05-01T00:00:00Z"),
            false,
        );
        assert_eq!(next_action(&f, &p).at, Some(t("2026-09-01T00:00:00Z")));
        f.cases[0].sentence_release = Some(t("2030-01-01T00:00:00Z"));
        let n = next_action(&f, &p);
        assert_eq!(
            (n.action, n.at, n.rule),
            (
                Action::Review,
                Some(t("2030-01-01T00:00:00Z")),
                "cpia-convicted"
            )
        );
        // An appeal keeps it, however old the conviction.
        f.cases[0].appeal = true;
        assert_eq!(next_action(&f, &p).rule, "case-active");
        // Closed after a conviction: the release date still counts.
        f.cases[0] = case(
            "closed",
            Some("2026-03-01T00:00:00Z"),
            Some("2035-01-01T00:00:00Z"),
            false,
        );
        assert_eq!(next_action(&f, &p).at, Some(t("2035-01-01T00:00:00Z")));
        // Two cases: the most protective decides.
        f.cases[0] = case("nfa", Some("2026-03-01T00:00:00Z"), None, false);
        f.cases
            .push(case("acquitted", Some("2026-06-01T00:00:00Z"), None, false));
        let n = next_action(&f, &p);
        assert_eq!(
            (n.rule, n.at),
            ("case-acquitted", Some(t("2027-06-01T00:00:00Z")))
        );
    }

    #[test]
    fn holds_win_over_everything() {
        let p = Policy::builtin().unwrap();
        let mut f = facts(Classification::NonEvidential);
        f.holds = vec![
            Some(t("2027-01-01T00:00:00Z")),
            Some(t("2026-06-01T00:00:00Z")),
        ];
        let n = next_action(&f, &p);
        assert_eq!(
            (n.action, n.at, n.rule),
            (Action::Keep, Some(t("2027-01-01T00:00:00Z")), "legal-hold")
        );
        f.holds.push(None);
        assert_eq!(next_action(&f, &p).at, None);
    }

    #[test]
    fn a_review_decision_settles_a_due_review() {
        let p = Policy::builtin().unwrap();
        let mut f = facts(Classification::Evidential);
        f.review = Some(ReviewFacts {
            decided_at: t("2026-05-01T00:00:00Z"),
            retain_until: Some(t("2032-05-01T00:00:00Z")),
        });
        let n = next_action(&f, &p);
        assert_eq!(
            (n.action, n.at, n.rule),
            (
                Action::Review,
                Some(t("2032-05-01T00:00:00Z")),
                "review-retained"
            )
        );
        f.review.as_mut().unwrap().retain_until = None;
        let n = next_action(&f, &p);
        assert_eq!(
            (n.action, n.at, n.rule),
            (
                Action::Delete,
                Some(t("2026-05-01T00:00:00Z")),
                "review-dispose"
            )
        );
        // A conviction after the decision: its CPIA period and review come first.
        f.cases
            .push(case("convicted", Some("2026-06-01T00:00:00Z"), None, false));
        assert_eq!(next_action(&f, &p).rule, "cpia-convicted");
        // Disposal decided later still waits for the CPIA minimum.
        f.review.as_mut().unwrap().decided_at = t("2026-07-01T00:00:00Z");
        let n = next_action(&f, &p);
        assert_eq!(
            (n.action, n.at),
            (Action::Delete, Some(t("2026-12-01T00:00:00Z")))
        );
        // Non-evidential footage follows its classification, whatever a reviewer said.
        let mut g = facts(Classification::NonEvidential);
        g.review = f.review.clone();
        assert_eq!(next_action(&g, &p).rule, "non-evidential");
    }

    #[test]
    fn an_implausible_clock_never_makes_footage_due_on_arrival() {
        let p = Policy::builtin().unwrap();
        let mut f = facts(Classification::Unreviewed);
        let arrived = f.arrived_at.unwrap();
        f.recorded_at = t("1990-01-01T00:00:00Z");
        let next = next_action(&f, &p);
        let window = days(p.recorded_at_window_days);
        assert_eq!(
            next.at,
            Some(arrived - window + days(p.unreviewed_delete_after_days))
        );
        assert!(next.at.unwrap() > arrived);
        assert!(!plausible_recording_time(f.recorded_at, arrived, &p));
        f.recorded_at = t("2090-01-01T00:00:00Z");
        assert_eq!(
            next_action(&f, &p).at,
            Some(arrived + days(p.unreviewed_delete_after_days))
        );
        assert!(!plausible_recording_time(f.recorded_at, arrived, &p));
        // An operator's stated time is taken as said.
        f.recorded_at = t("2020-01-01T00:00:00Z");
        f.arrived_at = None;
        assert_eq!(
            next_action(&f, &p).at,
            Some(f.recorded_at + days(p.unreviewed_delete_after_days))
        );
        let normal = facts(Classification::Unreviewed);
        assert!(plausible_recording_time(normal.recorded_at, arrived, &p));
        assert_eq!(
            next_action(&normal, &p).at,
            Some(normal.recorded_at + days(p.unreviewed_delete_after_days))
        );
    }
}
