//! Property test of the retention rules over random histories: classifications, case links,
//! outcomes and appeals, holds placed and released, review decisions (made only when one is due,
//! as `bwv retention review` insists) and forward clock jumps. At every moment, a recording the
//! law protects is never due for deletion, and an expired one nothing protects always is.
//!
//! "Protected" and "expired" are written here from the rules' legal sources, not from
//! `next_action`, which is what a sweep acts on (it recomputes that answer under the recording's
//! lock before every soft-delete and purge).

use bwv::domain::Classification;
use bwv::retention::Policy;
use bwv::retention::rules::{Action, CaseFacts, Facts, ReviewFacts, next_action};
use chrono::{DateTime, Duration, Months, Utc};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Event {
    Classify(u8),
    Link(usize),
    Outcome(usize, u8, Option<u32>),
    Appeal(usize, bool),
    Hold(Option<u32>),
    Release(usize),
    Review(Option<u32>),
    Jump(u32),
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (0u8..3).prop_map(Event::Classify),
        (0usize..3).prop_map(Event::Link),
        (0usize..3, 0u8..6, proptest::option::of(0u32..3000))
            .prop_map(|(c, s, r)| Event::Outcome(c, s, r)),
        (0usize..3, any::<bool>()).prop_map(|(c, a)| Event::Appeal(c, a)),
        proptest::option::of(1u32..800).prop_map(Event::Hold),
        (0usize..4).prop_map(Event::Release),
        proptest::option::of(1u32..4000).prop_map(Event::Review),
        // Mostly small steps, sometimes years.
        prop_oneof![3 => 0u32..40, 1 => 0u32..1500].prop_map(Event::Jump),
    ]
}

#[derive(Debug, Clone)]
struct Case {
    linked: bool,
    status: &'static str,
    concluded_at: Option<DateTime<Utc>>,
    release: Option<DateTime<Utc>>,
    appeal: bool,
}

#[derive(Debug, Clone)]
struct Hold {
    until: Option<DateTime<Utc>>,
    released: bool,
}

struct World {
    recorded_at: DateTime<Utc>,
    now: DateTime<Utc>,
    classification: Classification,
    cases: Vec<Case>,
    holds: Vec<Hold>,
    review: Option<ReviewFacts>,
}

const STATUSES: [&str; 6] = ["open", "charged", "nfa", "acquitted", "convicted", "closed"];

impl World {
    fn linked(&self) -> impl Iterator<Item = &Case> {
        self.cases.iter().filter(|c| c.linked)
    }

    fn holds_in_force(&self) -> Vec<Option<DateTime<Utc>>> {
        self.holds
            .iter()
            .filter(|h| !h.released && h.until.is_none_or(|u| u > self.now))
            .map(|h| h.until)
            .collect()
    }

    fn facts(&self) -> Facts {
        Facts {
            recorded_at: self.recorded_at,
            arrived_at: Some(self.recorded_at),
            classification: self.classification,
            holds: self.holds_in_force(),
            cases: self
                .linked()
                .map(|c| CaseFacts {
                    status: bwv::domain::CaseStatus::parse(c.status).expect("a case status"),
                    concluded_at: c.concluded_at,
                    sentence_release: c.release,
                    appeal: c.appeal,
                })
                .collect(),
            review: self.review.clone(),
        }
    }

    fn deleted(&self, p: &Policy) -> bool {
        let n = next_action(&self.facts(), p);
        n.action == Action::Delete && n.at.is_some_and(|t| t <= self.now)
    }

    /// A reviewer's disposal that no later case outcome overtook.
    fn disposal_stands(&self) -> bool {
        self.review.as_ref().is_some_and(|r| {
            r.retain_until.is_none()
                && self
                    .linked()
                    .all(|c| c.concluded_at.is_none_or(|t| t <= r.decided_at))
        })
    }

    /// CPIA: after a conviction, kept until the later of release and conviction + N months.
    fn within_cpia(&self, p: &Policy) -> bool {
        self.linked().any(|c| {
            let convicted =
                c.status == "convicted" || (c.status == "closed" && c.release.is_some());
            match (convicted, c.concluded_at) {
                (true, Some(at)) => {
                    let minimum = at
                        .checked_add_months(Months::new(p.convicted_keep_months))
                        .unwrap_or(at);
                    self.now < c.release.map_or(minimum, |r| r.max(minimum))
                }
                _ => false,
            }
        })
    }

