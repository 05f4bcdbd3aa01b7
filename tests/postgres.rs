//! What only PostgreSQL has: settings that point at a server that is wrong,
//! down, or not Cairn's to change; a database that goes away while serving;
//! several hosts sharing one database, killed (`kill -9`) or frozen past
//! their lease (`SIGSTOP`). The rest of the suite runs on PostgreSQL as it
//! is (see `common::db`); these tests need a server and pass by doing
//! nothing when the suite runs on SQLite.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::json;

use crate::common::api::{
    assert_problem, create_workflow, gated, plugins_dir, poll_until, start_run, status_is,
};
use crate::common::db::{Client, Db, Val, database_url, postgres};
use crate::common::receivers::WebhookReceiver;
use crate::common::server::Server;
use crate::common::{GREET, component_bytes, eventually};

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

/// A host of a cluster: `cairn serve` over the cluster's shared data
/// directory (its key files and uploads) and so its one database, with the
/// tests' short lease (2 s: a host that dies is replaced within seconds).
fn cluster_host(data: &Path, plugins: &Path) -> Server {
    Server::process_with(data, plugins, &[("CAIRN_HTTP_ALLOW", r#"["127.0.0.1:*"]"#)])
}

/// The pid of the host that owns run `run` (none: no owner, or its host
/// row is gone).
fn owner_pid(db: &Db, run: &str) -> Option<u32> {
    let rows = db.query(
        "SELECT h.name FROM runs r JOIN hosts h ON h.id = r.owner WHERE r.id = ?1",
        &[Val::Text(run.to_owned())],
    );
    let name = rows.first()?[0].text()?.to_owned();
    name.strip_prefix("cairn pid ")?.parse().ok()
}

/// SIGSTOPs or SIGCONTs process `pid`.
fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

#[test]
fn three_hosts_share_the_runs_and_survive_each_others_kill_9() {
    let Some(_) = postgres() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let (data, plugins) = (dir.path().join("data"), plugins_dir(dir.path()));
    let hooks = WebhookReceiver::start();
    let mut hosts = vec![cluster_host(&data, &plugins)];
    let first = &hosts[0];
    let stored = first.call(
        "PUT",
        "/v1/secrets/hooks",
        Some(&first.key),
        Some(&json!({"value": crate::notifications::SECRET})),
    );
    assert!(
        stored.status == 200 || stored.status == 201,
        "{}",
        stored.body
    );
    let sleep = |name: &str, ms: u64| json!({"name": name, "type": "hostile", "config": {"attack": "sleep", "ms": ms}});
    let plain = create_workflow(
        first,
        json!({"name": "plain", "steps": [
            sleep("fetch", 1500),
            {"name": "flaky", "type": "hostile", "config": {"attack": "flaky", "succeed_at": 2},
             "retry": {"max_attempts": 3, "initial_backoff": "50ms"}},
            sleep("store", 100)
        ]}),
        "active",
    );
    let mut gated_definition = gated();
    gated_definition["notifications"] = json!({"webhooks": [
        {"url": hooks.url, "secret": "${secret:hooks}", "events": ["paused", "completed"]}
    ]});
    let gated = create_workflow(first, gated_definition, "active");
    let cron = create_workflow(
        first,
        json!({"name": "every-second", "steps": [{"name": "tick", "type": "noop"}],
               "schedule": {"cron": "* * * * * *", "overlap": "allow"}}),
        "active",
    );
    hosts.push(cluster_host(&data, &plugins));
    hosts.push(cluster_host(&data, &plugins));

    // 300 runs, started through all three hosts in turn.
    let mut plain_runs = Vec::new();
    let mut gated_runs = Vec::new();
    for i in 0..300 {
        let host = &hosts[i % 3];
        if i % 3 == 2 {
            gated_runs.push(start_run(
                host,
                &gated,
                json!({"topic": format!("item {i}")}),
            ));
        } else {
            plain_runs.push(start_run(host, &plain, json!({"n": i})));
        }
    }

    // Kill -9 one host while steps run, restart it; then another.
    let killed = hosts.remove(0);
    killed.kill();
    hosts.insert(0, cluster_host(&data, &plugins));
    std::thread::sleep(Duration::from_millis(1500));
    let killed = hosts.remove(1);
    killed.kill();
    hosts.insert(1, cluster_host(&data, &plugins));

    let db = Db::open(&data);
    let count = |sql: &str, id: &str| db.number(sql, &[Val::Text(id.to_owned())]);
    eventually("every plain run completes, every gated run pauses", || {
        let plain_done = count(
            "SELECT COUNT(*) FROM runs WHERE workflow_id = ?1 AND status = 'completed'",
            &plain,
        );
        let gated_paused = count(
            "SELECT COUNT(*) FROM runs WHERE workflow_id = ?1 AND status = 'paused'",
            &gated,
        );
        (plain_done == 200 && gated_paused == 100).then_some(())
    });

    // Each gated run is approved through a host other than the one it
    // paused on.
    for run in &gated_runs {
        let paused_on = owner_pid(&db, run);
        let other = hosts
            .iter()
            .find(|h| Some(h.pid()) != paused_on)
            .expect("another host");
        let resumed = other.post(
            &format!("/v1/runs/{run}/resume"),
            &json!({"step": "review", "input": "approve"}),
        );
        assert_eq!(resumed.status, 200, "{}", resumed.body);
    }
    eventually("every gated run completes", || {
        let done = count(
            "SELECT COUNT(*) FROM runs WHERE workflow_id = ?1 AND status = 'completed'",
            &gated,
        );
        (done == 100).then_some(())
    });
    for host in &hosts {
        poll_until(host, &gated_runs[0], status_is("completed"));
    }

    // No step completed twice; the steps cut off by the kills ran again.
    let twice = db.number(
        "SELECT COUNT(*) FROM (SELECT run_id, data FROM run_events WHERE kind = 'step_completed' \
         GROUP BY run_id, data HAVING COUNT(*) > 1) t",
        &[],
    );
    assert_eq!(twice, 0);
    let completed_plain_steps = count(
        "SELECT COUNT(*) FROM run_events e JOIN runs r ON r.id = e.run_id \
         WHERE r.workflow_id = ?1 AND e.kind = 'step_completed'",
        &plain,
    );
    assert_eq!(completed_plain_steps, 3 * 200);
    let recovered = db.number(
        "SELECT COUNT(*) FROM run_events WHERE kind = 'step_started' AND data LIKE '%\"recovered\":true%'",
        &[],
    );
    assert!(
        recovered > 0,
        "some step was cut off by a kill and ran again"
    );

    // The schedule fired each slot once, across the hosts.
    let fires = count(
        "SELECT COUNT(*) FROM schedule_fires WHERE workflow_id = ?1",
        &cron,
    );
    let slots = count(
        "SELECT COUNT(DISTINCT run_id) FROM schedule_fires WHERE workflow_id = ?1 AND outcome = 'started'",
        &cron,
    );
    let started = count(
        "SELECT COUNT(*) FROM schedule_fires WHERE workflow_id = ?1 AND outcome = 'started'",
        &cron,
    );
    let cron_runs = count("SELECT COUNT(*) FROM runs WHERE workflow_id = ?1", &cron);
    assert!(fires >= 5, "the schedule fired: {fires}");
    assert_eq!(slots, started, "a run per started slot");
    assert_eq!(cron_runs, started, "one run per slot, none twice");

    // Every notification arrived, each with one webhook-id however often it
    // came: a pause and a completion per gated run.
    let arrived = eventually("every notification arrives", || {
        let received = hooks.received();
        let ids: std::collections::BTreeMap<String, String> = received
            .iter()
            .filter(|d| d.accepted)
            .map(|d| (d.headers["webhook-id"].clone(), d.body.clone()))
            .collect();
        (ids.len() == 200).then_some(received)
    });
    let mut bodies: std::collections::BTreeMap<&str, &str> = Default::default();
    for delivery in &arrived {
        let id = delivery.headers["webhook-id"].as_str();
        let body = bodies.entry(id).or_insert(delivery.body.as_str());
        assert_eq!(*body, delivery.body, "one webhook-id, one notification");
    }
    let mut events: Vec<(String, String)> = bodies
        .values()
        .map(|body| {
            let body: serde_json::Value = serde_json::from_str(body).expect("JSON");
            (
                body["data"]["run_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                body["type"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    events.sort();
    let before = events.len();
    events.dedup();
    assert_eq!(
        events.len(),
        before,
        "each event was notified under one id: {events:?}"
    );
}

#[test]
fn a_host_whose_lease_ran_out_cannot_commit_over_the_host_that_took_its_run() {
    let Some(_) = postgres() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let (data, plugins) = (dir.path().join("data"), plugins_dir(dir.path()));
    let first = cluster_host(&data, &plugins);
    let second = cluster_host(&data, &plugins);
    let workflow = create_workflow(
        &first,
        json!({"name": "slow", "steps": [
            {"name": "slow", "type": "hostile", "config": {"attack": "sleep", "ms": 4000}},
            {"name": "after", "type": "noop"}
        ]}),
        "active",
    );
    let run = start_run(&first, &workflow, json!({}));
    let db = Db::open(&data);
    let events_of = |kind: &str| {
        db.query(
            "SELECT data FROM run_events WHERE run_id = ?1 AND kind = ?2 ORDER BY seq",
            &[Val::Text(run.clone()), Val::Text(kind.to_owned())],
        )
        .into_iter()
        .map(|row| {
            serde_json::from_str::<serde_json::Value>(row[0].text().expect("data")).expect("JSON")
        })
        .collect::<Vec<_>>()
    };
    eventually("the first host starts the slow step", || {
        (!events_of("step_started").is_empty()).then_some(())
    });
    assert_eq!(owner_pid(&db, &run), Some(first.pid()));

    // Frozen past its lease: the second host takes the run and runs the
    // step again; then the first wakes, its attempt done.
    signal(first.pid(), "-STOP");
    eventually(
        "the second host takes the run and starts the step again",
        || {
            let started = events_of("step_started");
            (started.len() == 2 && owner_pid(&db, &run) == Some(second.pid())).then_some(())
        },
    );
    signal(first.pid(), "-CONT");

    poll_until(&second, &run, status_is("completed"));
    let completed = events_of("step_completed");
    let slow: Vec<_> = completed.iter().filter(|e| e["step"] == "slow").collect();
    assert_eq!(slow.len(), 1, "{completed:?}");
    assert_eq!(
        slow[0]["attempt"], 2,
        "the new owner's attempt counts: {completed:?}"
    );
    assert_eq!(slow[0]["output"]["attempt"], 2, "{completed:?}");
    crate::common::eventually("the first host says it lost the run", || {
        let log = std::fs::read_to_string(&first.log).unwrap_or_default();
        log.contains("another host drives the run now")
            .then_some(())
    });
    // Both hosts serve the run as it ended.
    poll_until(&first, &run, status_is("completed"));
}

#[test]
fn hosts_share_uploads_and_follow_each_others_runs_live() {
    let Some(_) = postgres() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let (data, plugins) = (dir.path().join("data"), plugins_dir(dir.path()));
    let one = cluster_host(&data, &plugins);
    let two = cluster_host(&data, &plugins);

    // A tenant's upload through one host is a step type on the other at
    // once, and its runs run anywhere.
    let uploaded = one.call_with(
        "POST",
        "/v1/plugins",
        Some(&one.key),
        Some(("application/wasm", component_bytes(GREET))),
        &[],
    );
    assert_eq!(uploaded.status, 201, "{}", uploaded.body);
    let greeting = eventually("the other host knows the upload", || {
        let created = two.post(
            "/v1/workflows",
            &json!({"status": "active", "definition": {"name": "greeting", "steps": [
                {"name": "greet", "type": "greet@0.1", "input": {"name": "{{ input.who }}"}}
            ]}}),
        );
        (created.status == 201).then(|| created.body["id"].as_str().expect("id").to_owned())
    });
    let run = start_run(&one, &greeting, json!({"who": "cluster"}));
    let done = poll_until(&two, &run, status_is("completed"));
    assert_eq!(done["status"], "completed", "{done}");

    // A run started on one host is followed live on the other (long-polls
    // there answer with its changes), and resumed there.
    let gated = create_workflow(&one, gated(), "active");
    let run = start_run(&one, &gated, json!({"topic": "followed"}));
    let paused = poll_until(&two, &run, status_is("paused"));
    assert_eq!(paused["pending_action"]["step"], "review", "{paused}");
    let resumed = two.post(
        &format!("/v1/runs/{run}/resume"),
        &json!({"step": "review", "input": "approve"}),
    );
    assert_eq!(resumed.status, 200, "{}", resumed.body);
    let settled = one.get(&format!("/v1/runs/{run}?until=settled&wait=30s"));
    assert_eq!(settled.body["status"], "completed", "{}", settled.body);
}

#[test]
fn the_quota_and_forbid_hold_across_hosts_starting_runs_at_once() {
    let Some(_) = postgres() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let (data, plugins) = (dir.path().join("data"), plugins_dir(dir.path()));
    let settings = [("CAIRN_MAX_ACTIVE_RUNS_PER_TENANT", "6")];
    let hosts = [
        Server::process_with(&data, &plugins, &settings),
        Server::process_with(&data, &plugins, &settings),
    ];
    let mut single = gated();
    single["name"] = json!("single");
    single["concurrency"] = json!("forbid");
    let single = create_workflow(&hosts[0], single, "active");
    let many = create_workflow(&hosts[0], gated(), "active");

    // Both hosts at once, several requests each: the runs pause, and stay
    // active, so every start counts against both limits.
    let starts = |workflow: &str, each: usize| -> Vec<u16> {
        std::thread::scope(|scope| {
            let started: Vec<_> = (0..each * 2)
                .map(|i| {
                    let host = &hosts[i % 2];
                    scope.spawn(move || {
                        host.post(
                            &format!("/v1/workflows/{workflow}/runs"),
                            &json!({"input": {"topic": format!("start {i}")}}),
                        )
                        .status
                    })
                })
                .collect();
            started
                .into_iter()
                .map(|s| s.join().expect("a start"))
                .collect()
        })
    };
    let mut forbidden = starts(&single, 4);
    forbidden.sort_unstable();
    assert_eq!(
        forbidden,
        [201, 409, 409, 409, 409, 409, 409, 409],
        "forbid"
    );
    let mut quota = starts(&many, 6);
    quota.sort_unstable();
    let admitted = quota.iter().filter(|s| **s == 201).count();
    assert_eq!(admitted, 5, "the quota of 6 less the forbid run: {quota:?}");
    assert!(quota.iter().all(|s| *s == 201 || *s == 429), "{quota:?}");
}

#[test]
fn bench_cluster_runs_hosts_through_http_and_prints_figures() {
    let Some(admin) = postgres() else { return };
    let url = fresh_database(&admin, "cairn_bench_cluster");
    // Its own data directory: the default one is `cairn-data` in the
    // working directory (the servers' compiled plugins went to host/).
    let data = tempfile::tempdir().expect("tempdir");
    let output = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .arg("--data-dir")
        .arg(data.path())
        .args([
            "bench",
            "cluster",
            "--database",
            &url,
            "--hosts",
            "2",
            "--runs",
            "40",
            "--steps",
            "3",
            "--clients",
            "4",
            "--json",
        ])
        .output()
        .expect("cairn runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let figures: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    assert_eq!(figures["hosts"], 2, "{figures}");
    assert_eq!(figures["runs"], 40, "{figures}");
    for figure in ["durable_steps_per_second", "busy_transactions_per_second"] {
        assert!(
            figures[figure].as_f64().is_some_and(|n| n > 0.0),
            "{figures}"
        );
    }
    assert!(
        figures["run_p99_ms"].as_f64() >= figures["run_p50_ms"].as_f64(),
        "{figures}"
    );
    assert!(
        figures["idle_transactions_per_second_per_host"]
            .as_f64()
            .is_some_and(|n| n >= 0.0),
        "{figures}"
    );
    // Every run ran to its end, in the database the hosts shared: the 40,
    // and the 10 of 40 sequential steps.
    let db = Db::Postgres(Client::connect(&url));
    let completed = |workflow: &str| {
        db.number(
            "SELECT COUNT(*) FROM runs r JOIN workflows w ON w.id = r.workflow_id \
             WHERE w.name = ?1 AND r.status = 'completed'",
            &[Val::Text(workflow.to_owned())],
        )
    };
    assert_eq!(completed("cluster"), 40);
    assert_eq!(completed("cluster-long"), 10);
    assert!(
        figures["sequential_40_steps_ms"]
            .as_f64()
            .is_some_and(|ms| ms > 0.0),
        "{figures}"
    );
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
    assert_eq!(
        away.status,
        503,
        "{}: {}",
        away.body,
        std::fs::read_to_string(&server.log).unwrap_or_default()
    );
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
