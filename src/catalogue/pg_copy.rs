//! Rows read from PostgreSQL as a binary `COPY (query) TO STDOUT`, in the format PostgreSQL's
//! documentation gives under COPY, "Binary Format": a signature and header, then each row as a
//! field count and length-prefixed fields, then a trailer.
//!
//! A verifier reads every leaf of the log. Through sqlx's rows each one costs a decoded
//! message, a row with its own column table, and a type check and look-up per column: on a
//! million records that took more CPU than PostgreSQL spent sending them, on the same two cores
//! the checking needs. Here a row is its fields sliced out of the bytes as they arrive, and the
//! few column types a leaf has are read from their documented binary forms.

use std::ops::Range;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{Code, Error, Result};

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// Microseconds from the Unix epoch to PostgreSQL's, 2000-01-01 00:00:00 UTC.
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// The rows of one binary COPY, `N` named columns each, read as the server sends them.
///
/// A COPY stopped before its end leaves its connection in the middle of a reply, which sqlx
/// does not clear before the connection's next use: give it a connection no pool takes back
/// (`audit_log::scan_connection`).
pub(super) struct CopyRows<'c, const N: usize> {
    what: &'static str,
    columns: [&'static str; N],
    stream: BoxStream<'c, sqlx::Result<Bytes>>,
    /// Bytes received; those before `used` have been handed out.
    buf: Vec<u8>,
    used: usize,
    header_read: bool,
    ended: bool,
    rows: u64,
}

/// What the front of the unread bytes holds.
#[derive(Debug, PartialEq)]
enum Next<const N: usize> {
    /// Not yet a whole row: more bytes are needed.
    Partial,
    /// The trailer: every row has been read.
    End,
    /// A row `len` bytes long, and where each field lies in it.
    Row {
        len: usize,
        fields: [Range<usize>; N],
    },
}

