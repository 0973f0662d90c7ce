//! Errors as pages: the same status and the same public message the API gives, in words a
//! person reads, with a way back. A request that needs a session and has none goes to sign-in.

use askama::Template;
use askama_web::WebTemplate;
use axum::response::{IntoResponse, Redirect, Response};

use crate::error::{Code, Error};
use crate::http::error::{public_message, status_for};

pub struct WebError(pub Error);

pub type PageResult<T> = std::result::Result<T, WebError>;

impl From<Error> for WebError {
    fn from(e: Error) -> Self {
        WebError(e)
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage {
    title: &'static str,
    message: String,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let code = self.0.code();
        if code == Code::Unauthorized {
            return Redirect::to("/auth/login").into_response();
        }
        let status = status_for(code);
        metrics::counter!("bwv_http_errors_total", "code" => code.as_str()).increment(1);
        if status.is_server_error() {
            tracing::error!(error = %self.0, "page failed");
        } else if code == Code::Forbidden {
            metrics::counter!("bwv_api_refusals_total").increment(1);
            tracing::warn!(error = %self.0, "page refused");
        }
        let title = match code {
            Code::Forbidden => "Not allowed",
            Code::NotFound => "Not found",
            Code::Gone => "No longer here",
            Code::BadInput | Code::Usage => "Please check what you entered",
            Code::Conflict => "That cannot be done now",
            _ if status.is_server_error() => "Something went wrong",
            _ => "That did not work",
        };
        let page = ErrorPage {
            title,
            message: public_message(&self.0),
        };
        (status, page).into_response()
    }
}
