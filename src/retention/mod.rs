//! Retention: the policy, the rules that turn a recording's facts into its next action, and
//! keeping that answer current. Every change that can move a recording's fate (arrival,
//! classification, a case link or outcome, a hold) recomputes it in the same transaction.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::catalogue::Tx;
use crate::domain::{Classification, TimeSource};
use crate::error::Result;

pub mod plan;
pub mod policy;
pub mod review;
pub mod rules;
pub mod sweep;

pub use policy::Policy;
pub use rules::{Action, NextAction, next_action, plausible_recording_time};

/// Whether a recording time came from a machine's clock (a camera, a dock, a file's time),
/// which may be wrong, rather than from an operator who stated it.
pub fn machine_clock(recorded_at_source: TimeSource) -> bool {
    recorded_at_source != TimeSource::Operator
}

/// The flag on footage whose recording time is not believable (see
/// [`rules::plausible_recording_time`]): its periods count from near its arrival instead.
pub const IMPLAUSIBLE_TIME: &str = "implausible-recorded-at";

/// What the policy now says about a recording, for the audit record of the change that moved
/// it: every record that applies the policy names it by its hash.
#[derive(Debug, Clone, Serialize)]
pub struct Audited<'a> {
    pub next_action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    pub rule: &'static str,
    pub policy_sha256: &'a str,
}

/// The same answer, flattened into a record that says it beside its own facts (a review, a
/// restore), under the keys those records have always used.
#[derive(Debug, Clone, Serialize)]
pub struct AuditedInline<'a> {
    pub next_action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_action_at: Option<String>,
    pub rule: &'static str,
    pub policy_sha256: &'a str,
}

impl<'a> From<Audited<'a>> for AuditedInline<'a> {
    fn from(a: Audited<'a>) -> Self {
        AuditedInline {
            next_action: a.next_action,
            next_action_at: a.at,
            rule: a.rule,
            policy_sha256: a.policy_sha256,
        }
    }
}

pub fn audited<'a>(next: &NextAction, policy: &'a Policy) -> Audited<'a> {
    Audited {
        next_action: next.action,
        at: next.at.map(crate::audit::record::format_ts),
        rule: next.rule,
        policy_sha256: &policy.sha256,
    }
}

/// Recomputes and stores a recording's next action from what the transaction sees.
///
/// The recording row is locked first (on PostgreSQL; SQLite writers are serial), so two changes
/// racing on one recording cannot store an answer computed from facts the other has changed.
pub async fn recompute(tx: &mut Tx, policy: &Policy, recording: Uuid) -> Result<NextAction> {
    tx.lock_recording(recording).await?;
    let (recorded_at, given_by, arrived_at, classification) =
        tx.retention_basics(recording).await?;
    let facts = rules::Facts {
        holds: tx.hold_lapses(recording).await?,
        cases: tx
            .case_outcomes(recording)
            .await?
            .into_iter()
            .map(
                |(status, concluded_at, sentence_release, appeal)| rules::CaseFacts {
                    status,
                    concluded_at,
                    sentence_release,
                    appeal,
                },
            )
            .collect(),
        review: tx
            .latest_review(recording)
            .await?
            .map(|(decided_at, retain_until)| rules::ReviewFacts {
                decided_at,
                retain_until,
            }),
        ..own_facts(recorded_at, given_by, arrived_at, classification)
    };
    let next = next_action(&facts, policy);
    tx.set_next_action(recording, next.action, next.at, next.rule, &policy.sha256)
        .await?;
    Ok(next)
}

/// The answer for a recording that the caller's transaction is creating, to be written with
/// it. Nothing can hold it, exhibit it in a case or review it before it exists, so its own
/// facts are all there is and nothing needs reading back.
pub fn answer_for_new(
    policy: &Policy,
    recorded_at: DateTime<Utc>,
    given_by: TimeSource,
    arrived_at: DateTime<Utc>,
    classification: Classification,
) -> NextAction {
    next_action(
        &own_facts(recorded_at, given_by, arrived_at, classification),
        policy,
    )
}

/// A recording's facts about itself, with nothing else bearing on it.
fn own_facts(
    recorded_at: DateTime<Utc>,
    given_by: TimeSource,
    arrived_at: DateTime<Utc>,
    classification: Classification,
) -> rules::Facts {
    rules::Facts {
        recorded_at,
        arrived_at: machine_clock(given_by).then_some(arrived_at),
        classification,
        holds: Vec::new(),
        cases: Vec::new(),
        review: None,
    }
}
