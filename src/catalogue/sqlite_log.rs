//! The whole audit log read from SQLite for a verifier, on a read-only connection of its own.
//!
//! sqlx runs each SQLite connection on a worker thread and hands every row over to the caller's
//! thread on its own, with a wake-up each time. A verifier reads every leaf, every stored tree
//! hash and every chain head row of the log: a million records take 2.4 million such handoffs,
//! which cost more than checking the records. Joining a batch into one value in SQL instead
//! (the way this was done before) cost SQLite three times a plain read of the same rows. Here
//! one blocking thread steps the three statements side by side and copies each value once,
//! straight from SQLite's page; the same one read transaction also makes the whole check see one
//! snapshot of the log.
//!
//! SQLite keeps any type in any column. A value of a type bwv never writes there (a text `'1x'`
//! item sequence) is refused, naming its column, rather than converted: it must not pass for
//! the number it resembles.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use rusqlite::types::{FromSqlResult, ValueRef};
use rusqlite::{Connection, OpenFlags, Row, Rows, TransactionBehavior};
use uuid::Uuid;

use super::audit_log::{
    Filling, ItemHead, LeafRow, STRAY_HASH, ScanRest, ScannedLeaf, leaf_columns,
};
use crate::error::{Code, Error, Result};

/// As long as the catalogue's own connections wait for a writer.
const BUSY: Duration = Duration::from_secs(30);

/// `Catalogue::scan_log` on SQLite: the same leaves in the same batches, each with its stored
/// hashes and the head rows it closes. Blocking: run it on a thread of its own.
pub(super) fn scan(
    path: &Path,
    size: u64,
    mut filling: Filling,
    out: &tokio::sync::mpsc::Sender<Vec<ScannedLeaf>>,
) -> Result<ScanRest> {
    let sql_err = |e: rusqlite::Error| {
        Error::with_source(
            Code::Catalogue,
            format!("reading the audit log in {}", path.display()),
            e,
        )
    };
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(sql_err)?;
    conn.busy_timeout(BUSY).map_err(sql_err)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Deferred)
        .map_err(sql_err)?;
    let mut heads = tx
        .prepare(
            "SELECT item_id, kind, event_count, last_index, last_hash FROM audit_items \
             ORDER BY last_index, item_id",
        )
        .map_err(sql_err)?;
    let mut heads = Ahead::new(heads.query([]).map_err(sql_err)?, head, "chain heads")?;
    let mut leaves = tx
        .prepare(&format!(
            "SELECT {} FROM tlog_leaf WHERE idx < ?1 ORDER BY idx",
            leaf_columns()
        ))
        .map_err(sql_err)?;
    let mut leaves = leaves.query([size as i64]).map_err(sql_err)?;
    let mut hashes = tx
        .prepare("SELECT sidx, hash FROM tlog_hash WHERE sidx >= 0 AND sidx < ?1 ORDER BY sidx")
        .map_err(sql_err)?;
    let mut hashes = Ahead::new(
        hashes
            .query([tlog_tiles::stored_hash_index(0, size) as i64])
            .map_err(sql_err)?,
        tree_hash,
        "stored tree hashes",
    )?;

    let mut seen = 0u64;
    while let Some(row) = leaves.next().map_err(|e| step_error("leaves", e))? {
        let slot = filling.slot();
        fill_leaf(row, &mut slot.row)?;
        let position = seen;
        seen += 1;
        while let Some(head) = heads.next_if(|h| h.last_index <= position as i64)? {
            slot.closing.push(head);
        }
        let slot_end = tlog_tiles::stored_hash_index(0, position + 1);
        while let Some(hash) = hashes.next_if(|(sidx, _)| *sidx < slot_end)? {
            slot.stored.push(hash);
        }
        if filling.is_full() && out.blocking_send(filling.take()).is_err() {
            return Ok(ScanRest::default());
        }
    }
    if !filling.is_empty() && out.blocking_send(filling.take()).is_err() {
        return Ok(ScanRest::default());
    }
    let mut later_heads = Vec::new();
    while let Some(head) = heads.next_if(|_| true)? {
        later_heads.push(head);
    }
    // Hashes appended since `size` was read are beyond this check, not strays.
    let stray_hash = tx
        .query_row(
            STRAY_HASH,
            [
                tlog_tiles::stored_hash_index(0, seen) as i64,
                tlog_tiles::stored_hash_index(0, size) as i64,
            ],
            |row| row.get(0),
        )
        .map_err(sql_err)?;
    Ok(ScanRest {
        stray_hash,
        later_heads,
    })
}

/// A statement's rows decoded one ahead of where the scan has come, so each can be taken only
/// once it belongs to the leaf at hand.
struct Ahead<'s, T> {
    rows: Rows<'s>,
    next: Option<T>,
    decode: fn(&Row<'_>) -> Result<T>,
    what: &'static str,
}

