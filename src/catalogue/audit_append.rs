//! Appending audit records inside a write transaction.
//!
//! A transaction's records are worked out as they are appended (index, item chain link, leaf
//! hash, new stored hashes, root) and written just before it commits. The log's state row is
//! read and locked once, by the first append; the stored hashes that append reads are kept, with
//! every hash the transaction makes, so later appends in the same transaction need no query but
//! the chain head of an item not yet seen. A bulk ingest's batch of a hundred files, or a
//! thousand records a transaction, then costs a few multi-row statements instead of ten
//! statements a record. Nothing reads the log's tables inside a write transaction, so holding
//! the rows until commit changes nothing anyone can see: they commit, or roll back, together
//! with the change they describe, as before.

use std::collections::{HashMap, HashSet};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;
use tlog_tiles::Hash;
use uuid::Uuid;

use super::audit_log::{
    AppendedLeaf, ItemHead, LogState, Round, absorb, attempt, hashes_pg, hashes_sqlite,
};
use super::{ROWS_PER_STATEMENT, Tx, on_tx};
use crate::audit::merkle::Prefetched;
use crate::audit::record::{EventDraft, ItemLink, Record};
use crate::error::{Code, Error, Result, ResultExt};

/// The audit records appended in one transaction and not yet written.
#[derive(Default)]
pub struct Appends {
    log: Option<Growing>,
    /// Items made in this transaction: they have no chain to read.
    new_items: HashSet<Uuid>,
}

/// The log as this transaction has grown it.
struct Growing {
    size: u64,
    root: Hash,
    /// Stored hashes read or made in this transaction: the right edge of the tree, which is all
    /// the next append needs.
    hashes: Prefetched,
    leaves: Vec<NewLeaf>,
    new_hashes: Vec<(u64, Hash)>,
    /// Chain heads of the items this transaction has looked at; `changed` marks those it moved.
    heads: HashMap<Uuid, Head>,
}

struct Head {
    head: Option<ItemHead>,
    changed: bool,
}

struct NewLeaf {
    index: u64,
    bytes: Vec<u8>,
    hash: Hash,
    item_id: Uuid,
    seq: i64,
    event: String,
    ts: DateTime<Utc>,
}

impl Tx {
    /// Appends one audit record inside this transaction, so it commits or rolls back together
    /// with the change it describes. Call it after the business writes: the first append takes
    /// the log lock, which every writer needs, and holding it briefly keeps writers flowing.
    pub async fn append_audit(&mut self, origin: &str, draft: EventDraft) -> Result<AppendedLeaf> {
        let mut log = match self.appends().log.take() {
            Some(log) => log,
            None => self.lock_log(origin).await?,
        };
        let appended = self.append_to(&mut log, origin, draft).await;
        self.appends().log = Some(log);
        appended
    }

    /// Says that `item` was made in this transaction (its row was just inserted under a new
    /// id), so it has no audit chain yet: its first append reads none.
    pub fn audit_item_is_new(&mut self, item: Uuid) {
        self.appends().new_items.insert(item);
    }

    /// Reads the log's state under its lock, for the first append of this transaction.
    async fn lock_log(&mut self, origin: &str) -> Result<Growing> {
        let state: std::result::Result<Option<LogState>, sqlx::Error> = match self {
            Tx::Sqlite(t, _) => {
                sqlx::query_as("SELECT origin, size, root FROM tlog_state WHERE log_id = 1")
                    .fetch_optional(&mut **t)
                    .await
            }
            Tx::Postgres(t, _) => {
                sqlx::query_as(
                    "SELECT origin, size, root FROM tlog_state WHERE log_id = 1 FOR UPDATE",
                )
                .fetch_optional(&mut **t)
                .await
            }
        };
        let state = state
            .context(|| "locking the audit log".into())?
            .ok_or_else(|| Error::audit("the audit log has not been initialised"))?;
        if state.origin != origin {
            return Err(Error::new(
                Code::Conflict,
                format!(
                    "catalogue log is {:?} but log.origin is {origin:?}",
                    state.origin
                ),
            ));
        }
        let root: [u8; 32] = state.root.try_into().map_err(|_| {
            Error::audit("the audit log's stored root is not 32 bytes: the log is damaged")
        })?;
        Ok(Growing {
            size: state.size as u64,
            root: Hash(root),
            hashes: Prefetched::default(),
            leaves: Vec::new(),
            new_hashes: Vec::new(),
            heads: HashMap::new(),
        })
    }

