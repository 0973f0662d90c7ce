//! The audit log's tables (reference/audit-anchors.md §5.3): leaves, stored hashes in the Go
//! `sumdb/tlog` layout, the single state row that serialises appends, and signed checkpoints.
//!
//! The leaf index is the tree size read under the state-row lock, never a sequence: sequences
//! leave gaps on rollback and hand out numbers in an order commits do not follow.

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use futures_util::stream::BoxStream;
use sqlx::sqlite::SqliteRow;
use sqlx::{FromRow, PgConnection, Row, SqliteConnection};
use tlog_tiles::Hash;
use uuid::Uuid;

use super::pg_copy::{self, CopyRows};
use super::{Catalogue, on_pool};
use crate::audit::merkle::Prefetched;
use crate::audit::record::Record;
use crate::error::{Code, Error, Result, ResultExt};

#[derive(Debug, Clone, FromRow)]
pub struct LogState {
    pub origin: String,
    pub size: i64,
    pub root: Vec<u8>,
}

#[derive(Debug, Clone, Default, FromRow)]
pub struct LeafRow {
    pub idx: i64,
    pub leaf: Vec<u8>,
    pub leaf_hash: Vec<u8>,
    pub item_id: Uuid,
    pub item_seq: i64,
    pub event: String,
    pub ts: DateTime<Utc>,
}

/// One leaf as `scan_log` reads it: the row, the stored hashes in its slot, and the chain head
/// rows that name it (or an earlier position) as their item's last record.
#[derive(Debug, Default)]
pub struct ScannedLeaf {
    pub row: LeafRow,
    /// By index; none where the stored value is not a hash at all (not 32 bytes).
    pub stored: Vec<(u64, Option<[u8; 32]>)>,
    pub closing: Vec<ItemHead>,
}

/// Batches the receiver of `scan_log` has finished with, handed back to be filled again. A
/// leaf's row, hashes and head rows are then written into the buffers of one read before
/// instead of allocated on the reading thread and freed on the checking one: glibc's allocator
/// makes such frees dear (a fifth of a verifier's CPU went on allocating and freeing them).
pub type SpentBatches = std::sync::mpsc::Receiver<Vec<ScannedLeaf>>;

/// A batch being filled: a spent batch's entries are written over, buffers kept, before new
/// ones are added.
pub(super) struct Filling {
    leaves: Vec<ScannedLeaf>,
    len: usize,
    batch: usize,
    spent: SpentBatches,
}

impl Filling {
    pub(super) fn new(batch: usize, spent: SpentBatches) -> Self {
        let mut filling = Filling {
            leaves: Vec::new(),
            len: 0,
            batch,
            spent,
        };
        filling.leaves = filling.next_batch();
        filling
    }

    /// A spent batch if one has come back, else a new one.
    fn next_batch(&self) -> Vec<ScannedLeaf> {
        self.spent
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(self.batch))
    }

    /// The next leaf's entry, its hashes and head rows cleared; its row is for the caller to
    /// write in full.
    pub(super) fn slot(&mut self) -> &mut ScannedLeaf {
        if self.len == self.leaves.len() {
            self.leaves.push(ScannedLeaf::default());
        }
        let slot = &mut self.leaves[self.len];
        self.len += 1;
        slot.stored.clear();
        slot.closing.clear();
        slot
    }

    pub(super) fn is_full(&self) -> bool {
        self.len == self.batch
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The leaves filled so far, as a batch; filling goes on in another.
    pub(super) fn take(&mut self) -> Vec<ScannedLeaf> {
        let next = self.next_batch();
        let mut done = std::mem::replace(&mut self.leaves, next);
        done.truncate(self.len);
        self.len = 0;
        done
    }
}

