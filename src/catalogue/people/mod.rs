//! People who sign in, as the identity provider names them, with the officer record and team
//! that decide whose footage they reach.
//!
//! Browser sessions: `sessions`. API tokens: `tokens`.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use crate::catalogue::{Catalogue, Tx, on_pool, on_tx};
use crate::domain::Roles;
use crate::error::{Result, ResultExt};

pub(super) mod sessions;
pub(super) mod tokens;

#[derive(Debug, Clone, FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct PersonRow {
    pub id: Uuid,
    pub issuer: String,
    pub subject: String,
    pub name: Option<String>,
    /// What the identity provider gave at the last sign-in.
    pub roles: Roles,
    pub officer_id: Option<String>,
    pub team: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_sign_in: Option<DateTime<Utc>>,
}

/// What a sign-in tells about a person. A staff number or team the provider does not send
/// leaves what an administrator set.
pub struct SignedIn<'a> {
    pub issuer: &'a str,
    pub subject: &'a str,
    pub name: Option<&'a str>,
    pub roles: &'a Roles,
    pub officer_id: Option<&'a str>,
    pub team: Option<&'a str>,
}

const PERSON_COLUMNS: &str =
    "id, issuer, subject, name, roles, officer_id, team, created_at, last_sign_in";

impl Tx {
    /// Records a sign-in: the person is created on first sight, and their name and roles follow
    /// the identity provider from then on.
    pub async fn sign_in_person(&mut self, s: &SignedIn<'_>) -> Result<PersonRow> {
        let now = crate::domain::now();
        on_tx!(self, c => {
            sqlx::query_as(&format!(
                "INSERT INTO people (id, issuer, subject, name, roles, officer_id, team, created_at, last_sign_in) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
                 ON CONFLICT (issuer, subject) DO UPDATE SET name = excluded.name, \
                 roles = excluded.roles, last_sign_in = excluded.last_sign_in, \
                 officer_id = COALESCE(excluded.officer_id, people.officer_id), \
                 team = COALESCE(excluded.team, people.team) \
                 RETURNING {PERSON_COLUMNS}"
            ))
            .bind(Uuid::now_v7())
            .bind(s.issuer)
            .bind(s.subject)
            .bind(s.name)
            .bind(s.roles)
            .bind(s.officer_id)
            .bind(s.team)
            .bind(now)
            .fetch_one(c)
            .await
        })
        .context(|| format!("recording the sign-in of {} from {}", s.subject, s.issuer))
    }

    /// Links a person to their officer record and team (an administrator's act).
    pub async fn set_person_link(
        &mut self,
        id: Uuid,
        officer_id: Option<&str>,
        team: Option<&str>,
    ) -> Result<bool> {
        let changed = on_tx!(self, c => {
            sqlx::query("UPDATE people SET officer_id = $1, team = $2 WHERE id = $3")
                .bind(officer_id)
                .bind(team)
                .bind(id)
                .execute(c)
                .await
                .map(|r| r.rows_affected())
        })
        .context(|| format!("linking person {id} to officer {officer_id:?}"))?;
        Ok(changed == 1)
    }

    /// Puts an officer in a team (an administrator's act); false when there is no such officer.
    pub async fn set_officer_team(&mut self, officer: &str, team: Option<&str>) -> Result<bool> {
        let changed = on_tx!(self, c => {
            sqlx::query("UPDATE officers SET team = $1 WHERE id = $2")
                .bind(team)
                .bind(officer)
                .execute(c)
                .await
                .map(|r| r.rows_affected())
        })
        .context(|| format!("setting the team of officer {officer}"))?;
        Ok(changed == 1)
    }
}

impl Catalogue {
    pub async fn person(&self, id: Uuid) -> Result<Option<PersonRow>> {
        on_pool!(self, p => {
            sqlx::query_as(&format!("SELECT {PERSON_COLUMNS} FROM people WHERE id = $1"))
                .bind(id)
                .fetch_optional(p)
                .await
        })
        .context(|| format!("looking up person {id}"))
    }

    pub async fn people(&self) -> Result<Vec<PersonRow>> {
        on_pool!(self, p => {
            sqlx::query_as(&format!("SELECT {PERSON_COLUMNS} FROM people ORDER BY name, subject"))
                .fetch_all(p)
                .await
        })
        .context(|| "listing people".into())
    }
}
