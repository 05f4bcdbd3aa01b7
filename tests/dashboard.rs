//! The dashboard's sessions and checks over HTTP, on both backends: sign-in
//! and its cookies, the form token, tenants kept apart, a revoked key's
//! sessions ended, and the headers every page carries. The browser suite
//! (`tests/browser/`) drives the pages themselves in Chromium.

use serde_json::json;

use crate::common::api::post_form_with;
use crate::common::api::{create_tenant, create_workflow, gated, plugins_dir, poll_until};
use crate::common::api::{setup, start_run, status_is};
use crate::common::server::{Reply, Server, create_key};

/// A browser's view of one session: its cookie and its form token.
struct Browser<'a> {
    server: &'a Server,
    cookie: String,
    csrf: String,
}

/// The value of cookie `name` set by `reply`, and the whole `Set-Cookie` line.
fn set_cookie<'r>(reply: &'r Reply, name: &str) -> Option<(&'r str, &'r str)> {
    reply.headers.get("set-cookie")?.lines().find_map(|line| {
        let value = line.strip_prefix(name)?.strip_prefix('=')?;
        Some((value.split(';').next().unwrap_or_default(), line))
    })
}

fn html(reply: &Reply) -> &str {
    reply.body.as_str().unwrap_or_default()
}

/// The value of the first hidden `csrf` field of a page.
fn form_token(page: &str) -> String {
    let at = page.find(r#"name="csrf" value=""#).expect("a form token") + 19;
    page[at..].split('"').next().unwrap_or_default().to_owned()
}

fn get(server: &Server, path: &str, cookie: &str) -> Reply {
    server.call_with("GET", path, None, None, &[("cookie", cookie)])
}

fn post(server: &Server, path: &str, cookie: &str, form: &str) -> Reply {
    post_form_with(server, path, form, &[("cookie", cookie)])
}

/// Signs in with `key` as the sign-in page's form does.
fn sign_in<'a>(server: &'a Server, key: &str) -> Result<Browser<'a>, Reply> {
    let page = server.call("GET", "/sign-in", None, None);
    assert_eq!(page.status, 200);
    let (token, _) = set_cookie(&page, "cairn_sign_in").expect("a sign-in token cookie");
    assert_eq!(form_token(html(&page)), token);
    let signed = post(
        server,
        "/sign-in",
        &format!("cairn_sign_in={token}"),
        &format!("key={key}&csrf={token}&next=/approvals"),
    );
    if signed.status != 303 {
        return Err(signed);
    }
    assert_eq!(signed.headers["location"], "/approvals");
    let (session, line) = set_cookie(&signed, "cairn_session").expect("a session cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(line.contains(flag), "{line}");
    }
    let cookie = format!("cairn_session={session}");
    let page = get(server, "/workflows/new", &cookie);
    assert_eq!(page.status, 200, "{:?}", page.body);
    Ok(Browser {
        server,
        csrf: form_token(html(&page)),
        cookie,
    })
}

impl Browser<'_> {
    fn get(&self, path: &str) -> Reply {
        get(self.server, path, &self.cookie)
    }

    fn post(&self, path: &str, form: &str) -> Reply {
        post(self.server, path, &self.cookie, form)
    }
}