impl<'s, T> Ahead<'s, T> {
    fn new(rows: Rows<'s>, decode: fn(&Row<'_>) -> Result<T>, what: &'static str) -> Result<Self> {
        let mut ahead = Ahead {
            rows,
            next: None,
            decode,
            what,
        };
        ahead.advance()?;
        Ok(ahead)
    }

    fn advance(&mut self) -> Result<()> {
        self.next = match self.rows.next().map_err(|e| step_error(self.what, e))? {
            Some(row) => Some((self.decode)(row)?),
            None => None,
        };
        Ok(())
    }

    fn next_if(&mut self, wanted: impl Fn(&T) -> bool) -> Result<Option<T>> {
        if !self.next.as_ref().is_some_and(wanted) {
            return Ok(None);
        }
        let taken = self.next.take();
        self.advance()?;
        Ok(taken)
    }
}

/// A stored tree hash. A value that is not 32 bytes of blob is no hash (the verifier reports its
/// slot as altered).
fn tree_hash(row: &Row<'_>) -> Result<(u64, Option<[u8; 32]>)> {
    let sidx = typed(row, 0, ValueRef::as_i64).map_err(|e| damaged("a tree hash", e))?;
    let hash = row
        .get_ref(1)
        .map_err(|e| step_error("stored tree hashes", e))?
        .as_blob()
        .ok()
        .and_then(|h| h.try_into().ok());
    Ok((sidx as u64, hash))
}

/// Writes a leaf's row into `into`, keeping its buffers.
fn fill_leaf(row: &Row<'_>, into: &mut LeafRow) -> Result<()> {
    let idx = typed(row, 0, ValueRef::as_i64).map_err(|e| damaged("a leaf", e))?;
    let mut columns = || -> std::result::Result<(), String> {
        into.idx = idx;
        into.leaf.clear();
        into.leaf
            .extend_from_slice(typed(row, 1, ValueRef::as_blob)?);
        into.leaf_hash.clear();
        into.leaf_hash
            .extend_from_slice(typed(row, 2, ValueRef::as_blob)?);
        into.item_id = uuid(row, 3)?;
        into.item_seq = typed(row, 4, ValueRef::as_i64)?;
        into.event.clear();
        into.event.push_str(typed(row, 5, ValueRef::as_str)?);
        into.ts = time(row, 6)?;
        Ok(())
    };
    columns().map_err(|e| damaged(&format!("the leaf at index {idx}"), e))
}

fn head(row: &Row<'_>) -> Result<ItemHead> {
    let columns = || -> std::result::Result<ItemHead, String> {
        Ok(ItemHead {
            item_id: uuid(row, 0)?,
            kind: typed(row, 1, ValueRef::as_str)?.to_owned(),
            event_count: typed(row, 2, ValueRef::as_i64)?,
            last_index: typed(row, 3, ValueRef::as_i64)?,
            last_hash: typed(row, 4, ValueRef::as_blob)?.to_vec(),
        })
    };
    columns().map_err(|e| damaged("a chain head row", e))
}

/// A column's value, only if it has the type bwv writes there.
fn typed<'r, T>(
    row: &'r Row<'_>,
    i: usize,
    convert: fn(&ValueRef<'r>) -> FromSqlResult<T>,
) -> std::result::Result<T, String> {
    let value = row.get_ref(i).map_err(|e| e.to_string())?;
    convert(&value).map_err(|_| {
        format!(
            "column {} holds {} where bwv writes another type",
            row.as_ref().column_name(i).unwrap_or("?"),
            value.data_type()
        )
    })
}

fn uuid(row: &Row<'_>, i: usize) -> std::result::Result<Uuid, String> {
    Uuid::from_slice(typed(row, i, ValueRef::as_blob)?).map_err(|e| {
        let name = row.as_ref().column_name(i).unwrap_or("?");
        format!("column {name} is not a UUID: {e}")
    })
}

/// The time as stored (RFC 3339), or in SQLite's own `YYYY-MM-DD HH:MM:SS` form, read as UTC as
/// sqlx reads it: an edit to that form is then reported as a record that disagrees with its
/// columns, not as an unreadable log.
fn time(row: &Row<'_>, i: usize) -> std::result::Result<DateTime<Utc>, String> {
    let text = typed(row, i, ValueRef::as_str)?;
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.to_utc())
        .or_else(|_| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").map(|t| t.and_utc())
        })
        .map_err(|_| {
            let name = row.as_ref().column_name(i).unwrap_or("?");
            format!("column {name} holds {text:?}, which is not a time")
        })
}

fn damaged(what: &str, why: String) -> Error {
    Error::audit(format!(
        "reading {what} of the audit log: {why} (the table was edited)"
    ))
}

fn step_error(what: &str, e: rusqlite::Error) -> Error {
    Error::with_source(
        Code::Catalogue,
        format!("reading the audit log's {what}"),
        e,
    )
}
