//! What only PostgreSQL has: settings that point at a server that is wrong,
//! down, or not Cairn's to change; a database that goes away while serving;
//! one host per database until leases let several share one. The rest of the
//! suite runs on PostgreSQL as it is (see `common::db`); these tests need a
//! server and pass by doing nothing when the suite runs on SQLite.

use std::process::{Command, Output};

use serde_json::json;

use crate::common::api::{
    assert_problem, create_workflow, gated, plugins_dir, poll_until, start_run, status_is,
};
use crate::common::db::{Client, database_url, postgres};
use crate::common::server::Server;

/// `cairn serve` with `CAIRN_DATABASE=url` over a fresh data directory, to
/// its exit (each case here fails before it would listen).
fn serve_on(url: &str) -> Output {
    let dir = tempfile::tempdir().expect("tempdir");
    Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("CAIRN_DATA_DIR", dir.path().join("data"))
        .env("CAIRN_PLUGINS_DIR", plugins_dir(dir.path()))
        .env("CAIRN_DATABASE", url)
        .output()
        .expect("cairn runs")
}

/// The exit failed with exactly one line on stderr, which says `what`.
fn refused_with_one_line(output: &Output, what: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!output.status.success(), "{stderr}");
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].contains(what), "{stderr}");
}

/// A fresh database on the test server; its URL.
fn fresh_database(admin: &str, name: &str) -> String {
    let client = Client::connect(admin);
    client.batch(&format!("DROP DATABASE IF EXISTS {name}"));
    client.batch(&format!("CREATE DATABASE {name}"));
    format!("{}/{name}", admin.rsplit_once('/').expect("a URL").0)
}

/// Whether the database at `url` has any table in its public schema.
fn tables_in(url: &str) -> i64 {
    crate::common::db::Db::Postgres(Client::connect(url)).number(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'",
        &[],
    )
}

#[test]
fn bad_database_settings_get_one_line_a_failing_exit_and_create_nothing() {
    let Some(admin) = postgres() else { return };
    let base = admin.rsplit_once('/').expect("a URL").0.to_owned();

    refused_with_one_line(
        &serve_on("postgres://cairn@127.0.0.1:notaport/x"),
        "the database URL is not valid",
    );

    // A server that is down: a loopback port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a port")
        .local_addr()
        .expect("address")
        .port();
    refused_with_one_line(
        &serve_on(&format!("postgres://cairn@127.0.0.1:{port}/cairn")),
        "the database is unavailable: cannot connect",
    );

    // A database that does not exist, and a role without the right to
    // create tables in the one it may connect to: nothing is created.
    refused_with_one_line(
        &serve_on(&format!("{base}/no_such_database")),
        "does not exist",
    );
    let url = fresh_database(&admin, "cairn_limited");
    let admin_client = Client::connect(&url);
    admin_client.batch(
        "DROP ROLE IF EXISTS cairn_reader; CREATE ROLE cairn_reader LOGIN; \
         REVOKE CREATE ON SCHEMA public FROM PUBLIC",
    );
    let limited = url.replacen("cairn@", "cairn_reader@", 1);
    refused_with_one_line(&serve_on(&limited), "permission denied");
    assert_eq!(tables_in(&url), 0, "nothing half-created");

    // A database a newer Cairn migrated is refused, and left as it was.
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let server = Server::process(&data, &plugins_dir(dir.path()));
    let newer = database_url(&data).expect("on PostgreSQL");
    server.stop();
    Client::connect(&newer).batch("UPDATE cairn_schema SET version = version + 1");
    refused_with_one_line(&serve_on(&newer), "newer than this binary");
    let kept = crate::common::db::Db::Postgres(Client::connect(&newer))
        .number("SELECT COUNT(*) FROM tenants", &[]);
    assert_eq!(kept, 1);
}

#[test]
fn one_host_drives_a_database_until_leases_let_several() {
    let Some(_) = postgres() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let server = Server::process(&data, &plugins_dir(dir.path()));
    let url = database_url(&data).expect("on PostgreSQL");
    refused_with_one_line(&serve_on(&url), "another Cairn host is using this database");
    // The first host is untouched.
    let workflow = create_workflow(&server, gated(), "active");
    let run = start_run(&server, &workflow, json!({"topic": "one host"}));
    poll_until(&server, &run, status_is("paused"));
}

#[test]
fn a_database_that_goes_away_answers_503_and_nothing_committed_is_lost() {
    let Some(admin) = postgres() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let server = Server::process(&data, &plugins_dir(dir.path()));
    let url = database_url(&data).expect("on PostgreSQL");
    let name = url.rsplit_once('/').expect("a URL").1.to_owned();
    let workflow = create_workflow(&server, gated(), "active");
    let run = start_run(&server, &workflow, json!({"topic": "away"}));
    poll_until(&server, &run, status_is("paused"));

    // The database refuses connections and drops the server's.
    let control = Client::connect(&admin);
    control.batch(&format!(
        "ALTER DATABASE {name} ALLOW_CONNECTIONS false; \
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ));
    let away = server.call(
        "POST",
        &format!("/v1/workflows/{workflow}/runs"),
        Some(&server.key),
        Some(&json!({"input": {"topic": "lost?"}})),
    );
    // The key may be known already (cached) or not: either the start or the
    // key's lookup meets the missing database.
    assert_problem(&away, 503, "unavailable");
    assert_eq!(
        away.headers.get("retry-after").map(String::as_str),
        Some("5")
    );

    // Back: the server reconnects by itself, and the paused run is as it was.
    control.batch(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"));
    let back = crate::common::eventually("the server serves again", || {
        let reply = server.get(&format!("/v1/runs/{run}"));
        (reply.status == 200).then_some(reply.body)
    });
    assert_eq!(back["status"], "paused", "{back}");
    let resumed = server.post(
        &format!("/v1/runs/{run}/resume"),
        &json!({"step": "review", "input": "approve"}),
    );
    assert_eq!(
        resumed.status,
        200,
        "{}: {}",
        resumed.body,
        std::fs::read_to_string(&server.log).unwrap_or_default()
    );
    poll_until(&server, &run, status_is("completed"));
}
