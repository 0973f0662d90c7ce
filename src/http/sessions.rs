//! Browser sessions kept in the catalogue (either backend), for `tower-sessions`: this only
//! adapts its types to `access::sessions`. A session ends after `identity.session_idle_mins`
//! without use (the cookie's and the row's expiry, renewed as the person works) and
//! `identity.session_max_hours` after it began, however busy.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{Error as StoreError, Result as StoreResult};
use tower_sessions::{SessionStore, cookie::time::OffsetDateTime};
use uuid::Uuid;

use crate::access::sessions;
use crate::catalogue::Catalogue;

/// Where the signed-in person's id is kept in a session.
pub const PERSON: &str = "person";

#[derive(Debug, Clone)]
pub struct CatalogueSessions {
    catalogue: Catalogue,
    max_age: Duration,
}

impl CatalogueSessions {
    pub fn new(catalogue: Catalogue, max_age: Duration) -> CatalogueSessions {
        CatalogueSessions { catalogue, max_age }
    }
}

fn backend(e: crate::error::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn expiry(r: &Record) -> DateTime<Utc> {
    DateTime::from_timestamp(r.expiry_date.unix_timestamp(), 0).unwrap_or_else(Utc::now)
}

fn person(r: &Record) -> Option<Uuid> {
    r.data
        .get(PERSON)
        .and_then(|v| serde_json::from_value(v.clone()).ok())
}

fn data(r: &Record) -> StoreResult<String> {
    serde_json::to_string(&r.data).map_err(|e| StoreError::Encode(e.to_string()))
}

#[async_trait::async_trait]
impl SessionStore for CatalogueSessions {
    async fn create(&self, r: &mut Record) -> StoreResult<()> {
        while !sessions::create(
            &self.catalogue,
            &r.id.to_string(),
            person(r),
            &data(r)?,
            expiry(r),
        )
        .await
        .map_err(backend)?
        {
            r.id = Id::default();
        }
        Ok(())
    }

    async fn save(&self, r: &Record) -> StoreResult<()> {
        sessions::save(
            &self.catalogue,
            &r.id.to_string(),
            person(r),
            &data(r)?,
            expiry(r),
        )
        .await
        .map_err(backend)
    }

    async fn load(&self, id: &Id) -> StoreResult<Option<Record>> {
        let Some(row) = sessions::load(&self.catalogue, &id.to_string(), self.max_age)
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        let data: HashMap<String, serde_json::Value> =
            serde_json::from_str(&row.data).map_err(|e| StoreError::Decode(e.to_string()))?;
        let expiry_date = OffsetDateTime::from_unix_timestamp(row.expires_at.timestamp())
            .map_err(|e| StoreError::Decode(e.to_string()))?;
        Ok(Some(Record {
            id: *id,
            data,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> StoreResult<()> {
        sessions::delete(&self.catalogue, &id.to_string())
            .await
            .map_err(backend)
    }
}
