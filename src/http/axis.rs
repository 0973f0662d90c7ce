//! The Axis Body Worn Integration API content destination: the Swift subset a docking system
//! speaks (reference/axis-body-worn-api.md), with the status codes it acts on.

use std::io::Read;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use futures_util::TryStreamExt;
use md5::Digest;
use serde_json::json;

use super::AppState;
use super::auth::{DockAuth, sign_in, source};
use super::error::{ApiError, ApiResult};
use super::health::record_upload;
use crate::catalogue::{Dock, Metadata};
use crate::docks;
use crate::error::{Code, Error, Result};
use crate::ingest::axis::{self as door, Content, Kind};
use crate::store::Input;

/// Bookmarks, GNSS tracks and key objects are read whole to be parsed; they are small.
const MAX_SMALL_OBJECT: usize = 16 << 20;
/// Registry objects carry metadata, not content.
const MAX_REGISTRY_BODY: usize = 64 << 10;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/v1.0", get(auth))
        .route("/v1/{account}", any(|| async { refuse_method() }))
        .route("/v1/{account}/{container}", any(container))
        .route("/v1/{account}/{container}/{*object}", any(object))
}

fn refuse_method() -> ApiError {
    ApiError(Error::bad_input(
        "this method is not part of the Axis Body Worn Integration API",
    ))
}

/// Swift's ETag check answers 422 when the bytes do not match; other codes as everywhere.
fn respond(e: ApiError) -> Response {
    if e.0.code() == Code::ChecksumMismatch {
        e.response(StatusCode::UNPROCESSABLE_ENTITY)
    } else {
        e.into_response()
    }
}

