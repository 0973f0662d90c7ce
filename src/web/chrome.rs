//! Who is looking at a page, and what frames every page: the navigation their roles open, their
//! name, the CSRF token forms carry, and a message left by the last action. A person without a
//! session is sent to sign in and brought back to the page they asked for.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use tower_sessions::Session;

use super::error::WebError;
use crate::access::{Permission, Principal};
use crate::error::{Code, Error};
use crate::http::AppState;
use crate::http::people::{csrf_token, session_error, signed_in};

/// Where an action leaves its message for the next page.
const FLASH: &str = "flash";

/// One place in the navigation, shown to those whose roles open it.
pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
}

const NAV: &[(&str, &str, Permission)] = &[
    ("/", "Search", Permission::SearchRecordings),
    ("/review", "Review queue", Permission::Classify),
    ("/cases", "Cases", Permission::ManageCases),
    ("/retention", "Retention", Permission::ManageRetention),
    ("/holds", "Holds", Permission::ManageHolds),
    ("/audit", "Audit", Permission::ReadAudit),
    ("/admin", "Docks and people", Permission::Administer),
];

pub struct Chrome {
    pub name: String,
    pub roles: String,
    pub csrf: String,
    pub nav: Vec<NavLink>,
    /// The navigation entry of the page shown.
    pub current: &'static str,
    pub flash: Option<String>,
}

impl Chrome {
    /// Marks which navigation entry the page is.
    pub fn at(mut self, href: &'static str) -> Chrome {
        self.current = href;
        self
    }
}

/// The signed-in person, with the page frame made for them.
pub struct Viewer {
    pub who: Principal,
    pub chrome: Chrome,
    pub session: Session,
}

impl Viewer {
    /// Leaves a message for the next page this person sees (after a redirect).
    pub async fn tell(&self, message: impl Into<String>) -> Result<(), WebError> {
        self.session
            .insert(FLASH, message.into())
            .await
            .map_err(|e| WebError(session_error(e)))
    }

    /// The first page the person's roles open: where `/` sends those who cannot search.
    pub fn home(&self) -> Result<&'static str, WebError> {
        self.chrome.nav.first().map(|n| n.href).ok_or_else(|| {
            WebError(Error::new(
                Code::Forbidden,
                "you are signed in, but your roles open no page of bwv: ask an administrator",
            ))
        })
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let who = match signed_in(state, &session).await {
            Ok(Some(who)) => who,
            Ok(None) => {
                if state.identity.is_none() {
                    return Err(WebError(Error::new(
                        Code::NotFound,
                        "signing in is not set up on this server: see identity.issuer in docs/people.md",
                    ))
                    .into_response());
                }
                let here = parts
                    .uri
                    .path_and_query()
                    .map_or("/", |p| p.as_str())
                    .to_owned();
                let next = utf8_percent_encode(&here, NON_ALPHANUMERIC);
                return Err(Redirect::to(&format!("/auth/login?next={next}")).into_response());
            }
            Err(e) => return Err(WebError(e).into_response()),
        };
        let csrf = csrf_token(&session)
            .await
            .map_err(|e| WebError(e).into_response())?;
        let flash = session
            .remove::<String>(FLASH)
            .await
            .map_err(|e| WebError(session_error(e)).into_response())?;
        let nav = NAV
            .iter()
            .filter(|(_, _, p)| who.require(*p).is_ok())
            .map(|(href, label, _)| NavLink { href, label })
            .collect();
        let chrome = Chrome {
            name: who.name.clone().unwrap_or_else(|| who.actor.id.clone()),
            roles: who.roles.to_string(),
            csrf,
            nav,
            current: "",
            flash,
        };
        Ok(Viewer {
            who,
            chrome,
            session,
        })
    }
}
