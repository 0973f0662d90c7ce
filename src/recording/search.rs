//! Finding recordings, as far as the asker's role reaches: an officer their own footage, a
//! supervisor their team's, the rest of the force's roles everyone's. Pages end with a cursor
//! (the last recording's time and id), so footage arriving meanwhile neither repeats nor skips
//! a result.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::access::{Permission, Principal, Reach};
use crate::catalogue::{After, RecordingFilter, Scope};
use crate::context::Context;
use crate::domain::Recording;
use crate::error::{Error, Result};

/// The most results one page holds.
pub const MAX_PAGE: u32 = 500;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page {
    pub recordings: Vec<Recording>,
    /// Present when there may be more: pass it back as `after` for the next page.
    pub next: Option<String>,
}

pub async fn search(
    ctx: &Context<'_>,
    who: &Principal,
    filter: &RecordingFilter,
    after: Option<&str>,
    limit: u32,
) -> Result<Page> {
    let Some(scope) = scope(who, Permission::SearchRecordings)? else {
        return Ok(Page {
            recordings: Vec::new(),
            next: None,
        });
    };
    let limit = limit.clamp(1, MAX_PAGE);
    let after = after.map(decode).transpose()?;
    let recordings = ctx
        .catalogue
        .search_recordings(filter, &scope, after, limit)
        .await?;
    let next = match recordings.last() {
        Some(r) if recordings.len() == limit as usize => Some(encode((r.recorded_at, r.id))),
        _ => None,
    };
    Ok(Page { recordings, next })
}

/// How close to its deletion date non-evidential footage comes back to a supervisor: the last
/// chance to say it is evidence after all.
pub const NEARING_DELETION_DAYS: i64 = 7;

/// Footage in the asker's reach that waits for a classification: never reviewed, or
/// non-evidential and due for deletion within [`NEARING_DELETION_DAYS`]; oldest first.
pub async fn review_queue(
    ctx: &Context<'_>,
    who: &Principal,
    limit: u32,
) -> Result<Vec<Recording>> {
    let Some(scope) = scope(who, Permission::Classify)? else {
        return Ok(Vec::new());
    };
    let horizon = crate::domain::now() + chrono::Duration::days(NEARING_DELETION_DAYS);
    ctx.catalogue
        .review_queue(&scope, horizon, limit.clamp(1, MAX_PAGE))
        .await
}

/// Whose footage `permission` reaches for `who`; None when it is their own and they have no
/// officer record (there is none of theirs to find).
fn scope(who: &Principal, permission: Permission) -> Result<Option<Scope>> {
    Ok(match who.require(permission)? {
        Reach::All => Some(Scope::All),
        Reach::Team => Some(Scope::Team {
            team: who.team.clone(),
            officer: who.officer.clone(),
        }),
        Reach::Own => who.officer.clone().map(Scope::Officer),
    })
}

fn encode((at, id): After) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}/{id}", at.to_rfc3339()))
}

fn decode(cursor: &str) -> Result<After> {
    let bad = || Error::bad_input(format!("cursor {cursor:?} is not one this server gave"));
    let text = URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(bad)?;
    let (at, id) = text.split_once('/').ok_or_else(bad)?;
    let at = DateTime::parse_from_rfc3339(at).map_err(|_| bad())?;
    let id = Uuid::parse_str(id).map_err(|_| bad())?;
    Ok((at.with_timezone(&Utc), id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_forgeries() {
        let at = crate::domain::now();
        let id = Uuid::now_v7();
        assert_eq!(decode(&encode((at, id))).unwrap(), (at, id));
        assert!(decode("not a cursor").is_err());
        assert!(decode(&URL_SAFE_NO_PAD.encode("2024-01-01T00:00:00Z/x")).is_err());
    }
}
