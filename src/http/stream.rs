//! Streaming an object to a person, with HTTP ranges (RFC 9110 §14) so a browser's player can
//! seek without fetching the whole file. The ETag is the object's SHA-256: footage never
//! changes, so a validator that names the bytes is exact.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio_util::io::ReaderStream;

use std::path::Path;

use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::error::{Error, Result, ResultExt};
use crate::recording::footage::Footage;
use crate::store::Store;

/// How the browser should treat the bytes.
#[derive(Debug, Clone, Copy)]
pub enum Disposition {
    /// Shown in the page (a player, an image).
    Inline,
    /// Saved as a file.
    Attachment,
}

/// Where the bytes come from.
#[derive(Clone, Copy)]
pub enum Source<'a> {
    /// The object in the store named by the footage's SHA-256.
    Store(&'a Store),
    /// A region of a local file: an entry stored whole in a kept package's ZIP.
    File { path: &'a Path, offset: u64 },
}

pub async fn serve(
    source: Source<'_>,
    f: &Footage,
    request: &HeaderMap,
    disposition: Disposition,
) -> Result<Response> {
    let etag = format!("\"{}\"", f.sha256.to_hex());
    let (status, start, len) = match wanted_range(request, &etag, f.size) {
        Wanted::Whole => (StatusCode::OK, 0, f.size),
        Wanted::Part(start, end) => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        Wanted::Unsatisfiable => {
            let mut resp = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            resp.headers_mut().insert(
                header::CONTENT_RANGE,
                header_value(&format!("bytes */{}", f.size))?,
            );
            return Ok(resp);
        }
    };
    // An empty object has no byte to ask the store for (S3 refuses `bytes=0-0` of nothing).
    let body = if len == 0 {
        Body::empty()
    } else {
        match source {
            Source::Store(store) => {
                let reader = store.range_reader(&f.sha256, start, len).await?;
                Body::from_stream(ReaderStream::new(reader))
            }
            Source::File { path, offset } => {
                let mut file = tokio::fs::File::open(path)
                    .await
                    .context(|| format!("opening {}", path.display()))?;
                file.seek(std::io::SeekFrom::Start(offset + start))
                    .await
                    .context(|| format!("reading {}", path.display()))?;
                Body::from_stream(ReaderStream::new(file.take(len)))
            }
        }
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, header_value(&f.media_type)?);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::ETAG, header_value(&etag)?);
    // Footage is personal data: no shared cache may keep it.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    let kind = match disposition {
        Disposition::Inline => "inline",
        Disposition::Attachment => "attachment",
    };
    h.insert(
        header::CONTENT_DISPOSITION,
        header_value(&format!("{kind}; filename=\"{}\"", f.file_name))?,
    );
    if status == StatusCode::PARTIAL_CONTENT {
        h.insert(
            header::CONTENT_RANGE,
            header_value(&format!("bytes {start}-{}/{}", start + len - 1, f.size))?,
        );
    }
    Ok(resp)
}

/// The media type of every CSV the API sends.
pub const CSV: &str = "text/csv; charset=utf-8";

/// A file to save (a schedule, a CSV export, a package): never cached, since it may hold
/// personal data. axum sets the length of a body it holds; a stream's is given.
pub fn attachment(
    media_type: &'static str,
    file_name: &str,
    body: Body,
    length: Option<u64>,
) -> Result<Response> {
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    h.insert(
        header::CONTENT_DISPOSITION,
        header_value(&format!("attachment; filename=\"{file_name}\""))?,
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    if let Some(n) = length {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
    }
    Ok(resp)
}

/// A kept disclosure package, sent whole as its ZIP.
pub async fn package_zip(k: &crate::disclosure::kept::Kept, path: &Path) -> Result<Response> {
    let file = tokio::fs::File::open(path)
        .await
        .context(|| format!("opening {}", path.display()))?;
    attachment(
        "application/zip",
        &format!("{}-{}.zip", k.case, k.package_id),
        Body::from_stream(ReaderStream::new(file)),
        Some(k.size),
    )
}

enum Wanted {
    Whole,
    /// First and last byte, inclusive.
    Part(u64, u64),
    Unsatisfiable,
}

/// The one range asked for. Several ranges, a malformed header or a stale `If-Range` get the
/// whole object, as RFC 9110 lets a server do.
fn wanted_range(request: &HeaderMap, etag: &str, size: u64) -> Wanted {
    let Some(range) = request.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Wanted::Whole;
    };
    if let Some(if_range) = request.get(header::IF_RANGE)
        && if_range.as_bytes() != etag.as_bytes()
    {
        return Wanted::Whole;
    }
    let Ok(parsed) = http_range_header::parse_range_header(range) else {
        return Wanted::Whole;
    };
    match parsed.validate(size) {
        Ok(ranges) if ranges.len() == 1 => {
            let r = &ranges[0];
            Wanted::Part(*r.start(), *r.end())
        }
        Ok(_) => Wanted::Whole,
        Err(_) => Wanted::Unsatisfiable,
    }
}

fn header_value(s: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(s).map_err(|_| Error::bad_input(format!("{s:?} is not a header value")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(range: &str, if_range: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::RANGE, HeaderValue::from_str(range).unwrap());
        if let Some(v) = if_range {
            h.insert(header::IF_RANGE, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn one_range_is_served_in_part() {
        assert!(matches!(
            wanted_range(&with("bytes=10-19", None), "\"x\"", 100),
            Wanted::Part(10, 19)
        ));
        assert!(matches!(
            wanted_range(&with("bytes=-10", None), "\"x\"", 100),
            Wanted::Part(90, 99)
        ));
        assert!(matches!(
            wanted_range(&with("bytes=90-", None), "\"x\"", 100),
            Wanted::Part(90, 99)
        ));
    }

    #[test]
    fn past_the_end_is_unsatisfiable_and_the_rest_is_whole() {
        assert!(matches!(
            wanted_range(&with("bytes=100-", None), "\"x\"", 100),
            Wanted::Unsatisfiable
        ));
        assert!(matches!(
            wanted_range(&with("bytes=0-1,5-6", None), "\"x\"", 100),
            Wanted::Whole
        ));
        assert!(matches!(
            wanted_range(&with("lines=1-2", None), "\"x\"", 100),
            Wanted::Whole
        ));
        assert!(matches!(
            wanted_range(&with("bytes=0-9", Some("\"other\"")), "\"x\"", 100),
            Wanted::Whole
        ));
    }
}