    fn protected(&self, p: &Policy) -> bool {
        !self.holds_in_force().is_empty()
            || self
                .linked()
                .any(|c| matches!(c.status, "open" | "charged") || c.appeal)
            || self.within_cpia(p)
            // Relevant material and evidence go only on a reviewer's decision.
            || (self.linked().next().is_some() && !self.disposal_stands())
            || (self.classification == Classification::Evidential && !self.disposal_stands())
    }

    fn expired(&self, p: &Policy) -> bool {
        if !self.holds_in_force().is_empty() {
            return false;
        }
        let period = match self.classification {
            Classification::NonEvidential => Some(p.non_evidential_delete_after_days),
            Classification::Unreviewed => Some(p.unreviewed_delete_after_days),
            Classification::Evidential => None,
        };
        let by_classification = self.linked().next().is_none()
            && period.is_some_and(|d| self.now >= self.recorded_at + Duration::days(i64::from(d)));
        let by_review = self.disposal_stands()
            && self
                .review
                .as_ref()
                .is_some_and(|r| self.now >= r.decided_at)
            && !self
                .linked()
                .any(|c| matches!(c.status, "open" | "charged") || c.appeal)
            && !self.within_cpia(p);
        by_classification || by_review
    }

    fn apply(&mut self, e: &Event, p: &Policy) {
        match *e {
            Event::Classify(c) => {
                self.classification = [
                    Classification::Unreviewed,
                    Classification::Evidential,
                    Classification::NonEvidential,
                ][c as usize]
            }
            Event::Link(c) => self.cases[c].linked = true,
            Event::Outcome(c, s, release) => {
                let now = self.now;
                let case = &mut self.cases[c];
                case.status = STATUSES[s as usize];
                // As the catalogue does: the first outcome dates the case, moving between
                // outcomes keeps that date, and going back to open or charged clears it.
                if s < 2 {
                    case.concluded_at = None;
                } else if case.concluded_at.is_none() {
                    case.concluded_at = Some(now);
                }
                if case.status == "convicted" {
                    case.release = release.map(|d| now + Duration::days(i64::from(d)));
                }
            }
            Event::Appeal(c, on) => self.cases[c].appeal = on,
            Event::Hold(until) => self.holds.push(Hold {
                until: until.map(|d| self.now + Duration::days(i64::from(d))),
                released: false,
            }),
            Event::Release(h) => {
                if let Some(h) = self.holds.get_mut(h) {
                    h.released = true;
                }
            }
            Event::Review(retain) => {
                let n = next_action(&self.facts(), p);
                if n.action == Action::Review && n.at.is_some_and(|t| t <= self.now) {
                    self.review = Some(ReviewFacts {
                        decided_at: self.now,
                        retain_until: retain.map(|d| self.now + Duration::days(i64::from(d))),
                    });
                }
            }
            Event::Jump(days) => self.now += Duration::days(i64::from(days)),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10000))]

    #[test]
    fn protected_footage_is_never_deleted_and_expired_footage_always_is(
        start in 0u32..10,
        events in proptest::collection::vec(event(), 1..60),
    ) {
        let p = Policy::builtin().unwrap();
        let recorded_at = DateTime::parse_from_rfc3339("2026-01-01T10:00:00Z").unwrap().with_timezone(&Utc);
        let case = Case { linked: false, status: "open", concluded_at: None, release: None, appeal: false };
        let mut w = World {
            recorded_at,
            now: recorded_at + Duration::days(i64::from(start)),
            classification: Classification::Unreviewed,
            cases: vec![case; 3],
            holds: Vec::new(),
            review: None,
        };
        for (step, e) in events.iter().enumerate() {
            w.apply(e, &p);
            let deleted = w.deleted(&p);
            prop_assert!(
                !(deleted && w.protected(&p)),
                "step {step} ({e:?}): protected footage due for deletion: {:?}", next_action(&w.facts(), &p)
            );
            prop_assert!(
                deleted || !w.expired(&p),
                "step {step} ({e:?}): expired footage not due for deletion: {:?}", next_action(&w.facts(), &p)
            );
            if deleted {
                break; // gone: nothing more can happen to it
            }
        }
    }
}