async fn auth(State(state): State<AppState>, request: Request) -> ApiResult<Response> {
    let (parts, _) = request.into_parts();
    let headers = &parts.headers;
    let get = |a: &str, b: &str| {
        headers
            .get(a)
            .or_else(|| headers.get(b))
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (Some(user), Some(key)) = (
        get("x-auth-user", "x-storage-user"),
        get("x-auth-key", "x-storage-pass"),
    ) else {
        return Err(Error::new(
            Code::Unauthorized,
            "X-Auth-User and X-Auth-Key are required",
        )
        .into());
    };
    let dock = sign_in(&state, source(&parts), &user, &key).await?;
    let ttl = chrono::Duration::seconds(state.app.config.server.token_ttl_secs as i64);
    let (token, _) = docks::issue_token(&state.app.catalogue, &dock, ttl).await?;
    let mut resp = StatusCode::OK.into_response();
    let h = resp.headers_mut();
    let url = format!("{}/v1/AUTH_{}", state.public_url, dock.name);
    for (name, value) in [
        ("x-auth-token", token.clone()),
        ("x-storage-token", token),
        ("x-storage-url", url),
        (
            "x-auth-token-expires",
            state.app.config.server.token_ttl_secs.to_string(),
        ),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    Ok(resp)
}

fn check_account(dock: &Dock, account: &str) -> Result<()> {
    if account == format!("AUTH_{}", dock.name) {
        Ok(())
    } else {
        Err(Error::new(
            Code::Forbidden,
            format!("account {account} does not belong to this dock"),
        ))
    }
}

/// `X-<Container|Object>-Meta-<Key>` headers, URL-decoded, keyed as the spec spells them.
fn metadata(headers: &HeaderMap, prefix: &str) -> Result<Metadata> {
    let mut out = Metadata::new();
    for (name, value) in headers {
        let Some(key) = name.as_str().strip_prefix(prefix) else {
            continue;
        };
        let raw = value
            .to_str()
            .map_err(|_| Error::bad_input(format!("metadata {key} is not text")))?;
        let decoded = percent_encoding::percent_decode_str(raw)
            .decode_utf8()
            .map_err(|_| Error::bad_input(format!("metadata {key} is not URL-encoded UTF-8")))?;
        out.insert(door::canonical_key(key), decoded.into_owned());
    }
    door::check_metadata(&out)?;
    Ok(out)
}

async fn container(
    State(state): State<AppState>,
    DockAuth(dock): DockAuth,
    method: Method,
    Path((account, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let result: ApiResult<Response> = async {
        check_account(&dock, &account)?;
        let ctx = state.app.context();
        match method {
            Method::PUT if matches!(name.as_str(), "System" | "Users" | "Devices") => {
                Ok(StatusCode::ACCEPTED.into_response())
            }
            Method::PUT => {
                let meta = metadata(&headers, "x-container-meta-")?;
                let (_, created) = door::open_container(&ctx, &dock, &name, meta).await?;
                let complete = headers
                    .get("x-container-meta-status")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|s| s.eq_ignore_ascii_case("complete"));
                if complete {
                    door::update_container(&ctx, &dock, &name, Metadata::new()).await?;
                }
                Ok(if created {
                    StatusCode::CREATED
                } else {
                    StatusCode::ACCEPTED
                }
                .into_response())
            }
            Method::POST => {
                let meta = metadata(&headers, "x-container-meta-")?;
                door::update_container(&ctx, &dock, &name, meta).await?;
                Ok(StatusCode::NO_CONTENT.into_response())
            }
            Method::GET | Method::HEAD => {
                Err(Error::new(Code::Forbidden, "only System objects can be read").into())
            }
            _ => Err(refuse_method()),
        }
    }
    .await;
    result.unwrap_or_else(respond)
}

async fn object(
    State(state): State<AppState>,
    DockAuth(dock): DockAuth,
    method: Method,
    Path((account, container_name, name)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result: ApiResult<Response> = async {
        check_account(&dock, &account)?;
        match (method, container_name.as_str()) {
            (Method::GET | Method::HEAD, "System") => read_system(&state, &dock, &name).await,
            (Method::GET | Method::HEAD, _) => {
                Err(Error::new(Code::Forbidden, "only System objects can be read").into())
            }
            (Method::PUT, "System" | "Users" | "Devices") => {
                let meta = metadata(&headers, "x-object-meta-")?;
                axum::body::to_bytes(body, MAX_REGISTRY_BODY)
                    .await
                    .map_err(|_| {
                        Error::bad_input("registry objects carry metadata, not content")
                    })?;
                door::register(&state.app.context(), &dock, &container_name, &name, &meta).await?;
                Ok(StatusCode::CREATED.into_response())
            }
            (Method::PUT, _) => {
                put_object(&state, &dock, &container_name, &name, &headers, body).await
            }
            (Method::POST, _) => {
                let meta = metadata(&headers, "x-object-meta-")?;
                let container = find_container(&state, &dock, &container_name).await?;
                door::set_object_metadata(&state.app.context(), &dock, &container, &name, meta)
                    .await?;
                Ok(StatusCode::ACCEPTED.into_response())
            }
            _ => Err(refuse_method()),
        }
    }
    .await;
    result.unwrap_or_else(respond)
}

async fn find_container(
    state: &AppState,
    dock: &Dock,
    name: &str,
) -> Result<crate::catalogue::AxisContainer> {
    door::check_name("container", name)?;
    state
        .app
        .catalogue
        .axis_container(dock.id, name)
        .await?
        .ok_or_else(|| Error::not_found(format!("no container {name}")))
}

fn etag_header(headers: &HeaderMap) -> Result<Option<[u8; 16]>> {
    let Some(v) = headers.get("etag") else {
        return Ok(None);
    };
    let text = v.to_str().unwrap_or_default().trim().trim_matches('"');
    let mut md5 = [0u8; 16];
    hex::decode_to_slice(text, &mut md5)
        .map_err(|_| Error::bad_input(format!("ETag {text:?} is not an MD5")))?;
    Ok(Some(md5))
}

async fn put_object(
    state: &AppState,
    dock: &Dock,
    container_name: &str,
    name: &str,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let container = find_container(state, dock, container_name).await?;
    let meta = metadata(headers, "x-object-meta-")?;
    let kind = Kind::of(name, &meta);
    let length = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let recording_container = container.kind == crate::catalogue::ContainerKind::Recording;
    if length == Some(0) && kind == Kind::Clip && recording_container {
        return Err(Error::bad_input(format!("clip {name} is empty (zero bytes)")).into());
    }
    let max = state.app.config.axis.max_object_gib << 30;
    if let Some(len) = length
        && len > max
    {
        return Err(Error::new(
            Code::TooLarge,
            format!("{name} is {len} bytes; at most {max} are accepted"),
        )
        .into());
    }
    let _slot = state.upload_slot(dock).await?;
    state.check_space(length.unwrap_or(0))?;
    // A body without a length (chunked) may send no more than the store has room for.
    let limit = match state.room()? {
        Some(room) => room.min(max),
        None => max,
    };
    let ctx = state.app.context();
    let etag = etag_header(headers)?;
    let started = Instant::now();
    let content = if kind.read_whole(recording_container) {
        let bytes = axum::body::to_bytes(body, MAX_SMALL_OBJECT)
            .await
            .map_err(|_| {
                Error::new(
                    Code::TooLarge,
                    format!("{name} is larger than {MAX_SMALL_OBJECT} bytes (or did not arrive)"),
                )
            })?;
        Content::Small(bytes.to_vec())
    } else {
        Content::Stream(body_reader(body, limit, name))
    };
    let put = door::put_object(&ctx, dock, &container, name, meta, content, etag).await?;
    record_upload("axis", put.size, started.elapsed().as_secs_f64());
    let mut resp = StatusCode::CREATED.into_response();
    if let Ok(v) = HeaderValue::from_str(&put.md5.map(hex::encode).unwrap_or_default()) {
        resp.headers_mut().insert("etag", v);
    }
    Ok(resp)
}

/// A request body as a blocking reader for the store, which reads on its own thread; more than
/// `limit` bytes is an error, not a truncation.
fn body_reader(body: Body, limit: u64, name: &str) -> Input {
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));
    Input::Stream(Box::new(Limited {
        inner: reader,
        left: limit,
        name: name.to_owned(),
    }) as Box<dyn Read + Send>)
}

struct Limited<R> {
    inner: R,
    left: u64,
    name: String,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.left = self.left.checked_sub(n as u64).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::FileTooLarge,
                format!(
                    "{} is larger than the store can take now or than is accepted",
                    self.name
                ),
            )
        })?;
        Ok(n)
    }
}