#[test]
fn a_key_signs_in_and_every_form_needs_the_sessions_token() {
    let (_dir, server) = setup();
    // Signed out: pages ask to sign in and come back; forms are refused.
    let away = server.call("GET", "/runs?status=paused", None, None);
    assert_eq!(away.status, 303);
    assert_eq!(
        away.headers["location"],
        "/sign-in?next=/runs%3Fstatus%3Dpaused"
    );
    let wrong = sign_in(&server, "cairn_nope").err().expect("refused");
    assert_eq!(wrong.status, 401);
    assert!(html(&wrong).contains("not one this server knows"));
    // A sign-in form without its own token.
    let forged = post(&server, "/sign-in", "", &format!("key={}", server.key));
    assert_eq!(forged.status, 403);

    let browser = sign_in(&server, &server.key).expect("signed in");
    let workflow = create_workflow(&server, gated(), "active");
    let run = start_run(&server, &workflow, json!({"topic": "forms"}));
    poll_until(&server, &run, status_is("paused"));

    let page = browser.get(&format!("/runs/{run}"));
    assert_eq!(page.status, 200);
    assert!(html(&page).contains("Publish?"), "the pending action");
    for (name, value) in [
        ("content-security-policy", "frame-ancestors 'none'"),
        ("content-security-policy", "script-src 'self';"),
        ("referrer-policy", "same-origin"),
        ("x-frame-options", "DENY"),
        ("cache-control", "no-store"),
    ] {
        assert!(
            page.headers[name].contains(value),
            "{name}: {}",
            page.headers[name]
        );
    }
    assert!(!page.headers["content-security-policy"].contains("unsafe-inline"));
    assert!(!html(&page).contains(&server.key), "no key in any page");

    for form in [
        "step=review&decision=approve",
        "step=review&decision=approve&csrf=cairn_x",
    ] {
        let refused = browser.post(&format!("/runs/{run}/decide"), form);
        assert_eq!(refused.status, 403, "{form}");
    }
    assert_eq!(
        server.get(&format!("/v1/runs/{run}")).body["status"],
        "paused"
    );

    let decided = browser.post(
        &format!("/runs/{run}/decide"),
        &format!(
            "csrf={}&step=review&decision=approve&note=fine&back=/approvals",
            browser.csrf
        ),
    );
    assert_eq!(decided.status, 303, "{:?}", decided.body);
    assert_eq!(decided.headers["location"], "/approvals");
    let done = poll_until(&server, &run, status_is("completed"));
    let decision = &done["steps"][1]["decisions"][0];
    assert_eq!(
        decision["reviewer"], "admin",
        "it counts for the key's name"
    );
    assert_eq!(decision["note"], "fine");

    // Signing out ends the session in the store: the cookie is worth nothing.
    let out = browser.post("/sign-out", &format!("csrf={}", browser.csrf));
    assert_eq!(out.status, 303);
    assert!(set_cookie(&out, "cairn_session").is_some_and(|(v, _)| v.is_empty()));
    assert_eq!(browser.get("/runs").status, 303);
}

#[test]
fn tenants_see_only_their_own_and_a_revoked_key_ends_its_sessions() {
    let (_dir, server) = setup();
    let workflow = create_workflow(&server, gated(), "active");
    let run = start_run(&server, &workflow, json!({"topic": "mine"}));
    poll_until(&server, &run, status_is("paused"));

    let other = create_tenant(&server, "other");
    let b = sign_in(&server, &other).expect("tenant b signs in");
    for path in [
        format!("/runs/{run}"),
        format!("/runs/{run}/panel"),
        format!("/runs/{run}/live"),
        format!("/workflows/{workflow}"),
    ] {
        assert_eq!(b.get(&path).status, 404, "{path}");
    }
    for path in [format!("/runs/{run}/cancel"), format!("/runs/{run}/decide")] {
        let reply = b.post(
            &path,
            &format!("csrf={}&step=review&decision=approve", b.csrf),
        );
        assert_eq!(reply.status, 404, "{path}");
    }
    assert!(!html(&b.get("/runs")).contains(&run));
    assert!(!html(&b.get("/approvals")).contains(&run));
    assert_eq!(
        server.get(&format!("/v1/runs/{run}")).body["status"],
        "paused"
    );

    // A named key's session ends when the key is revoked.
    let named = create_key(&server, "default", "editor@example.com");
    let editor = sign_in(&server, &named).expect("a named key signs in");
    let page = editor.get("/approvals");
    assert!(
        html(&page).contains("editor@example.com"),
        "who is signed in"
    );
    assert!(html(&page).contains(&run), "the queue");
    let revoked = server.call(
        "DELETE",
        "/v1/keys/editor@example.com",
        Some(&server.key),
        None,
    );
    assert_eq!(revoked.status, 204, "{:?}", revoked.body);
    assert_eq!(editor.get("/approvals").status, 303);
}

#[test]
fn cookies_are_secure_when_the_public_url_is_https() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = plugins_dir(dir.path());
    let server = Server::start_with(
        &dir.path().join("data"),
        &plugins,
        &[("CAIRN_PUBLIC_URL", "https://cairn.example")],
    );
    let page = server.call("GET", "/sign-in", None, None);
    let (_, line) = set_cookie(&page, "cairn_sign_in").expect("a cookie");
    assert!(line.ends_with("; Secure"), "{line}");
    // The API is as it was: an unknown route is still a problem.
    let missing = server.call("GET", "/v1/nowhere", Some(&server.key), None);
    assert_eq!(missing.status, 404);
    assert_eq!(missing.content_type, "application/problem+json");
}
