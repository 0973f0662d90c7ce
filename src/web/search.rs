//! The home page: finding recordings. The search lives in the address, so a search can be
//! bookmarked or sent to a colleague (who sees only what their own role reaches). Posters are
//! stills of people: they show only when the person says why they are looking, and each one
//! shown is a consultation logged under that reason (DPA 2018 s.62).

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use uuid::Uuid;

use super::form::{Query, choice, day, given};
use super::view::{RecordingRow, classifications, words};
use super::{Chrome, PageResult, Viewer};
use crate::access::Permission;
use crate::catalogue::RecordingFilter;
use crate::consultation::{self, Justification};
use crate::domain::{ConsultedItem, RecordingStatus};
use crate::http::AppState;
use crate::http::stream::{self, Disposition, Source};
use crate::recording::footage::{self, Wanted};
use crate::recording::search;

/// Results on one page.
const PAGE: u32 = 25;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(page))
        .route("/recordings/{id}/poster", get(poster))
}

/// The search as the address carries it; every field is text, empty when not given.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SearchForm {
    pub officer: String,
    pub device: String,
    pub from: String,
    pub until: String,
    pub category: String,
    pub classification: String,
    pub status: String,
    pub case: String,
    pub text: String,
    /// Why the person wants to see posters: a reason code, or `case` for the case searched.
    pub stills: String,
    pub after: String,
}

impl SearchForm {
    fn filter(&self) -> crate::error::Result<RecordingFilter> {
        Ok(RecordingFilter {
            officer: given(&self.officer),
            device: given(&self.device),
            dock: None,
            from: day("from", &self.from, false)?,
            until: day("until", &self.until, true)?,
            category: given(&self.category),
            classification: choice("classification", &self.classification)?,
            status: choice("status", &self.status)?,
            case: given(&self.case),
            text: given(&self.text),
        })
    }

    /// The address of this search, from `after` when given.
    fn address(&self, after: Option<&str>) -> String {
        let fields = [
            ("officer", &self.officer),
            ("device", &self.device),
            ("from", &self.from),
            ("until", &self.until),
            ("category", &self.category),
            ("classification", &self.classification),
            ("status", &self.status),
            ("case", &self.case),
            ("text", &self.text),
            ("stills", &self.stills),
        ];
        let mut q: Vec<String> = fields
            .iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v.trim(), NON_ALPHANUMERIC)))
            .collect();
        if let Some(a) = after {
            q.push(format!(
                "after={}",
                utf8_percent_encode(a, NON_ALPHANUMERIC)
            ));
        }
        format!("/?{}", q.join("&"))
    }
}

/// An option of a select list, and whether it is chosen.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

fn choices(options: Vec<(String, String)>, chosen: &str) -> Vec<Choice> {
    options
        .into_iter()
        .map(|(value, label)| Choice {
            selected: value == chosen,
            value,
            label,
        })
        .collect()
}

#[derive(Template, WebTemplate)]
#[template(path = "search.html")]
struct SearchPage {
    chrome: Chrome,
    form: SearchForm,
    classifications: Vec<Choice>,
    statuses: Vec<Choice>,
    /// Reasons to show posters; empty when the person may not see footage.
    stills: Vec<Choice>,
    rows: Vec<RecordingRow>,
    next: Option<String>,
    first: Option<String>,
}

async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(form): Query<SearchForm>,
) -> PageResult<Response> {
    if viewer.who.require(Permission::SearchRecordings).is_err() {
        return Ok(Redirect::to(viewer.home()?).into_response());
    }
    let ctx = state.app.context();
    let filter = form.filter()?;
    let found = search::search(
        &ctx,
        &viewer.who,
        &filter,
        given(&form.after).as_deref(),
        PAGE,
    )
    .await?;
    let reason = given(&form.stills);
    let rows = found
        .recordings
        .iter()
        .map(|r| {
            let mut row = RecordingRow::of(r);
            if let Some(reason) = &reason {
                let seq = r.clips.first().map_or(1, |c| c.seq);
                row.poster = Some(
                    format!(
                        "/recordings/{}/poster?clip={seq}&reason={}",
                        r.id,
                        utf8_percent_encode(reason, NON_ALPHANUMERIC)
                    ) + &given(&form.case)
                        .filter(|_| reason == "case")
                        .map(|c| format!("&case={}", utf8_percent_encode(&c, NON_ALPHANUMERIC)))
                        .unwrap_or_default(),
                );
            }
            row
        })
        .collect();
    let mut reasons: Vec<(String, String)> = Vec::new();
    if viewer.who.require(Permission::ViewFootage).is_ok() {
        reasons.push((String::new(), "Do not show posters".into()));
        if given(&form.case).is_some() {
            reasons.push(("case".into(), "For the case searched".into()));
        }
        reasons.extend(
            ctx.config
                .consultation
                .reasons
                .iter()
                .map(|(code, meaning)| (code.clone(), meaning.clone())),
        );
    }
    let any = |v: Vec<(String, String)>| {
        let mut all = vec![(String::new(), "Any".to_owned())];
        all.extend(v);
        all
    };
    let page = SearchPage {
        chrome: viewer.chrome.at("/"),
        classifications: choices(
            any(classifications()
                .into_iter()
                .map(|(v, l)| (v.to_owned(), l))
                .collect()),
            &form.classification,
        ),
        statuses: choices(
            any(RecordingStatus::ALL
                .iter()
                .map(|s| (s.as_str().to_owned(), words(s.as_str())))
                .collect()),
            &form.status,
        ),
        stills: choices(reasons, &form.stills),
        rows,
        next: found.next.as_deref().map(|n| form.address(Some(n))),
        first: given(&form.after).map(|_| form.address(None)),
        form,
    };
    Ok(page.into_response())
}

#[derive(Deserialize)]
struct PosterQuery {
    clip: Option<i64>,
    reason: Option<String>,
    case: Option<String>,
}

/// A poster in a result list: justified by the reason the search gave, then logged as a look
/// at stills like any other.
async fn poster(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
    Query(q): Query<PosterQuery>,
    headers: HeaderMap,
) -> PageResult<Response> {
    let ctx = state.app.context();
    let justification = match q.reason.as_deref() {
        Some("case") => Justification {
            case: q.case,
            ..Default::default()
        },
        reason => Justification {
            reason: reason.map(str::to_owned),
            ..Default::default()
        },
    };
    let grant = consultation::justify(
        &ctx,
        &viewer.who,
        ConsultedItem::Recording,
        id,
        justification,
    )
    .await?;
    let f = footage::open(
        &ctx,
        &viewer.who,
        id,
        q.clip.unwrap_or(1),
        Wanted::Poster,
        Some(grant.consultation),
    )
    .await?;
    Ok(stream::serve(Source::Store(ctx.store), &f, &headers, Disposition::Inline).await?)
}
