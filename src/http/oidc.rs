//! Signing people in with OpenID Connect: the authorization code flow with PKCE and a nonce,
//! against the force's identity provider (Entra ID, or any provider that publishes discovery).
//! Discovery, the ID token's signature, issuer, audience, expiry and nonce are all checked by the
//! `openidconnect` crate; this module only carries the flow's state in the session and hands the
//! verified claims to `access::sign_in`.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken,
    EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields, IssuerUrl,
    Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, StandardErrorResponse,
    StandardTokenResponse, TokenResponse,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use super::error::{ApiError, ApiResult};
use super::people::session_error;
use super::{AppState, sessions};
use crate::access::sign_in::{Claims, sign_in};
use crate::config::IdentityConfig;
use crate::error::{Code, Error, Result};

/// Claims beyond the standard ones, kept whole: which of them carry roles, staff number and
/// team is configuration (`identity.*_claim`), not code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExtraClaims(HashMap<String, serde_json::Value>);

impl AdditionalClaims for ExtraClaims {}

impl ExtraClaims {
    fn text(&self, name: &str) -> Option<String> {
        match self.0.get(name)? {
            serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    fn list(&self, name: &str) -> Vec<String> {
        match self.0.get(name) {
            Some(serde_json::Value::Array(values)) => values
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            Some(serde_json::Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        }
    }
}

type TokenFields = IdTokenFields<
    ExtraClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// The client as discovery leaves it: authorization endpoint set, token and user-info
/// endpoints as the provider published them.
type OidcClient = Client<
    ExtraClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    StandardTokenResponse<TokenFields, CoreTokenType>,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The identity provider, as discovered when the server starts.
pub struct Provider {
    client: OidcClient,
    http: openidconnect::reqwest::Client,
    scopes: Vec<String>,
    staff_number_claim: Option<String>,
    team_claim: Option<String>,
}

/// Where a sign-in in progress keeps its secrets: in the session, never in the browser's URL.
const PENDING: &str = "oidc_pending";

#[derive(Serialize, Deserialize)]
struct Pending {
    state: String,
    nonce: String,
    verifier: String,
    /// Where to go after signing in (a path on this server).
    next: String,
}

impl Provider {
    /// Discovers the provider; None when no issuer is configured.
    pub async fn discover(config: &IdentityConfig, public_url: &str) -> Result<Option<Provider>> {
        let Some(issuer) = &config.issuer else {
            return Ok(None);
        };
        let bad = |what: &str, e: &dyn std::fmt::Display| {
            Error::new(
                Code::Config,
                format!("identity provider {issuer}: {what}: {e}"),
            )
        };
        // Redirects are not followed: a provider's endpoints must be what discovery says
        // (the openidconnect crate's advice against server-side request forgery).
        let http = openidconnect::reqwest::ClientBuilder::new()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| bad("building the HTTP client", &e))?;
        let issuer_url = IssuerUrl::new(issuer.clone()).map_err(|e| bad("not a URL", &e))?;
        let metadata = CoreProviderMetadata::discover_async(issuer_url, &http)
            .await
            .map_err(|e| bad("discovery failed", &e))?;
        let redirect = RedirectUrl::new(format!("{public_url}/auth/callback"))
            .map_err(|e| bad("callback URL", &e))?;
        let client = OidcClient::from_provider_metadata(
            metadata,
            ClientId::new(config.client_id.clone()),
            config
                .client_secret
                .as_ref()
                .map(|s| ClientSecret::new(s.expose_secret().to_owned())),
        )
        .set_redirect_uri(redirect);
        Ok(Some(Provider {
            client,
            http,
            scopes: config.scopes.clone(),
            staff_number_claim: config.staff_number_claim.clone(),
            team_claim: config.team_claim.clone(),
        }))
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/login", get(login))
        .route("/auth/callback", get(callback))
        .route("/auth/logout", post(logout))
}

fn provider(state: &AppState) -> Result<&Provider> {
    state.identity.as_ref().ok_or_else(|| {
        Error::new(
            Code::NotFound,
            "signing in is not set up on this server (identity.issuer)",
        )
    })
}

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

/// Only a path on this server: an attacker's link must not bounce a person elsewhere.
fn local_path(next: Option<String>) -> String {
    match next {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p,
        _ => "/".into(),
    }
}

async fn login(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<LoginQuery>,
) -> ApiResult<Response> {
    let provider = provider(&state)?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = provider.client.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        CsrfToken::new_random,
        Nonce::new_random,
    );
    for scope in &provider.scopes {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let (url, csrf, nonce) = request.set_pkce_challenge(challenge).url();
    let pending = Pending {
        state: csrf.secret().clone(),
        nonce: nonce.secret().clone(),
        verifier: verifier.secret().clone(),
        next: local_path(q.next),
    };
    session
        .insert(PENDING, pending)
        .await
        .map_err(session_error)?;
    Ok(Redirect::to(url.as_str()).into_response())
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(
    State(state): State<AppState>,
    ConnectInfo(from): ConnectInfo<std::net::SocketAddr>,
    session: Session,
    Query(q): Query<CallbackQuery>,
) -> ApiResult<Response> {
    let provider = provider(&state)?;
    let _attempt = state.throttle.admit(from.ip(), None)?;
    let pending: Option<Pending> = session.remove(PENDING).await.map_err(session_error)?;
    let refuse = |why: String| {
        state.throttle.failed(from.ip(), None, "failed sign-in");
        tracing::warn!(source = %from.ip(), why = %why, "sign-in refused");
        ApiError(Error::new(
            Code::Unauthorized,
            format!("sign-in failed: {why}"),
        ))
    };
    if let Some(error) = q.error {
        return Err(refuse(format!(
            "the identity provider said {error}{}",
            q.error_description
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        )));
    }
    let pending = pending.ok_or_else(|| refuse("no sign-in was started in this browser".into()))?;
    let (Some(code), Some(returned)) = (q.code, q.state) else {
        return Err(refuse("the provider sent no code".into()));
    };
    if returned != pending.state {
        return Err(refuse(
            "the state does not match the sign-in started".into(),
        ));
    }
    let tokens = provider
        .client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| refuse(format!("the provider has no token endpoint: {e}")))?
        .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier))
        .request_async(&provider.http)
        .await
        .map_err(|e| refuse(format!("exchanging the code: {e}")))?;
    let id_token = tokens
        .id_token()
        .ok_or_else(|| refuse("the provider sent no ID token".into()))?;
    let verifier = provider.client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &Nonce::new(pending.nonce))
        .map_err(|e| refuse(format!("the ID token does not verify: {e}")))?;
    let extra = claims.additional_claims();
    let claims = Claims {
        issuer: claims.issuer().to_string(),
        subject: extra
            .text("oid")
            .unwrap_or_else(|| claims.subject().to_string()),
        name: claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.to_string()),
        roles: extra.list("roles"),
        staff_number: provider
            .staff_number_claim
            .as_deref()
            .and_then(|c| extra.text(c)),
        team: provider.team_claim.as_deref().and_then(|c| extra.text(c)),
    };
    let principal = sign_in(&state.app.context(), &claims).await?;
    // A new session id at the moment of signing in: one planted before cannot be taken over.
    session.cycle_id().await.map_err(session_error)?;
    session
        .insert(sessions::PERSON, principal.person)
        .await
        .map_err(session_error)?;
    tracing::info!(person = ?principal.person, roles = %principal.roles, "signed in");
    Ok(Redirect::to(&pending.next).into_response())
}

/// Signs out: the session is deleted in the catalogue, so its cookie is worthless.
async fn logout(session: Session, headers: HeaderMap) -> ApiResult<Response> {
    super::people::check_csrf(&session, &headers, None).await?;
    sign_out(&session).await?;
    Ok(Redirect::to("/").into_response())
}

/// Ends the session, whichever door asked (the API's header, or the web page's form).
pub async fn sign_out(session: &Session) -> Result<()> {
    session.flush().await.map_err(session_error)
}
