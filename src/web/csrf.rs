//! The CSRF check for every form, in one place: a state-changing request to a page must carry
//! the session's token (the form's hidden `csrf` field, or the `X-CSRF-Token` header), or it is
//! refused before any handler sees it. The token itself is the session's, as for the API.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use super::error::WebError;
use crate::error::{Code, Error};
use crate::http::people::check_csrf;

/// No form of these pages is bigger: a justification's free text is the longest field.
const MAX_FORM: usize = 64 * 1024;

pub async fn guard(session: Session, request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let too_large = || {
        WebError(Error::new(
            Code::TooLarge,
            format!("a form may send at most {MAX_FORM} bytes"),
        ))
        .into_response()
    };
    if declared.is_some_and(|n| n > MAX_FORM) {
        return too_large();
    }
    let bytes = match axum::body::to_bytes(body, MAX_FORM).await {
        Ok(b) => b,
        // Without a declared length, running past the limit is the likelier cause.
        Err(_) if declared.is_none() => return too_large(),
        Err(e) => {
            return WebError(Error::bad_input(format!(
                "the form did not arrive whole: {e}"
            )))
            .into_response();
        }
    };
    let sent = form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.into_owned());
    if let Err(e) = check_csrf(&session, &parts.headers, sent.as_deref()).await {
        return WebError(Error::new(
            Code::Forbidden,
            format!(
                "{e}: the form was not sent from this server's page, or the page is older than your session; reload it and try again"
            ),
        ))
        .into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}
