//! Signing in and out, and who a request comes from. An API key is exchanged
//! for a session: a random token in an `HttpOnly`, `SameSite=Strict` cookie
//! (`Secure` when the server's public URL is https), of which the store
//! keeps only the hash, with the key it came from (revoking the key ends it)
//! and the form token every state-changing form carries. The sign-in form
//! has a token of its own, in a short-lived cookie (double submit).

use std::time::Duration;

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{AppState, PageError, page};
use crate::tenants::KeyHolder;

/// The session cookie.
const SESSION: &str = "cairn_session";
/// The sign-in form's token, before there is a session.
const SIGN_IN: &str = "cairn_sign_in";
/// How long a session lasts.
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// The signed-in person: the key's holder, and the session's form token.
pub struct Viewer {
    pub holder: KeyHolder,
    pub csrf: String,
    token: String,
}

impl Viewer {
    /// Refuses a form whose token is not this session's.
    pub fn check(&self, sent: Option<&str>) -> Result<(), PageError> {
        match sent {
            Some(sent) if same(sent, &self.csrf) => Ok(()),
            _ => Err(PageError::Forged),
        }
    }

    /// What every page's template sees of the viewer.
    pub fn context(&self) -> minijinja::Value {
        minijinja::context! {
            tenant => self.holder.tenant.clone(),
            name => self.holder.name.clone(),
            csrf => self.csrf.clone(),
        }
    }
}

/// Compares two tokens in time that does not depend on where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |diff, (x, y)| diff | (x ^ y))
            == 0
}

/// A cookie's value from the request's `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// A `Set-Cookie` value: the dashboard's cookies are all alike.
fn set_cookie(state: &AppState, name: &str, value: &str, max_age: Duration) -> HeaderValue {
    let secure = if state.host.links.served_over_https() {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        max_age.as_secs()
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let session = match cookie(&parts.headers, SESSION) {
            Some(token) => match state.host.keys.session(token) {
                Ok(found) => found.map(|record| (token.to_owned(), record)),
                Err(e) => return Err(PageError::Api(e.into()).into_response()),
            },
            None => None,
        };
        match session {
            Some((token, record)) => Ok(Viewer {
                holder: record.holder,
                csrf: record.csrf,
                token,
            }),
            // A page asks to sign in, then comes back; anything else (a form,
            // a fragment the page's script asks for) is refused.
            None if parts.method == Method::GET && !is_fragment(&parts.headers) => {
                let next = parts
                    .uri
                    .path_and_query()
                    .map_or("/", |p| p.as_str())
                    .to_owned();
                let next = urlencoding(&next);
                Err(Redirect::to(&format!("/sign-in?next={next}")).into_response())
            }
            None => Err(PageError::Api(super::ApiError::Unauthorized(
                "You are signed out. Sign in again; nothing was changed.".into(),
            ))
            .into_response()),
        }
    }
}

/// Whether the page's script asked (for a fragment, or a form's answer as
/// JSON) rather than the browser for a page.
pub(super) fn is_fragment(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| {
            accept.starts_with("application/json") || accept.starts_with("text/event-stream")
        })
}

/// Percent-encodes a path for a query parameter.
fn urlencoding(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Where to go after signing in: a path on this site, else the runs.
fn local(next: Option<&str>) -> &str {
    next.filter(|path| on_this_site(path)).unwrap_or("/runs")
}

/// Whether a path to go to after a form stays on this site: not `//host`,
/// nor `/\\host`, which browsers read as another host.
pub(super) fn on_this_site(path: &str) -> bool {
    path.starts_with('/') && !path.starts_with("//") && !path.contains('\\')
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// The sign-in form, with a fresh form token in its own cookie.
pub async fn sign_in_page(State(state): State<AppState>, Query(q): Query<NextQuery>) -> Response {
    sign_in_form(&state, StatusCode::OK, q.next.as_deref(), None)
}

fn sign_in_form(
    state: &AppState,
    status: StatusCode,
    next: Option<&str>,
    error: Option<&str>,
) -> Response {
    let token = match crate::tenants::random_token() {
        Ok(token) => token,
        Err(e) => return PageError::Api(e.into()).into_response(),
    };
    let mut response = page(
        status,
        "sign_in.html",
        minijinja::context! { csrf => token.clone(), next => local(next), error },
    );
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(state, SIGN_IN, &token, Duration::from_secs(3600)),
    );
    response
}

#[derive(Deserialize)]
pub struct SignIn {
    key: String,
    csrf: Option<String>,
    next: Option<String>,
}

/// Exchanges the key for a session.
pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<SignIn>,
) -> Response {
    let expected = cookie(&headers, SIGN_IN);
    if !matches!((expected, form.csrf.as_deref()), (Some(a), Some(b)) if same(a, b)) {
        return PageError::Forged.into_response();
    }
    let next = local(form.next.as_deref()).to_owned();
    match state
        .host
        .keys
        .open_session(form.key.trim(), SESSION_TTL)
        .await
    {
        Ok(Some(session)) => {
            let mut response = Redirect::to(&next).into_response();
            let cookies = response.headers_mut();
            cookies.append(
                header::SET_COOKIE,
                set_cookie(&state, SESSION, &session.token, SESSION_TTL),
            );
            cookies.append(
                header::SET_COOKIE,
                set_cookie(&state, SIGN_IN, "", Duration::ZERO),
            );
            response
        }
        Ok(None) => sign_in_form(
            &state,
            StatusCode::UNAUTHORIZED,
            Some(&next),
            Some("That key is not one this server knows. Check it and try again."),
        ),
        Err(e) => PageError::Api(e.into()).into_response(),
    }
}

#[derive(Deserialize)]
pub struct SignOut {
    csrf: Option<String>,
}

/// Ends the session, here and in the store.
pub async fn sign_out(
    State(state): State<AppState>,
    viewer: Viewer,
    axum::Form(form): axum::Form<SignOut>,
) -> Result<Response, PageError> {
    viewer.check(form.csrf.as_deref())?;
    state
        .host
        .keys
        .close_session(&viewer.token)
        .await
        .map_err(|e| PageError::Api(e.into()))?;
    let mut response = Redirect::to("/sign-in").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, SESSION, "", Duration::ZERO),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_on_this_site_are_gone_back_to() {
        assert_eq!(local(Some("/runs/1?x=2")), "/runs/1?x=2");
        assert_eq!(local(Some("//evil.example/")), "/runs");
        assert_eq!(local(Some("https://evil.example/")), "/runs");
        assert_eq!(local(Some("/\\evil.example")), "/runs");
        assert_eq!(local(None), "/runs");
    }

    #[test]
    fn cookies_are_read_by_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; cairn_session=t2"),
        );
        assert_eq!(cookie(&headers, SESSION), Some("t2"));
        assert_eq!(cookie(&headers, "b"), None);
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
