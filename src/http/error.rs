//! Errors as HTTP responses: one status per error code, a JSON body
//! `{"error": {"code": "...", "message": "..."}}`, and every error counted in the metrics.

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::error::{Code, Error};

pub struct ApiError(pub Error);

/// The body of every refusal and failure the API and the doors answer with.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct ErrorDetail {
    /// Stable: `bad-input`, `unauthorized`, `forbidden`, `not-found`, `conflict`, `gone`, ...
    code: &'static str,
    message: String,
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

pub type ApiResult<T> = std::result::Result<T, ApiError>;

/// The status the Axis spec and tus give each kind of failure.
pub fn status_for(code: Code) -> StatusCode {
    match code {
        Code::BadInput | Code::Usage => StatusCode::BAD_REQUEST,
        Code::Unauthorized => StatusCode::UNAUTHORIZED,
        Code::LimitReached => StatusCode::PAYMENT_REQUIRED,
        Code::Forbidden => StatusCode::FORBIDDEN,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::Conflict => StatusCode::CONFLICT,
        Code::Gone => StatusCode::GONE,
        Code::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Code::Locked => StatusCode::LOCKED,
        // tus checksum extension: 460 Checksum Mismatch.
        Code::ChecksumMismatch => StatusCode::from_u16(460).unwrap_or(StatusCode::BAD_REQUEST),
        Code::Busy => StatusCode::SERVICE_UNAVAILABLE,
        Code::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        Code::StorageFull => StatusCode::INSUFFICIENT_STORAGE,
        Code::Store | Code::Catalogue | Code::Audit | Code::Config | Code::Io => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

/// What a caller is told in place of internal detail.
const HIDDEN: &str = "internal error; the server log has the details";

/// Whether an error's own message may be shown to a caller answered with `status`.
fn is_public(code: Code, status: StatusCode) -> bool {
    !status.is_server_error() || code == Code::Busy || code == Code::StorageFull
}

/// What the caller is told of an error: internal detail (paths, SQL, buckets) stays in the
/// server log, and the caller gets the code and a pointer to it.
pub fn public_message(e: &Error) -> String {
    if is_public(e.code(), status_for(e.code())) {
        e.to_string()
    } else {
        HIDDEN.to_owned()
    }
}

impl ApiError {
    pub fn response(self, status: StatusCode) -> Response {
        let code = self.0.code();
        metrics::counter!("bwv_http_errors_total", "code" => code.as_str()).increment(1);
        let message = if !is_public(code, status) {
            tracing::error!(error = %self.0, "request failed");
            HIDDEN.to_owned()
        } else if code == Code::Forbidden {
            // Refusals are for professional standards to see: who probes beyond their role.
            metrics::counter!("bwv_api_refusals_total").increment(1);
            tracing::warn!(error = %self.0, "refused");
            self.0.to_string()
        } else {
            tracing::info!(error = %self.0, status = status.as_u16(), "request refused");
            self.0.to_string()
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.as_str(),
                message,
            },
        };
        let mut resp = (status, Json(body)).into_response();
        match code {
            Code::Busy => {
                resp.headers_mut()
                    .insert("retry-after", HeaderValue::from_static("5"));
            }
            Code::RateLimited => {
                resp.headers_mut()
                    .insert("retry-after", HeaderValue::from_static("60"));
            }
            _ => {}
        }
        resp
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status_for(self.0.code());
        self.response(status)
    }
}
