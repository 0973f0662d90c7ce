//! Audit leaves read a batch at a time. A verifier reads every leaf of the log. On SQLite,
//! handing each over as a row of its own (a row object, a value per column, a trip between the
//! driver's thread and ours) costs more than checking it, so SQLite joins a batch into one byte
//! string of frames, which is split here: the verifier's reading took 8.0 s for a million leaves
//! row by row, 4.7 s this way. PostgreSQL's rows come in its binary protocol at little cost per
//! row, while joining them costs it more than sending them (29 ms a batch of 4,096 against 13),
//! so its batches are plain rows.
//!
//! A batch whose frames do not read back exactly (a column of an unexpected type or length,
//! which only an edit of the tables makes) is read again row by row, where the driver's own
//! decoding reports it as it would anywhere else.
//!
//! A frame: index and item sequence (16 hexadecimal digits each, as SQLite has no binary
//! number output), the byte lengths of the leaf, its stored hash, the item id, the event and the
//! time (8 digits each), then those five values as stored.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::audit_log::{LEAF_COLUMNS, LeafRow};
use super::{Catalogue, on_pool};
use crate::error::{Code, Error, Result};

/// A row whose columns are not of the types bwv writes gives no frame (a NULL, which the join
/// skips), so its batch comes up short and is read row by row: `printf` and `CAST` would
/// otherwise read a text `'2x'` as the number 2 or a text item id as its bytes.
const SQLITE_FRAMES: &str = "SELECT count(*), CAST(group_concat( \
       CASE WHEN typeof(item_seq) = 'integer' AND typeof(leaf) = 'blob' \
         AND typeof(leaf_hash) = 'blob' AND typeof(item_id) = 'blob' \
         AND typeof(event) = 'text' AND typeof(ts) = 'text' \
       THEN printf('%016X%016X%08X%08X%08X%08X%08X', idx, item_seq, \
         length(leaf), length(leaf_hash), length(item_id), length(CAST(event AS BLOB)), \
         length(CAST(ts AS BLOB))) \
       || leaf || leaf_hash || item_id || event || ts END, '') AS BLOB) \
     FROM (SELECT * FROM tlog_leaf WHERE idx >= $1 AND idx < $2 ORDER BY idx LIMIT $3)";

impl Catalogue {
    /// Up to `limit` leaves with index in `from..below`, in index order.
    pub(super) async fn leaves_from(
        &self,
        from: i64,
        below: i64,
        limit: usize,
    ) -> Result<Vec<LeafRow>> {
        let read_err = |e| Error::with_source(Code::Catalogue, "reading the audit log", e);
        if let Catalogue::Sqlite(p, _) = self {
            let (count, joined): (i64, Option<Vec<u8>>) = sqlx::query_as(SQLITE_FRAMES)
                .bind(from)
                .bind(below)
                .bind(limit as i64)
                .fetch_one(p)
                .await
                .map_err(read_err)?;
            if count == 0 {
                return Ok(Vec::new());
            }
            if let Some(rows) = joined.and_then(|j| split(&j, count as usize)) {
                return Ok(rows);
            }
        }
        let sql = format!(
            "SELECT {LEAF_COLUMNS} FROM tlog_leaf WHERE idx >= $1 AND idx < $2 ORDER BY idx LIMIT $3"
        );
        on_pool!(self, p => {
            sqlx::query_as::<_, LeafRow>(sql.as_str())
                .bind(from)
                .bind(below)
                .bind(limit as i64)
                .fetch_all(p)
                .await
        })
        .map_err(read_err)
    }
}

/// The frames of `joined`, if they are exactly `count` well-formed ones in index order. The
/// join follows the ordered rows it is given (SQLite adds them in the order they come); an
/// `ORDER BY` inside the aggregate would sort the batch's values again, a tenth of the check's
/// time, so the order is checked here instead.
fn split(joined: &[u8], count: usize) -> Option<Vec<LeafRow>> {
    let mut rest = Frames { rest: joined };
    let mut rows: Vec<LeafRow> = Vec::with_capacity(count);
    while !rest.rest.is_empty() {
        let row = rest.next_leaf()?;
        if rows.last().is_some_and(|last| last.idx >= row.idx) {
            return None;
        }
        rows.push(row);
    }
    (rows.len() == count).then_some(rows)
}

struct Frames<'a> {
    rest: &'a [u8],
}