fn json_object(value: serde_json::Value) -> Response {
    let body = serde_json::to_vec(&value).unwrap_or_default();
    let etag = hex::encode(md5::Md5::digest(&body));
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert("etag", v);
    }
    resp
}

/// What this content destination can do; each capability is honoured.
pub fn capabilities() -> serde_json::Value {
    json!({
        "Read": {"ReadCategories": true},
        "Store": {
            "StoreUserIDKey": true,
            "StoreBookmarks": true,
            "StoreSignedVideo": true,
            "StoreGNSSTrackRecording": true,
            "StoreRejectedContent": true
        },
        "StoreAndRead": {"StoreReadSystemID": true}
    })
}

async fn read_system(state: &AppState, dock: &Dock, name: &str) -> ApiResult<Response> {
    match name {
        "Capabilities.json" => Ok(json_object(capabilities())),
        "Categories.json" => {
            let list: Vec<_> = state
                .app
                .config
                .categories
                .iter()
                .map(|c| json!({"Name": c.name, "Id": c.id}))
                .collect();
            Ok(json_object(json!(list)))
        }
        _ => {
            door::check_name("object", name)?;
            let meta = state
                .app
                .catalogue
                .axis_registry(dock.id, "System", name)
                .await?
                .ok_or_else(|| Error::not_found(format!("no system object {name}")))?;
            let mut resp = StatusCode::OK.into_response();
            for (k, v) in meta {
                let value: String =
                    percent_encoding::utf8_percent_encode(&v, percent_encoding::NON_ALPHANUMERIC)
                        .to_string();
                if let (Ok(n), Ok(v)) = (
                    axum::http::HeaderName::from_bytes(
                        format!("x-object-meta-{}", k.to_ascii_lowercase()).as_bytes(),
                    ),
                    HeaderValue::from_str(&value),
                ) {
                    resp.headers_mut().insert(n, v);
                }
            }
            Ok(resp)
        }
    }
}