    /// Works out one record's place in the log. `log` changes only once nothing can fail, so an
    /// append that fails leaves the transaction's other records as they were.
    async fn append_to(
        &mut self,
        log: &mut Growing,
        origin: &str,
        draft: EventDraft,
    ) -> Result<AppendedLeaf> {
        let now = crate::domain::now();
        let head = match log.heads.get(&draft.item_id) {
            Some(known) => known.head.clone(),
            None if self.appends().new_items.contains(&draft.item_id) => None,
            None => {
                let head: Option<ItemHead> = on_tx!(self, c => {
                    sqlx::query_as(
                        "SELECT item_id, kind, event_count, last_index, last_hash \
                         FROM audit_items WHERE item_id = $1",
                    )
                    .bind(draft.item_id)
                    .fetch_optional(c)
                    .await
                })
                .context(|| format!("reading audit chain of item {}", draft.item_id))?;
                log.heads.insert(
                    draft.item_id,
                    Head {
                        head: head.clone(),
                        changed: false,
                    },
                );
                head
            }
        };

        let n = log.size;
        let item = ItemLink {
            id: draft.item_id,
            kind: draft.item_kind.clone(),
            seq: head.as_ref().map_or(1, |h| h.event_count as u64 + 1),
            prev: head.as_ref().map(|h| B64.encode(&h.last_hash)),
            prev_index: head.as_ref().map(|h| h.last_index as u64),
        };
        let item_kind = draft.item_kind.clone();
        let record = Record::build(origin, draft, item, now);
        let bytes = record.canonical_bytes()?;
        let leaf_hash = tlog_tiles::record_hash(&bytes);

        let stored = self
            .with_hashes(&mut log.hashes, |r| {
                tlog_tiles::stored_hashes_for_record_hash(n, leaf_hash, r)
            })
            .await?;
        let first_sidx = tlog_tiles::stored_hash_index(0, n);
        let made: Vec<(u64, Hash)> = stored
            .into_iter()
            .enumerate()
            .map(|(i, h)| (first_sidx + i as u64, h))
            .collect();
        log.hashes.hashes.extend(made.iter().copied());
        let root = self
            .with_hashes(&mut log.hashes, |r| tlog_tiles::tree_hash(n + 1, r))
            .await?;

        let item_id = record.item.id;
        let seq = record.item.seq as i64;
        log.new_hashes.extend(made);
        log.leaves.push(NewLeaf {
            index: n,
            bytes,
            hash: leaf_hash,
            item_id,
            seq,
            event: record.event.clone(),
            ts: now,
        });
        log.heads.insert(
            item_id,
            Head {
                head: Some(ItemHead {
                    item_id,
                    kind: head.map_or(item_kind, |h| h.kind),
                    event_count: seq,
                    last_index: n as i64,
                    last_hash: leaf_hash.0.to_vec(),
                }),
                changed: true,
            },
        );
        log.size = n + 1;
        log.root = root;
        Ok(AppendedLeaf {
            index: n,
            leaf_hash: leaf_hash.0,
            record,
        })
    }

    /// Runs a `tlog_tiles` computation over `reader`, reading the stored hashes it lacks.
    async fn with_hashes<T>(
        &mut self,
        reader: &mut Prefetched,
        compute: impl Fn(&Prefetched) -> std::result::Result<T, tlog_tiles::Error>,
    ) -> Result<T> {
        loop {
            match attempt(reader, &compute)? {
                Round::Done(value) => return Ok(value),
                Round::Need(missing) => {
                    let found = match self {
                        Tx::Sqlite(t, _) => hashes_sqlite(t, &missing).await?,
                        Tx::Postgres(t, _) => hashes_pg(t, &missing).await?,
                    };
                    absorb(reader, &missing, found)?;
                }
            }
        }
    }

    /// Writes the records this transaction appended; `commit` calls it first.
    pub(super) async fn write_appends(&mut self) -> Result<()> {
        let Some(log) = self.appends().log.take() else {
            return Ok(());
        };
        if log.leaves.is_empty() {
            return Ok(());
        }
        let (first, last) = (log.leaves[0].index, log.size - 1);
        let heads: Vec<ItemHead> = log
            .heads
            .into_values()
            .filter(|h| h.changed)
            .filter_map(|h| h.head)
            .collect();
        on_tx!(self, c => async {
            for rows in log.leaves.chunks(ROWS_PER_STATEMENT) {
                QueryBuilder::new(
                    "INSERT INTO tlog_leaf (idx, leaf, leaf_hash, item_id, item_seq, event, ts) ",
                )
                .push_values(rows, |mut b, l| {
                    b.push_bind(l.index as i64)
                        .push_bind(&l.bytes)
                        .push_bind(l.hash.0.to_vec())
                        .push_bind(l.item_id)
                        .push_bind(l.seq)
                        .push_bind(&l.event)
                        .push_bind(l.ts);
                })
                .build()
                .execute(&mut *c)
                .await?;
            }
            for rows in log.new_hashes.chunks(ROWS_PER_STATEMENT) {
                QueryBuilder::new("INSERT INTO tlog_hash (sidx, hash) ")
                    .push_values(rows, |mut b, (sidx, h)| {
                        b.push_bind(*sidx as i64).push_bind(h.0.to_vec());
                    })
                    .build()
                    .execute(&mut *c)
                    .await?;
            }
            sqlx::query("UPDATE tlog_state SET size = $1, root = $2 WHERE log_id = 1")
                .bind(log.size as i64)
                .bind(log.root.0.to_vec())
                .execute(&mut *c)
                .await?;
            for rows in heads.chunks(ROWS_PER_STATEMENT) {
                QueryBuilder::new(
                    "INSERT INTO audit_items (item_id, kind, event_count, last_index, last_hash) ",
                )
                .push_values(rows, |mut b, h| {
                    b.push_bind(h.item_id)
                        .push_bind(&h.kind)
                        .push_bind(h.event_count)
                        .push_bind(h.last_index)
                        .push_bind(&h.last_hash);
                })
                .push(
                    " ON CONFLICT (item_id) DO UPDATE SET event_count = excluded.event_count, \
                     last_index = excluded.last_index, last_hash = excluded.last_hash",
                )
                .build()
                .execute(&mut *c)
                .await?;
            }
            Ok::<_, sqlx::Error>(())
        }
        .await)
        .context(|| format!("writing audit records {first} to {last}"))
    }
}