/// The first stored hash at a negative index or in `$1..$2`: one index look-up a range. (Asked
/// as one condition with OR, both databases walked the whole index for it, a third of a second
/// at a million records, with the rest of the check done.) `$1` comes before `$2` in the text:
/// SQLite numbers such parameters in the order they first appear, and rusqlite binds by number.
pub(super) const STRAY_HASH: &str = "SELECT min(sidx) FROM ( \
       SELECT min(sidx) AS sidx FROM tlog_hash WHERE sidx < 0 \
       UNION ALL SELECT min(sidx) FROM tlog_hash WHERE sidx >= $1 AND sidx < $2) AS ends";

/// What `scan_log` found after the last leaf it was asked for.
#[derive(Debug, Default, PartialEq)]
pub struct ScanRest {
    /// The first stored hash in no leaf's slot (past the last leaf read but within the
    /// prefix asked for, or at a negative index), if any.
    pub stray_hash: Option<i64>,
    /// Chain head rows whose last record lies past the scanned prefix.
    pub later_heads: Vec<ItemHead>,
}

/// An auditor's search of the log; every field narrows.
#[derive(Debug, Clone, Default)]
pub struct LeafQuery {
    pub actor: Option<String>,
    pub event: Option<String>,
    pub item: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Records before this index (the cursor of the previous page).
    pub before: Option<i64>,
    pub limit: u32,
}