impl<'c, const N: usize> CopyRows<'c, N> {
    /// Starts `COPY (SELECT columns rest) TO STDOUT (FORMAT binary)`. `rest` is SQL of bwv's
    /// own making: COPY takes no bind parameters.
    pub(super) async fn start(
        conn: &'c mut PgConnection,
        what: &'static str,
        columns: [&'static str; N],
        rest: &str,
    ) -> Result<Self> {
        let copy = format!(
            "COPY (SELECT {} {rest}) TO STDOUT (FORMAT binary)",
            columns.join(", ")
        );
        let stream = conn
            .copy_out_raw(&copy)
            .await
            .map_err(|e| read_error(what, e))?;
        Ok(CopyRows {
            what,
            columns,
            stream,
            buf: Vec::new(),
            used: 0,
            header_read: false,
            ended: false,
            rows: 0,
        })
    }

    /// The next row's fields, or `None` after the last, once the server has ended the copy
    /// cleanly. A NULL is refused, naming its column: the columns read this way are all
    /// `NOT NULL`.
    pub(super) async fn next(&mut self) -> Result<Option<[&[u8]; N]>> {
        if self.ended {
            return Ok(None);
        }
        // What was handed out last time is done with; the rest (usually nothing) moves up.
        self.buf.drain(..self.used);
        self.used = 0;
        loop {
            if !self.header_read {
                if let Some(len) = header_len(&self.buf).map_err(|m| self.damaged(m))? {
                    self.buf.drain(..len);
                    self.header_read = true;
                    continue;
                }
            } else {
                match next_row(&self.buf, &self.columns).map_err(|m| self.damaged(m))? {
                    Next::End => {
                        self.end().await?;
                        return Ok(None);
                    }
                    Next::Row { len, fields } => {
                        self.used = len;
                        self.rows += 1;
                        let buf = &self.buf;
                        return Ok(Some(fields.map(|f| &buf[f])));
                    }
                    Next::Partial => {}
                }
            }
            match self.stream.next().await {
                Some(chunk) => {
                    let chunk = chunk.map_err(|e| read_error(self.what, e))?;
                    self.buf.extend_from_slice(&chunk);
                }
                None if self.header_read => {
                    return Err(self.damaged("the server ended the copy mid-row".into()));
                }
                None => {
                    return Err(self.damaged("the server ended the copy before its header".into()));
                }
            }
        }
    }

    /// After the trailer: nothing more may come, and the server must say the copy is done (a
    /// failure after the last row would otherwise go unseen).
    async fn end(&mut self) -> Result<()> {
        self.ended = true;
        if self.buf.len() != 2 {
            return Err(self.damaged("data follows the trailer".into()));
        }
        match self.stream.next().await {
            None => Ok(()),
            Some(Err(e)) => Err(read_error(self.what, e)),
            Some(Ok(_)) => Err(self.damaged("data follows the trailer".into())),
        }
    }

    /// An error about the field `column` of the row last handed out.
    pub(super) fn bad_field(&self, column: usize, why: &str) -> Error {
        let name = self.columns.get(column).copied().unwrap_or("?");
        Error::new(
            Code::Catalogue,
            format!(
                "reading {}: row {}, column {name}: {why}",
                self.what, self.rows
            ),
        )
    }

    fn damaged(&self, message: String) -> Error {
        Error::new(
            Code::Catalogue,
            format!("reading {}: after {} rows, {message}", self.what, self.rows),
        )
    }
}

/// The server or the connection failed (as opposed to bytes that are not a binary COPY).
fn read_error(what: &str, e: sqlx::Error) -> Error {
    Error::with_source(Code::Catalogue, format!("reading {what}"), e)
}

fn be_i16(bytes: &[u8], at: usize) -> Option<i16> {
    Some(i16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn be_i32(bytes: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// The header's length once all of it has arrived.
fn header_len(bytes: &[u8]) -> std::result::Result<Option<usize>, String> {
    let fixed = SIGNATURE.len() + 8;
    if bytes.len() < fixed {
        return Ok(None);
    }
    if !bytes.starts_with(SIGNATURE) {
        return Err("the copy does not start with the binary signature".into());
    }
    // The high half of the flags is what a reader must understand or refuse (bit 16: each row
    // carries an OID first, which would shift every field).
    let flags = be_i32(bytes, SIGNATURE.len()).unwrap_or(0);
    if flags as u32 & 0xffff_0000 != 0 {
        return Err(format!(
            "the copy has flags {flags:#x} this reader does not know"
        ));
    }
    let extension = be_i32(bytes, SIGNATURE.len() + 4).unwrap_or(0);
    let len = usize::try_from(extension)
        .map_err(|_| format!("the copy header's extension length is {extension}"))?;
    Ok((bytes.len() >= fixed + len).then_some(fixed + len))
}

fn next_row<const N: usize>(
    bytes: &[u8],
    columns: &[&str; N],
) -> std::result::Result<Next<N>, String> {
    let Some(count) = be_i16(bytes, 0) else {
        return Ok(Next::Partial);
    };
    if count == -1 {
        return Ok(Next::End);
    }
    if usize::try_from(count).ok() != Some(N) {
        return Err(format!("a row has {count} fields, not {N}"));
    }
    let mut at = 2;
    let mut fields: [Range<usize>; N] = std::array::from_fn(|_| 0..0);
    for (field, column) in fields.iter_mut().zip(columns) {
        let Some(len) = be_i32(bytes, at) else {
            return Ok(Next::Partial);
        };
        let len = usize::try_from(len)
            .map_err(|_| format!("the next row has a NULL or length {len} in column {column}"))?;
        at += 4;
        if bytes.len() < at + len {
            return Ok(Next::Partial);
        }
        *field = at..at + len;
        at += len;
    }
    Ok(Next::Row { len: at, fields })
}

/// `bigint`: eight bytes, big-endian.
pub(super) fn int8(field: &[u8]) -> Option<i64> {
    Some(i64::from_be_bytes(field.try_into().ok()?))
}

/// `uuid`: its sixteen bytes.
pub(super) fn uuid(field: &[u8]) -> Option<Uuid> {
    Uuid::from_slice(field).ok()
}

/// `text`: UTF-8 (sqlx sets the connection's client encoding to it).
pub(super) fn text(field: &[u8]) -> Option<&str> {
    std::str::from_utf8(field).ok()
}

/// `timestamptz`: microseconds since 2000-01-01 UTC; the infinities are no time at all.
pub(super) fn timestamptz(field: &[u8]) -> Option<DateTime<Utc>> {
    let micros = int8(field)?.checked_add(PG_EPOCH_MICROS)?;
    DateTime::from_timestamp_micros(micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    const THREE: [&str; 3] = ["a", "b", "c"];

    fn row(fields: &[Option<&[u8]>]) -> Vec<u8> {
        let mut out = (fields.len() as i16).to_be_bytes().to_vec();
        for field in fields {
            match field {
                Some(bytes) => {
                    out.extend((bytes.len() as i32).to_be_bytes());
                    out.extend(*bytes);
                }
                None => out.extend((-1i32).to_be_bytes()),
            }
        }
        out
    }

    /// A row is only taken once every byte of it is there, wherever the stream was cut.
    #[test]
    fn a_row_cut_anywhere_waits_for_the_rest() {
        let whole = row(&[Some(b"abc"), Some(b""), Some(&[1, 2])]);
        for cut in 0..whole.len() {
            assert_eq!(
                next_row(&whole[..cut], &THREE),
                Ok(Next::Partial),
                "cut at {cut}"
            );
        }
        let Ok(Next::Row { len, fields }) = next_row(&whole, &THREE) else {
            panic!("a whole row was not read");
        };
        assert_eq!(len, whole.len());
        assert_eq!(
            fields.map(|f| whole[f].to_vec()),
            [b"abc".to_vec(), vec![], vec![1, 2]]
        );
        assert_eq!(next_row(&(-1i16).to_be_bytes(), &THREE), Ok(Next::End));
    }

    #[test]
    fn nulls_and_wrong_field_counts_are_refused() {
        let null = next_row(&row(&[Some(b"a"), None]), &["x", "y"]);
        assert!(null.is_err_and(|e| e.contains("column y")));
        assert!(next_row(&row(&[Some(b"a")]), &["x", "y"]).is_err());
        assert!(next_row(&row(&[Some(b"a"), Some(b"b"), Some(b"c")]), &["x", "y"]).is_err());
    }

    #[test]
    fn the_header_is_checked_and_skipped_with_its_extension() {
        let mut header = SIGNATURE.to_vec();
        header.extend(0i32.to_be_bytes());
        header.extend(3i32.to_be_bytes());
        header.extend(b"ext");
        assert_eq!(header_len(&header[..header.len() - 1]), Ok(None));
        assert_eq!(header_len(&header), Ok(Some(header.len())));
        assert!(header_len(b"PGCOPY\n\xff\r\n\x01\0\0\0\0\0\0\0\0").is_err());
        let mut with_oids = SIGNATURE.to_vec();
        with_oids.extend((1i32 << 16).to_be_bytes());
        with_oids.extend(0i32.to_be_bytes());
        assert!(header_len(&with_oids).is_err());
    }

    #[test]
    fn column_types_read_as_postgresql_sends_them() {
        assert_eq!(int8(&(-7i64).to_be_bytes()), Some(-7));
        assert_eq!(int8(&[0; 4]), None);
        assert_eq!(
            timestamptz(&0i64.to_be_bytes()),
            DateTime::from_timestamp(946_684_800, 0)
        );
        assert_eq!(timestamptz(&i64::MAX.to_be_bytes()), None);
        assert_eq!(uuid(&[0; 15]), None);
        assert_eq!(text(b"\xff"), None);
    }
}
