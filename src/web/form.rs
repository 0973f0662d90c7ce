//! Reading what a form or a search address sent: browsers send every field, filled or not, so
//! an empty field means "not given", and a field that does not parse is a clear error naming it.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use chrono::{DateTime, NaiveDate, Utc};
use serde::de::DeserializeOwned;

use super::error::WebError;
use crate::domain::Stored;
use crate::error::{Error, Result};

/// A posted form.
pub struct Form<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Form<T> {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &S) -> Result<Self, WebError> {
        axum::Form::<T>::from_request(req, state)
            .await
            .map(|axum::Form(v)| Form(v))
            .map_err(|e| WebError(Error::bad_input(format!("the form: {}", e.body_text()))))
    }
}

/// A page's query string.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, WebError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Query(v))
            .map_err(|e| WebError(Error::bad_input(format!("the address: {}", e.body_text()))))
    }
}

/// The field's text, or None when it was left empty.
pub fn given(field: &str) -> Option<String> {
    let t = field.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// A stored state chosen from a list.
pub fn choice<T: Stored>(name: &str, field: &str) -> Result<Option<T>> {
    given(field)
        .map(|v| {
            T::parse(&v).ok_or_else(|| {
                let known: Vec<&str> = T::ALL.iter().map(|s| s.as_str()).collect();
                Error::bad_input(format!("{name} {v:?} is not one of {}", known.join(", ")))
            })
        })
        .transpose()
}

/// A day from a date field (`YYYY-MM-DD`), as the instant it starts (UTC); `end` gives the
/// instant it ends instead, so a range of days includes its last day.
pub fn day(name: &str, field: &str, end: bool) -> Result<Option<DateTime<Utc>>> {
    let Some(v) = given(field) else {
        return Ok(None);
    };
    let d = NaiveDate::parse_from_str(&v, "%Y-%m-%d")
        .map_err(|_| Error::bad_input(format!("{name} {v:?} is not a date (YYYY-MM-DD)")))?;
    let d = if end { d.succ_opt().unwrap_or(d) } else { d };
    Ok(d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Classification;

    #[test]
    fn empty_fields_are_not_given() {
        assert_eq!(given("  "), None);
        assert_eq!(given(" 1234 ").as_deref(), Some("1234"));
    }

    #[test]
    fn choices_and_days_name_what_is_wrong() {
        assert_eq!(
            choice::<Classification>("classification", "evidential").unwrap(),
            Some(Classification::Evidential)
        );
        let e = choice::<Classification>("classification", "maybe").unwrap_err();
        assert!(e.to_string().contains("unreviewed"), "{e}");
        let e = day("from", "03/12/2026", false).unwrap_err();
        assert!(e.to_string().contains("YYYY-MM-DD"), "{e}");
        let until = day("until", "2026-12-03", true).unwrap().unwrap();
        assert_eq!(until.to_rfc3339(), "2026-12-04T00:00:00+00:00");
    }
}
