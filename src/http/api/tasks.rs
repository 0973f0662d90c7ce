//! Long operations started over the API (a disclosure package, a retention sweep) run in the
//! background on this node; the caller polls `/api/v1/tasks/{id}` for progress and the result.
//! Only the person who started a task sees it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use indicatif::ProgressBar;
use serde::Serialize;

use crate::access::Principal;
use crate::error::{Error, Result};
use crate::http::AppState;
use crate::http::api::ErrorBody;
use crate::http::error::ApiResult;
use crate::http::people::Caller;

/// Finished tasks are forgotten after this long.
const KEEP_FINISHED_HOURS: i64 = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TaskState {
    Running,
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TaskView {
    pub id: Uuid,
    pub kind: &'static str,
    pub state: TaskState,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Units done of `total` (bytes for a package, recordings for a sweep); 0 of 0 until the
    /// operation knows how much there is.
    pub done: u64,
    pub total: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<serde_json::Value>,
}

struct Task {
    actor: String,
    view: TaskView,
    bar: ProgressBar,
}

#[derive(Clone, Default)]
pub struct Tasks {
    inner: Arc<Mutex<HashMap<Uuid, Task>>>,
}

impl Tasks {
    /// Starts `work` in the background for `who`; it reports progress on the bar it is given.
    pub fn spawn<F, Fut>(&self, who: &Principal, kind: &'static str, work: F) -> TaskView
    where
        F: FnOnce(ProgressBar) -> Fut,
        Fut: Future<Output = Result<serde_json::Value>> + Send + 'static,
    {
        let id = Uuid::now_v7();
        let bar = ProgressBar::hidden();
        let view = TaskView {
            id,
            kind,
            state: TaskState::Running,
            started_at: crate::domain::now(),
            finished_at: None,
            done: 0,
            total: 0,
            result: None,
            error: None,
        };
        let fut = work(bar.clone());
        {
            let mut tasks = self.lock();
            let cutoff = crate::domain::now() - chrono::Duration::hours(KEEP_FINISHED_HOURS);
            tasks.retain(|_, t| t.view.finished_at.is_none_or(|f| f > cutoff));
            tasks.insert(
                id,
                Task {
                    actor: who.actor.id.clone(),
                    view: view.clone(),
                    bar,
                },
            );
        }
        let tasks = self.clone();
        tokio::spawn(async move {
            let outcome = fut.await;
            let mut all = tasks.lock();
            if let Some(t) = all.get_mut(&id) {
                t.view.finished_at = Some(crate::domain::now());
                match outcome {
                    Ok(v) => {
                        t.view.state = TaskState::Succeeded;
                        t.view.result = Some(v);
                    }
                    Err(e) => {
                        tracing::warn!(task = %id, kind, error = %e, "background task failed");
                        t.view.state = TaskState::Failed;
                        t.view.error = Some(serde_json::json!({
                            "code": e.code().as_str(),
                            "message": crate::http::error::public_message(&e),
                        }));
                    }
                }
            }
        });
        view
    }

    /// A task as its starter sees it; to anyone else it does not exist.
    pub fn get(&self, who: &Principal, id: Uuid) -> Result<TaskView> {
        let tasks = self.lock();
        let t = tasks
            .get(&id)
            .filter(|t| t.actor == who.actor.id)
            .ok_or_else(|| Error::not_found(format!("no task {id} of yours on this server")))?;
        let mut v = t.view.clone();
        v.done = t.bar.position();
        v.total = t.bar.length().unwrap_or(0);
        Ok(v)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Task>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(show))
}

#[utoipa::path(
    get,
    path = "/api/v1/tasks/{id}",
    tag = "tasks",
    summary = "A background task you started: progress, then its result",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "done", body = TaskView), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn show(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<TaskView>> {
    Ok(Json(state.tasks.get(&caller, id)?))
}
