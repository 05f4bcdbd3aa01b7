//! Cairn's server on 127.0.0.1:0, and a small HTTP client for it: in this
//! test's process (`Server::start`: the same host and API `cairn serve`
//! starts, on threads of its own), or as the real `cairn serve` process
//! (`Server::process`) for tests that need one: crashes, signals, memory,
//! the server's log.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

pub struct Server {
    child: Option<Child>,
    in_process: Option<InProcess>,
    pub url: String,
    pub key: String,
    pub data_dir: PathBuf,
    /// The server's stderr: its log (a server process's only).
    pub log: PathBuf,
}

/// A server on a thread of this process: told to stop, then joined.
struct InProcess {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Where every test's server keeps compiled plugins.
fn shared_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("compiled")
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Value,
    /// Every response header, by lowercase name (a repeated one's values
    /// on lines of their own).
    pub headers: std::collections::HashMap<String, String>,
}

impl Server {
    /// Starts a server in this process over `data_dir` with the fixtures in
    /// `plugins_dir`.
    pub fn start(data_dir: &Path, plugins_dir: &Path) -> Server {
        Self::start_with(data_dir, plugins_dir, &[])
    }

    /// The same, with more `CAIRN_*` settings.
    pub fn start_with(data_dir: &Path, plugins_dir: &Path, settings: &[(&str, &str)]) -> Server {
        let overrides: Vec<(String, String)> = settings
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        let (data, plugins) = (data_dir.to_owned(), plugins_dir.to_owned());
        let (address, announced) = mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let pairs: Vec<(&str, &str)> = overrides
                    .iter()
                    .map(|(name, value)| (name.as_str(), value.as_str()))
                    .collect();
                let mut settings =
                    cairn::server::Settings::load_with(None, &pairs).expect("settings");
                settings.listen = "127.0.0.1:0".to_owned();
                if settings.database.is_none() {
                    settings.database = super::db::database_url(&data);
                }
                settings.data_dir = data;
                settings.plugins_dir = plugins;
                settings.cache_dir = Some(shared_cache());
                settings.shutdown_grace = "5s".to_owned();
                let running = cairn::server::start(settings, async {
                    let _ = stopped.await;
                })
                .await
                .expect("the server starts");
                let _ = address.send(running.url.clone());
                running.finish().await.expect("the server stops");
            });
        });
        let url = announced
            .recv_timeout(Duration::from_secs(120))
            .expect("the server started");
        Self::started(
            data_dir,
            url,
            None,
            Some(InProcess {
                stop: Some(stop),
                thread: Some(thread),
            }),
        )
    }

    fn started(
        data_dir: &Path,
        url: String,
        child: Option<Child>,
        in_process: Option<InProcess>,
    ) -> Server {
        let key = std::fs::read_to_string(data_dir.join("default-api-key"))
            .expect("default key file")
            .trim()
            .to_owned();
        Server {
            child,
            in_process,
            url,
            key,
            data_dir: data_dir.to_owned(),
            log: data_dir.with_extension("log"),
        }
    }

    /// Starts the real `cairn serve` process over `data_dir` with the
    /// fixtures in `plugins_dir`.
    pub fn process(data_dir: &Path, plugins_dir: &Path) -> Server {
        Self::process_with(data_dir, plugins_dir, &[])
    }

    /// The same, with more `CAIRN_*` settings in the environment.
    pub fn process_with(data_dir: &Path, plugins_dir: &Path, settings: &[(&str, &str)]) -> Server {
        Self::process_on(data_dir, plugins_dir, settings, "127.0.0.1:0")
    }

    /// The same, listening on `listen` (a restarted server on its old port).
    pub fn process_on(
        data_dir: &Path,
        plugins_dir: &Path,
        settings: &[(&str, &str)],
        listen: &str,
    ) -> Server {
        let log = data_dir.with_extension("log");
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_cairn"));
        // On PostgreSQL, a killed server's runs wait for its lease to run
        // out before its restart (a new host) takes them: keep it short.
        command.env("CAIRN_LEASE", "2s");
        if let Some(url) = super::db::database_url(data_dir) {
            command.env("CAIRN_DATABASE", url);
        }
        let mut child = command
            .envs(settings.iter().copied())
            .args(["serve", "--listen", listen])
            .env("CAIRN_DATA_DIR", data_dir)
            .env("CAIRN_PLUGINS_DIR", plugins_dir)
            // Compiled plugins are shared by every test's server.
            .env("CAIRN_CACHE_DIR", shared_cache())
            .env("CAIRN_SHUTDOWN_GRACE", "5s")
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .expect("cairn serve starts");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("cairn listening on ") {
                    let _ = sender.send(url.to_owned());
                }
            }
        });
        let url = receiver
            .recv_timeout(Duration::from_secs(120))
            .expect("cairn serve printed its address");
        Self::started(data_dir, url, Some(child), None)
    }

    fn child(&mut self) -> &mut Child {
        self.child
            .as_mut()
            .expect("a server process (Server::process), not one in this test's process")
    }

    pub fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            // A redirect is an answer to check, as a browser's first sight of it.
            .max_redirects(0)
            .build()
            .into()
    }

    /// Sends a request with `key` (if any) and a JSON body (if any).
    pub fn call(&self, method: &str, path: &str, key: Option<&str>, body: Option<&Value>) -> Reply {
        self.call_with(
            method,
            path,
            key,
            body.map(|b| ("application/json", b.to_string().into_bytes())),
            &[],
        )
    }

    pub fn call_with(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let uri = format!("{}{path}", self.url);
        let mut request = ureq::http::Request::builder().method(method).uri(&uri);
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let agent = Self::agent();
        let response = match body {
            Some((content_type, bytes)) => {
                let request = request
                    .header("content-type", content_type)
                    .body(bytes)
                    .expect("request");
                agent.run(request)
            }
            None => agent.run(request.body(()).expect("request")),
        };
        let mut response = response.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let mut headers = std::collections::HashMap::<String, String>::new();
        for (name, value) in response.headers() {
            let value = value.to_str().unwrap_or_default();
            headers
                .entry(name.as_str().to_owned())
                .and_modify(|seen| {
                    seen.push('\n');
                    seen.push_str(value);
                })
                .or_insert_with(|| value.to_owned());
        }
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply {
            status,
            content_type,
            body,
            headers,
        }
    }

    pub fn get(&self, path: &str) -> Reply {
        self.call("GET", path, Some(&self.key), None)
    }

    pub fn post(&self, path: &str, body: &Value) -> Reply {
        self.call("POST", path, Some(&self.key), Some(body))
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .expect("a server process (Server::process)")
            .id()
    }

    /// The server's resident memory in bytes (`VmRSS`, Linux).
    pub fn resident_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("the server's /proc status");
        let kb: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS");
        kb * 1024
    }

    /// SIGKILLs the server.
    pub fn kill(mut self) {
        let child = self.child();
        let _ = child.kill();
        let _ = child.wait();
    }

    /// SIGTERM, and waits for the graceful exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let child = self.child();
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        child.wait().expect("exit")
    }

    /// Stops a server in this process gracefully, and waits for it.
    pub fn stop(mut self) {
        self.in_process.take();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.in_process.take();
    }
}

/// Runs the `cairn` command line on the server's data directory (as the
/// operator would, beside the running server); its output, trimmed.
pub fn operator(server: &Server, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(args)
        .env("CAIRN_DATA_DIR", &server.data_dir)
        .envs(super::db::env(&server.data_dir))
        .output()
        .expect("cairn runs");
    assert!(
        output.status.success(),
        "cairn {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

/// Makes a named key with `cairn key create` and returns it.
pub fn create_key(server: &Server, tenant: &str, name: &str) -> String {
    operator(
        server,
        &["key", "create", "--tenant", tenant, "--name", name],
    )
}

/// Waits until the server's log holds `text`; returns the log.
pub fn wait_for_log(server: &Server, text: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let log = std::fs::read_to_string(&server.log).unwrap_or_default();
        if log.contains(text) {
            return log;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the log never said {text:?}:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
