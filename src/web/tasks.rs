//! A background task's progress (a package being built, a sweep running). The page's script
//! updates it in place until the task ends (a page that reloads itself moves a screen reader
//! back to the top every time, WCAG 2.2.1); without script, a link shows the latest.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use uuid::Uuid;

use super::view::{segment, when};
use super::{Chrome, PageResult, Viewer};
use crate::http::AppState;
use crate::http::api::tasks::TaskState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/tasks/{id}", get(page))
}

#[derive(Template, WebTemplate)]
#[template(path = "task.html")]
struct TaskPage {
    chrome: Chrome,
    id: Uuid,
    title: &'static str,
    running: bool,
    failed: Option<String>,
    started: String,
    done: u64,
    total: u64,
    percent: u64,
    /// Where to go on from a finished task, and what it made.
    then: Option<(String, String)>,
    facts: Vec<(String, String)>,
}

async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
) -> PageResult<TaskPage> {
    let t = state.tasks.get(&viewer.who, id)?;
    let result = t.result.clone().unwrap_or_default();
    let text = |k: &str| result.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    if t.kind == "disclosure-package"
        && t.state == TaskState::Succeeded
        && let Some(case) = text("case")
    {
        super::cases::forget_excerpts(&viewer, &case).await?;
    }
    let (title, back) = match t.kind {
        "disclosure-package" => (
            "Building a disclosure package",
            text("case").map(|c| {
                (
                    format!("/cases/{}", segment(&c)),
                    format!("Back to case {c}"),
                )
            }),
        ),
        "retention-sweep" => (
            "Retention sweep",
            Some(("/retention".to_owned(), "Back to retention".to_owned())),
        ),
        _ => ("Background task", None),
    };
    let mut facts = Vec::new();
    for key in ["package_id", "manifest_sha256"] {
        if let Some(v) = text(key) {
            facts.push((key.replace('_', " "), v));
        }
    }
    if let Some(swept) = result.get("swept").and_then(|s| s.as_object()) {
        for (k, v) in swept {
            if let Some(n) = v.as_u64() {
                facts.push((k.replace('_', " "), n.to_string()));
            }
        }
    }
    Ok(TaskPage {
        chrome: viewer.chrome,
        id,
        title,
        running: t.state == TaskState::Running,
        failed: t.error.as_ref().map(|e| {
            e.get("message")
                .and_then(|m| m.as_str())
                .unwrap_or("failed")
                .to_owned()
        }),
        started: when(t.started_at),
        done: t.done,
        total: t.total,
        percent: (t.done * 100).checked_div(t.total).unwrap_or(0).min(100),
        then: back,
        facts,
    })
}