impl<'a> Frames<'a> {
    fn next_leaf(&mut self) -> Option<LeafRow> {
        let idx = self.number(8)? as i64;
        let item_seq = self.number(8)? as i64;
        let mut lengths = [0usize; 5];
        for len in &mut lengths {
            *len = usize::try_from(self.number(4)?).ok()?;
        }
        let [leaf, leaf_hash, item_id, event, ts] = lengths;
        Some(LeafRow {
            idx,
            leaf: self.bytes(leaf)?.to_vec(),
            leaf_hash: self.bytes(leaf_hash)?.to_vec(),
            item_id: Uuid::from_slice(self.bytes(item_id)?).ok()?,
            item_seq,
            event: std::str::from_utf8(self.bytes(event)?).ok()?.to_owned(),
            ts: self.time(ts)?,
        })
    }

    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let (taken, rest) = self.rest.split_at_checked(n)?;
        self.rest = rest;
        Some(taken)
    }

    /// A whole number `width` bytes wide.
    fn number(&mut self, width: usize) -> Option<u64> {
        let digits = std::str::from_utf8(self.bytes(2 * width)?).ok()?;
        u64::from_str_radix(digits, 16).ok()
    }

    /// Only the form bwv stores; any other is left to the driver's decoding.
    fn time(&mut self, len: usize) -> Option<DateTime<Utc>> {
        let text = std::str::from_utf8(self.bytes(len)?).ok()?;
        DateTime::parse_from_rfc3339(text).ok().map(|t| t.to_utc())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf() -> LeafRow {
        LeafRow {
            idx: 7,
            leaf: br#"{"v":1}"#.to_vec(),
            // NUL and non-UTF-8 bytes, as a hash holds.
            leaf_hash: vec![0, 0xff, 0x80, 1],
            item_id: Uuid::from_u128(0x0011_2233_4455_6677_8899_aabb_ccdd_eeff),
            item_seq: 3,
            event: "viewed".into(),
            ts: DateTime::parse_from_rfc3339("2026-12-04T21:00:00.123Z")
                .unwrap()
                .to_utc(),
        }
    }

    /// A frame as the statement writes it, with the time as the text `ts` and an item id of
    /// `id` bytes.
    fn frame_with(l: &LeafRow, id: &[u8], ts: &str) -> Vec<u8> {
        let mut f = format!(
            "{:016X}{:016X}{:08X}{:08X}{:08X}{:08X}{:08X}",
            l.idx,
            l.item_seq,
            l.leaf.len(),
            l.leaf_hash.len(),
            id.len(),
            l.event.len(),
            ts.len()
        )
        .into_bytes();
        f.extend(&l.leaf);
        f.extend(&l.leaf_hash);
        f.extend(id);
        f.extend(l.event.as_bytes());
        f.extend(ts.as_bytes());
        f
    }

    /// The time as sqlx stores it.
    fn frame(l: &LeafRow) -> Vec<u8> {
        frame_with(l, l.item_id.as_bytes(), &l.ts.to_rfc3339())
    }

    fn same(a: &LeafRow, b: &LeafRow) -> bool {
        (
            a.idx,
            &a.leaf,
            &a.leaf_hash,
            a.item_id,
            a.item_seq,
            &a.event,
            a.ts,
        ) == (
            b.idx,
            &b.leaf,
            &b.leaf_hash,
            b.item_id,
            b.item_seq,
            &b.event,
            b.ts,
        )
    }

    #[test]
    fn frames_read_back() {
        let (mut one, two) = (leaf(), leaf());
        one.idx = -1; // an index no append makes, as an edit could
        let rows = split(&[frame(&one), frame(&two)].concat(), 2).expect("two frames");
        assert!(same(&rows[0], &one) && same(&rows[1], &two));
    }

    /// Anything short of exact sends the batch to the row-by-row reading.
    #[test]
    fn frames_that_do_not_read_back_exactly_are_refused() {
        let l = leaf();
        let good = frame(&l);
        assert!(
            split(&good[..good.len() - 1], 1).is_none(),
            "a frame cut short"
        );
        assert!(split(&good, 2).is_none(), "a frame missing");
        let mut earlier = l.clone();
        earlier.idx = l.idx - 1;
        let swapped = [good.clone(), frame(&earlier)].concat();
        assert!(split(&swapped, 2).is_none(), "frames out of order");
        let long_id = frame_with(&l, &[1; 17], &l.ts.to_rfc3339());
        assert!(split(&long_id, 1).is_none(), "an item id of 17 bytes");
        // A form sqlx reads too, left to it.
        let other = frame_with(&l, l.item_id.as_bytes(), "2026-12-04 21:00:00.123");
        assert!(split(&other, 1).is_none(), "a time in another form");
    }
}