#[derive(Debug, Clone, FromRow)]
pub struct StoredCheckpoint {
    pub size: i64,
    pub root: Vec<u8>,
    pub note: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct ItemHead {
    pub item_id: Uuid,
    pub kind: String,
    pub event_count: i64,
    pub last_index: i64,
    pub last_hash: Vec<u8>,
}

#[derive(Debug, Clone, FromRow)]
struct StoredHashRow {
    sidx: i64,
    hash: Vec<u8>,
}

/// Where a record landed in the log.
#[derive(Debug, Clone)]
pub struct AppendedLeaf {
    pub index: u64,
    pub leaf_hash: [u8; 32],
    pub record: Record,
}

/// A leaf's columns, in the order every reader of whole leaves selects them.
pub(super) const LEAF_FIELDS: [&str; 7] = [
    "idx",
    "leaf",
    "leaf_hash",
    "item_id",
    "item_seq",
    "event",
    "ts",
];

/// `LEAF_FIELDS` as a select list (the COPY reader needs the names one by one, to name a column
/// it cannot read).
pub(super) fn leaf_columns() -> String {
    LEAF_FIELDS.join(", ")
}

/// Writes a leaf's row (columns by position, as `LEAF_FIELDS` lists them) into `into`,
/// keeping its buffers.
fn fill_leaf(row: &SqliteRow, into: &mut LeafRow) -> sqlx::Result<()> {
    into.idx = row.try_get(0)?;
    into.leaf.clear();
    into.leaf.extend_from_slice(row.try_get(1)?);
    into.leaf_hash.clear();
    into.leaf_hash.extend_from_slice(row.try_get(2)?);
    into.item_id = row.try_get(3)?;
    into.item_seq = row.try_get(4)?;
    into.event.clear();
    into.event.push_str(row.try_get(5)?);
    into.ts = row.try_get(6)?;
    Ok(())
}

/// `fill_leaf` for a row as a binary COPY sends it; a field that is not of its column's type
/// is given back as the column's position and what is wrong.
fn fill_copied_leaf(
    fields: [&[u8]; 7],
    into: &mut LeafRow,
) -> std::result::Result<(), (usize, &'static str)> {
    let [idx, leaf, leaf_hash, item_id, item_seq, event, ts] = fields;
    into.idx = pg_copy::int8(idx).ok_or((0, "not a bigint"))?;
    into.leaf.clear();
    into.leaf.extend_from_slice(leaf);
    into.leaf_hash.clear();
    into.leaf_hash.extend_from_slice(leaf_hash);
    into.item_id = pg_copy::uuid(item_id).ok_or((3, "not a uuid"))?;
    into.item_seq = pg_copy::int8(item_seq).ok_or((4, "not a bigint"))?;
    into.event.clear();
    into.event
        .push_str(pg_copy::text(event).ok_or((5, "not UTF-8 text"))?);
    into.ts = pg_copy::timestamptz(ts).ok_or((6, "not a time bwv can read"))?;
    Ok(())
}

/// A chain head row's columns, in the order the verifier selects them.
const HEAD_FIELDS: [&str; 5] = ["item_id", "kind", "event_count", "last_index", "last_hash"];

/// A chain head row as a binary COPY sends it (columns as `HEAD_FIELDS` lists them).
fn copied_head(fields: [&[u8]; 5]) -> std::result::Result<ItemHead, (usize, &'static str)> {
    let [item_id, kind, event_count, last_index, last_hash] = fields;
    Ok(ItemHead {
        item_id: pg_copy::uuid(item_id).ok_or((0, "not a uuid"))?,
        kind: pg_copy::text(kind).ok_or((1, "not UTF-8 text"))?.to_owned(),
        event_count: pg_copy::int8(event_count).ok_or((2, "not a bigint"))?,
        last_index: pg_copy::int8(last_index).ok_or((3, "not a bigint"))?,
        last_hash: last_hash.to_vec(),
    })
}

fn to_hash(row: StoredHashRow) -> Result<(u64, Hash)> {
    let hash: [u8; 32] = row.hash.try_into().map_err(|_| {
        Error::audit(format!(
            "stored hash {} is not 32 bytes: the log is damaged",
            row.sidx
        ))
    })?;
    Ok((row.sidx as u64, Hash(hash)))
}

pub(super) async fn hashes_sqlite(
    c: &mut SqliteConnection,
    idx: &[u64],
) -> Result<Vec<(u64, Hash)>> {
    let list = serde_json::to_string(idx).map_err(|e| Error::audit(e.to_string()))?;
    let rows: Vec<StoredHashRow> = sqlx::query_as(
        "SELECT sidx, hash FROM tlog_hash WHERE sidx IN (SELECT value FROM json_each($1))",
    )
    .bind(list)
    .fetch_all(c)
    .await
    .context(|| "reading stored log hashes".into())?;
    rows.into_iter().map(to_hash).collect()
}

pub(super) async fn hashes_pg(c: &mut PgConnection, idx: &[u64]) -> Result<Vec<(u64, Hash)>> {
    let list: Vec<i64> = idx.iter().map(|&i| i as i64).collect();
    let rows: Vec<StoredHashRow> =
        sqlx::query_as("SELECT sidx, hash FROM tlog_hash WHERE sidx = ANY($1)")
            .bind(list)
            .fetch_all(c)
            .await
            .context(|| "reading stored log hashes".into())?;
    rows.into_iter().map(to_hash).collect()
}

/// The stored hashes at `from..to` joined in index order, if every one is there and 32 bytes
/// long. The aggregate is fed from an ordered subquery rather than given `ORDER BY` itself:
/// PostgreSQL before 16 sorts an aggregate's input again even when the index scan already gives
/// that order (0.65 ms a batch fed in order, 1.4-2.1 ms sorting again). PostgreSQL's
/// documentation says only that a subquery's order into an aggregate "will usually work", so
/// the indexes are joined beside the hashes, in the same pass, and must come back as exactly
/// `from..to`. The longest hash is asked for too: with the total length alone, a 31-byte hash
/// beside a 33-byte one (their bytes split where they should join) would be joined into the
/// right bytes and pass.
async fn joined_hashes(p: &sqlx::PgPool, from: u64, to: u64) -> sqlx::Result<Option<Vec<u8>>> {
    let (joined, order, longest): (Option<Vec<u8>>, Option<Vec<u8>>, Option<i32>) = sqlx::query_as(
        "SELECT string_agg(hash, ''::bytea), string_agg(int8send(sidx), ''::bytea), \
               max(octet_length(hash)) \
             FROM (SELECT sidx, hash FROM tlog_hash WHERE sidx >= $1 AND sidx < $2 ORDER BY sidx) \
               AS slots",
    )
    .bind(from as i64)
    .bind(to as i64)
    .fetch_one(p)
    .await?;
    let (Some(joined), Some(order), Some(32)) = (joined, order, longest) else {
        return Ok(None);
    };
    let in_order = order.len() as u64 == 8 * (to - from)
        && order
            .chunks_exact(8)
            .zip(from..)
            .all(|(sidx, want)| sidx == (want as i64).to_be_bytes());
    // As many rows as indexes, none longer than 32 bytes and 32 a row in all: each is 32.
    Ok((in_order && joined.len() as u64 == 32 * (to - from)).then_some(joined))
}

/// One round of a `tlog_tiles` computation over prefetched hashes: either its result, or the
/// stored hashes it still needs. (An explicit loop at each call site, rather than a helper taking
/// an async closure, keeps the futures `Send` for multi-threaded callers.)
pub(super) enum Round<T> {
    Done(T),
    Need(Vec<u64>),
}

/// A PostgreSQL connection for one of a scan's COPY streams, opened beside the pool rather than
/// taken from it. A scan holds two for as long as it reads (minutes on a large log), and a COPY
/// stopped early leaves its connection mid-reply, unfit to hand back: taken from the pool, a
/// few verifies at once held every connection, and uploads, the web UI and the verifies' own
/// stored-hash reads each waited out the pool's timeout. A direct connection has no time limit
/// of its own: it gets the one the catalogue's own first connection gets.
async fn scan_connection(pool: &sqlx::PgPool) -> Result<PgConnection> {
    use sqlx::Connection;
    let options = pool.connect_options();
    tokio::time::timeout(
        super::PG_CONNECT_WITHIN,
        PgConnection::connect_with(&options),
    )
    .await
    .map_err(|_| {
        Error::new(
            Code::Catalogue,
            format!(
                "connecting to read the audit log: PostgreSQL did not answer within {} s",
                super::PG_CONNECT_WITHIN.as_secs()
            ),
        )
    })?
    .map_err(|e| Error::with_source(Code::Catalogue, "connecting to read the audit log", e))
}

/// Scans of the log at once in one process; others wait their turn. Each uses every core and
/// some 60 MiB, so more at once finish no sooner, and on PostgreSQL each holds two of the
/// server's connections outside any pool: auditors pressing Verify on every node could
/// otherwise use up the server's connections and starve the pools after all.
static SCANS_AT_ONCE: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

pub(super) fn attempt<T>(
    reader: &Prefetched,
    compute: &impl Fn(&Prefetched) -> std::result::Result<T, tlog_tiles::Error>,
) -> Result<Round<T>> {
    match compute(reader) {
        Ok(value) => Ok(Round::Done(value)),
        Err(e) => {
            let missing = reader.take_missing();
            if missing.is_empty() {
                return Err(Error::audit(format!("log computation failed: {e}")));
            }
            Ok(Round::Need(missing))
        }
    }
}

pub(super) fn absorb(
    reader: &mut Prefetched,
    missing: &[u64],
    found: Vec<(u64, Hash)>,
) -> Result<()> {
    if found.len() < missing.len() {
        return Err(Error::audit(format!(
            "stored log hashes {missing:?} are missing: the log is damaged"
        )));
    }
    reader.hashes.extend(found);
    Ok(())
}

impl Catalogue {
    /// Creates the log's state row on first use and refuses a catalogue made for another log.
    pub async fn init_log(&self, origin: &str) -> Result<()> {
        on_pool!(self, p => {
            sqlx::query(
                "INSERT INTO tlog_state (log_id, origin, size, root) VALUES (1, $1, 0, $2) \
                 ON CONFLICT (log_id) DO NOTHING",
            )
            .bind(origin)
            .bind(tlog_tiles::EMPTY_HASH.0.to_vec())
            .execute(p)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| "initialising the audit log".into())?;
        let state = self.log_state().await?;
        if state.origin != origin {
            return Err(Error::new(
                Code::Conflict,
                format!(
                    "this catalogue's audit log is {:?} but log.origin is {origin:?}; \
                     a log's origin never changes",
                    state.origin
                ),
            ));
        }
        Ok(())
    }

    pub async fn log_state(&self) -> Result<LogState> {
        on_pool!(self, p => {
            sqlx::query_as("SELECT origin, size, root FROM tlog_state WHERE log_id = 1")
                .fetch_optional(p)
                .await
        })
        .context(|| "reading audit log state".into())?
        .ok_or_else(|| Error::audit("the audit log has not been initialised"))
    }

    pub async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>> {
        on_pool!(self, p => {
            sqlx::query_as(
                "SELECT size, root, note, created_at FROM tlog_checkpoint ORDER BY size DESC LIMIT 1",
            )
            .fetch_optional(p)
            .await
        })
        .context(|| "reading latest checkpoint".into())
    }

    pub async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>> {
        on_pool!(self, p => {
            sqlx::query_as("SELECT size, root, note, created_at FROM tlog_checkpoint ORDER BY size")
                .fetch_all(p)
                .await
        })
        .context(|| "reading checkpoints".into())
    }

    pub async fn save_checkpoint(&self, size: u64, root: [u8; 32], note: &[u8]) -> Result<()> {
        on_pool!(self, p => {
            sqlx::query(
                "INSERT INTO tlog_checkpoint (size, root, note, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (size) DO NOTHING",
            )
            .bind(size as i64)
            .bind(root.to_vec())
            .bind(note)
            .bind(crate::domain::now())
            .execute(p)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("saving checkpoint at size {size}"))?;
        Ok(())
    }

    async fn with_hashes<T>(
        &self,
        compute: impl Fn(&Prefetched) -> std::result::Result<T, tlog_tiles::Error>,
    ) -> Result<T> {
        let mut reader = Prefetched::default();
        loop {
            match attempt(&reader, &compute)? {
                Round::Done(value) => return Ok(value),
                Round::Need(missing) => {
                    let found = match self {
                        Catalogue::Sqlite(p, _) => {
                            let mut c =
                                p.acquire().await.context(|| "reading log hashes".into())?;
                            hashes_sqlite(&mut c, &missing).await?
                        }
                        Catalogue::Postgres(p, _) => {
                            let mut c =
                                p.acquire().await.context(|| "reading log hashes".into())?;
                            hashes_pg(&mut c, &missing).await?
                        }
                    };
                    absorb(&mut reader, &missing, found)?;
                }
            }
        }
    }

    /// RFC 6962 consistency proof from the tree of `old` leaves to the tree of `new` leaves.
    pub async fn consistency_proof(&self, new: u64, old: u64) -> Result<Vec<Vec<u8>>> {
        let proof = self
            .with_hashes(|r| tlog_tiles::prove_tree(new, old, r))
            .await?;
        Ok(proof.into_iter().map(|h| h.0.to_vec()).collect())
    }

    /// RFC 6962 inclusion proof for leaf `index` in the tree of `size` leaves.
    pub async fn inclusion_proof(&self, size: u64, index: u64) -> Result<Vec<Vec<u8>>> {
        let proof = self
            .with_hashes(|r| tlog_tiles::prove_record(size, index, r))
            .await?;
        Ok(proof.into_iter().map(|h| h.0.to_vec()).collect())
    }

    /// The root of the first `size` leaves, from stored hashes.
    pub async fn tree_root(&self, size: u64) -> Result<[u8; 32]> {
        Ok(self
            .with_hashes(|r| tlog_tiles::tree_hash(size, r))
            .await?
            .0)
    }

    /// Every record about one item, in chain order.
    pub async fn item_leaves(&self, item_id: Uuid) -> Result<Vec<LeafRow>> {
        on_pool!(self, p => {
            sqlx::query_as(&format!(
                "SELECT {} FROM tlog_leaf WHERE item_id = $1 ORDER BY item_seq",
                leaf_columns()
            ))
            .bind(item_id)
            .fetch_all(p)
            .await
        })
        .context(|| format!("reading audit records of {item_id}"))
    }

    /// Records matching an auditor's search, newest first, below index `before`. The actor is
    /// read from the leaf itself (the log's own bytes, not a column that could disagree).
    pub async fn search_leaves(&self, q: &LeafQuery) -> Result<Vec<LeafRow>> {
        let actor_of_leaf = match self {
            Catalogue::Sqlite(..) => "json_extract(CAST(leaf AS TEXT), '$.actor.id')",
            Catalogue::Postgres(..) => "(convert_from(leaf, 'UTF8')::jsonb -> 'actor' ->> 'id')",
        };
        let sql = format!(
            "SELECT {} FROM tlog_leaf \
             WHERE ($1 IS NULL OR {actor_of_leaf} = $1) AND ($2 IS NULL OR event = $2) \
             AND ($3 IS NULL OR ts >= $3) AND ($4 IS NULL OR ts < $4) \
             AND ($5 IS NULL OR idx < $5) AND ($6 IS NULL OR item_id = $6) \
             ORDER BY idx DESC LIMIT $7",
            leaf_columns()
        );
        on_pool!(self, p => {
            sqlx::query_as(&sql)
                .bind(&q.actor)
                .bind(&q.event)
                .bind(q.from)
                .bind(q.until)
                .bind(q.before)
                .bind(q.item)
                .bind(i64::from(q.limit))
                .fetch_all(p)
                .await
        })
        .context(|| "searching the audit log".into())
    }

    /// Streams the first `size` leaves in index order into `out`, `batch` at a time, each with
    /// the stored hashes that sit in its slot of the stored-hash layout
    /// (`stored_hash_index(0, n)` up to that of n + 1) and the chain head rows whose
    /// `last_index` is its position: read in that order, so a verifier can close each item's
    /// chain where it ends instead of holding every item's until the end. Memory stays flat
    /// whatever the size of the log; batches let the receiver check one while the next is read,
    /// and come back through `spent` to be filled again. Bounding by `size` keeps the scan on
    /// one consistent prefix while other writers append. Stops early if the receiver is gone;
    /// waits while two others run (`SCANS_AT_ONCE`). A SQLite catalogue on disk is read on a
    /// connection of its own (`sqlite_log`); PostgreSQL's leaves and head rows each as a binary
    /// COPY (`pg_copy`) on a connection of its own (`scan_connection`); the stored hashes, and a
    /// catalogue in memory, through the pool.
    pub async fn scan_log(
        &self,
        size: u64,
        batch: usize,
        out: tokio::sync::mpsc::Sender<Vec<ScannedLeaf>>,
        spent: SpentBatches,
    ) -> Result<ScanRest> {
        let _turn = SCANS_AT_ONCE
            .acquire()
            .await
            .map_err(|_| Error::new(Code::Catalogue, "reading the audit log: no turn to be had"))?;
        if let Catalogue::Sqlite(p, _) = self
            && let Some(path) = super::on_disk(p.connect_options().get_filename())
        {
            let path = path.to_owned();
            return tokio::task::spawn_blocking(move || {
                super::sqlite_log::scan(&path, size, Filling::new(batch, spent), &out)
            })
            .await
            .map_err(|e| Error::new(Code::Catalogue, format!("reading the audit log: {e}")))?;
        }
        let read_err = |e| Error::with_source(Code::Catalogue, "reading the audit log", e);
        let heads_in_order = "FROM audit_items ORDER BY last_index, item_id";
        let heads_sql;
        let mut heads_conn;
        let mut heads: BoxStream<'_, Result<ItemHead>> = match self {
            Catalogue::Postgres(p, _) => {
                heads_conn = scan_connection(p).await?;
                let conn = &mut heads_conn;
                // Started when the check first asks for a head row: PostgreSQL sorts them all
                // before it answers the COPY at all, and the leaves' COPY is started meanwhile.
                let started = async move {
                    let rows =
                        CopyRows::start(conn, "chain head rows", HEAD_FIELDS, heads_in_order)
                            .await?;
                    Ok::<_, Error>(futures_util::stream::try_unfold(
                        rows,
                        |mut rows| async move {
                            let Some(fields) = rows.next().await? else {
                                return Ok(None);
                            };
                            let head = copied_head(fields);
                            let head = head.map_err(|(column, why)| rows.bad_field(column, why))?;
                            Ok(Some((head, rows)))
                        },
                    ))
                };
                Box::pin(futures_util::stream::once(started).try_flatten())
            }
            Catalogue::Sqlite(p, _) => {
                heads_sql = format!("SELECT {} {heads_in_order}", HEAD_FIELDS.join(", "));
                Box::pin(
                    sqlx::query_as::<_, ItemHead>(&heads_sql)
                        .fetch(p)
                        .map_err(read_err),
                )
            }
        };
        let mut next_head = None;
        let mut seen = 0u64;
        // The leaves come as one statement's rows, gathered into batches while the batch before
        // is given its stored hashes and head rows: the database goes on sending meanwhile.
        let (gathered, leaf_batches) = tokio::sync::mpsc::channel::<Vec<ScannedLeaf>>(2);
        let gathering = async move {
            let mut filling = Filling::new(batch, spent);
            match self {
                Catalogue::Postgres(p, _) => {
                    let mut conn = scan_connection(p).await?;
                    let rest = format!("FROM tlog_leaf WHERE idx < {size} ORDER BY idx");
                    let mut rows =
                        CopyRows::start(&mut conn, "the audit log", LEAF_FIELDS, &rest).await?;
                    while let Some(fields) = rows.next().await? {
                        let filled = fill_copied_leaf(fields, &mut filling.slot().row);
                        filled.map_err(|(column, why)| rows.bad_field(column, why))?;
                        if filling.is_full() && gathered.send(filling.take()).await.is_err() {
                            return Ok(());
                        }
                    }
                }
                // A catalogue in memory: one on disk was read above.
                Catalogue::Sqlite(p, _) => {
                    let sql = format!(
                        "SELECT {} FROM tlog_leaf WHERE idx < $1 ORDER BY idx",
                        leaf_columns()
                    );
                    let mut rows = sqlx::query(sql.as_str()).bind(size as i64).fetch(p);
                    while let Some(row) = rows.try_next().await.map_err(read_err)? {
                        fill_leaf(&row, &mut filling.slot().row).map_err(read_err)?;
                        if filling.is_full() && gathered.send(filling.take()).await.is_err() {
                            return Ok(());
                        }
                    }
                }
            }
            if !filling.is_empty() {
                let _ = gathered.send(filling.take()).await;
            }
            Ok::<(), Error>(())
        };
        let checking = async {
            // Owned here, so that a check that stops early also stops the gathering.
            let mut leaf_batches = leaf_batches;
            // The database sorts the head rows before sending the first: the leaves are on
            // their way meanwhile.
            next_head = heads.try_next().await?;
            while let Some(mut leaves) = leaf_batches.recv().await {
                let first = seen;
                for leaf in &mut leaves {
                    let position = seen as i64;
                    seen += 1;
                    while let Some(head) = next_head.take_if(|h| h.last_index <= position) {
                        leaf.closing.push(head);
                        next_head = heads.try_next().await?;
                    }
                }
                self.stored_slots(first, &mut leaves).await?;
                if out.send(leaves).await.is_err() {
                    return Ok(false);
                }
            }
            Ok::<bool, Error>(true)
        };
        let (gathered, checked) = tokio::join!(gathering, checking);
        if !checked? {
            return Ok(ScanRest::default());
        }
        gathered?;
        let mut later_heads = Vec::from_iter(next_head);
        while let Some(head) = heads.try_next().await? {
            later_heads.push(head);
        }
        // Hashes appended since `size` was read are beyond this check, not strays.
        let stray_hash: Option<i64> = on_pool!(self, p => {
            sqlx::query_scalar(STRAY_HASH)
                .bind(tlog_tiles::stored_hash_index(0, seen) as i64)
                .bind(tlog_tiles::stored_hash_index(0, size) as i64)
                .fetch_one(p)
                .await
        })
        .map_err(read_err)?;
        Ok(ScanRest {
            stray_hash,
            later_heads,
        })
    }

    /// Fills in the stored hashes of `leaves`, the leaves at positions `first..`. On PostgreSQL
    /// they are fetched as one concatenation per batch (a row per hash costs more to send and
    /// decode than to check); a range that is not exactly whole (a row missing, or one of the
    /// wrong length) is read row by row, so that each hash present lands in its own slot. So is
    /// a SQLite catalogue in memory, which has no server's CPU to spare (one on disk is read by
    /// `sqlite_log`).
    async fn stored_slots(&self, first: u64, leaves: &mut [ScannedLeaf]) -> Result<()> {
        let from = tlog_tiles::stored_hash_index(0, first);
        let to = tlog_tiles::stored_hash_index(0, first + leaves.len() as u64);
        let read_err = |e| Error::with_source(Code::Catalogue, "reading stored tree hashes", e);
        let joined = match self {
            Catalogue::Postgres(p, _) => joined_hashes(p, from, to).await.map_err(read_err)?,
            Catalogue::Sqlite(..) => None,
        };
        let rows: Vec<(u64, Option<[u8; 32]>)> = match joined {
            Some(joined) => (from..)
                .zip(joined.chunks_exact(32).map(|h| h.try_into().ok()))
                .collect(),
            None => on_pool!(self, p => {
                sqlx::query_as::<_, StoredHashRow>(
                    "SELECT sidx, hash FROM tlog_hash WHERE sidx >= $1 AND sidx < $2 ORDER BY sidx",
                )
                .bind(from as i64)
                .bind(to as i64)
                .fetch_all(p)
                .await
            })
            .map_err(read_err)?
            .into_iter()
            .map(|row| (row.sidx as u64, row.hash.try_into().ok()))
            .collect(),
        };
        let mut rows = rows.into_iter().peekable();
        for (n, leaf) in (first..).zip(leaves.iter_mut()) {
            let slot_end = tlog_tiles::stored_hash_index(0, n + 1);
            while let Some(row) = rows.next_if(|(sidx, _)| *sidx < slot_end) {
                leaf.stored.push(row);
            }
        }
        Ok(())
    }

    /// The clips the catalogue lists whose hash is named as an object by no record of their
    /// recording among the first `size` records. Run by the database (an anti-join over the
    /// leaves' own JSON), so the verifier keeps no set of objects per item.
    pub async fn unvouched_clips(&self, size: u64) -> Result<Vec<(Uuid, i64, String)>> {
        on_pool!(self, p => {
            let sql = match self {
                // A leaf that is not JSON is read as one with no objects (the scan reports it).
                Catalogue::Sqlite(..) => {
                    "SELECT c.recording_id, c.seq, c.sha256 FROM clips c WHERE NOT EXISTS ( \
                       SELECT 1 FROM tlog_leaf l, json_each(CASE WHEN json_valid(CAST(l.leaf AS TEXT)) \
                         THEN CAST(l.leaf AS TEXT) ELSE '{}' END, '$.object') o \
                       WHERE l.item_id = c.recording_id AND l.idx < $1 \
                         AND json_extract(o.value, '$.sha256') = c.sha256) \
                     ORDER BY c.recording_id, c.seq"
                }
                Catalogue::Postgres(..) => {
                    "SELECT c.recording_id, c.seq, c.sha256 FROM clips c WHERE NOT EXISTS ( \
                       SELECT 1 FROM tlog_leaf l WHERE l.item_id = c.recording_id AND l.idx < $1 \
                         AND convert_from(l.leaf, 'UTF8')::jsonb -> 'object' \
                           @> jsonb_build_array(jsonb_build_object('sha256', c.sha256))) \
                     ORDER BY c.recording_id, c.seq"
                }
            };
            sqlx::query_as(sql).bind(size as i64).fetch_all(p).await
        })
        .context(|| "checking clips against the audit records of their recordings".into())
    }
}
