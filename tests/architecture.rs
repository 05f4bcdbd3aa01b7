//! The architecture invariants of ARCHITECTURE.md that a program can check,
//! read from the sources: which top-level modules of `host/src` import which,
//! and which files name wasmtime, rusqlite, tokio_postgres, axum and raw
//! sockets.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A source file: its top-level module (`runner` for `runner/mod.rs`), its
/// path under `host/src`, and its text without comments.
struct Source {
    module: String,
    path: String,
    code: String,
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect(&root, &mut files);
    assert!(files.len() > 40, "found only {} files", files.len());
    files
        .into_iter()
        .map(|file| {
            let path = file
                .strip_prefix(&root)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            let module = path
                .split('/')
                .next()
                .expect("a first component")
                .trim_end_matches(".rs")
                .to_owned();
            let text = std::fs::read_to_string(&file).expect("source");
            let code = text
                .lines()
                .map(|line| line.split("//").next().unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n");
            Source { module, path, code }
        })
        .collect()
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("directory") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// The crate's top-level modules a piece of code refers to: `crate::x` paths
/// and `use crate::{x, y::z}` groups.
fn imports(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.insert(first_name(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            found.insert(first_name(&item));
        } else {
            found.insert(first_name(rest));
        }
    }
    found.remove("");
    found
}

fn first_name(text: &str) -> String {
    text.trim()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// Which top-level module imports which (the crate root and `main.rs` aside).
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for source in sources() {
        if source.module == "lib" || source.module == "main" {
            continue;
        }
        let mut used = imports(&source.code);
        used.remove(&source.module);
        graph.entry(source.module).or_default().extend(used);
    }
    graph
}

#[test]
fn the_modules_import_each_other_without_a_circle() {
    let graph = graph();
    for start in graph.keys() {
        // Depth-first, remembering the way, so a circle is shown whole.
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((module, way)) = stack.pop() {
            for next in graph.get(&module).into_iter().flatten() {
                let mut longer = way.clone();
                longer.push(next.clone());
                assert!(next != start, "an import circle: {}", longer.join(" -> "));
                if seen.insert(next.clone()) {
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
}

#[test]
fn each_layer_imports_only_what_lies_below_it() {
    let graph = graph();
    let allowed: &[(&str, &[&str])] = &[
        ("clock", &[]),
        ("keyfile", &[]),
        ("egress", &[]),
        ("engine", &["egress"]),
        ("workflow", &["egress"]),
        ("run", &["clock", "workflow"]),
        ("store", &["run", "workflow"]),
        ("planner", &["egress", "workflow"]),
    ];
    for (module, may) in allowed {
        let used = graph.get(*module).cloned().unwrap_or_default();
        let extra: Vec<&String> = used.iter().filter(|m| !may.contains(&m.as_str())).collect();
        assert!(
            extra.is_empty(),
            "{module} imports {extra:?}; it may import only {may:?}"
        );
    }
    let top = ["api", "server", "host", "bench"];
    for (module, used) in &graph {
        for above in top {
            let may = match above {
                "api" => ["server", "bench"].contains(&module.as_str()),
                "server" => module == "bench",
                "host" => ["api", "server", "bench"].contains(&module.as_str()),
                _ => false,
            };
            assert!(
                may || !used.contains(above),
                "{module} imports {above}, which lies above it"
            );
        }
    }
}

/// Files (paths under `host/src`) whose code names `needle`.
fn naming(needle: &str) -> BTreeSet<String> {
    sources()
        .into_iter()
        .filter(|s| s.code.contains(needle))
        .map(|s| s.path)
        .collect()
}

fn only_under(needle: &str, allowed: &[&str]) {
    let outside: Vec<String> = naming(needle)
        .into_iter()
        .filter(|path| !allowed.iter().any(|a| path.starts_with(a)))
        .collect();
    assert!(
        outside.is_empty(),
        "{needle} is named outside {allowed:?}: {outside:?}"
    );
}

#[test]
fn wasmtime_sql_http_servers_and_sockets_stay_in_their_modules() {
    only_under("wasmtime", &["engine/"]);
    only_under("bindgen!", &["engine/bindings.rs"]);
    only_under("rusqlite", &["store/"]);
    only_under("tokio_postgres", &["store/"]);
    only_under("axum", &["api/", "server.rs", "bench/http.rs"]);
    only_under("TcpStream", &["egress/client.rs", "bench/http.rs"]);
    let api_store: Vec<String> = sources()
        .into_iter()
        .filter(|s| s.module == "api" && imports(&s.code).contains("store"))
        .map(|s| s.path)
        .collect();
    assert!(
        api_store.is_empty(),
        "api/ touches the store: {api_store:?}"
    );
}

#[test]
fn only_the_store_reaches_the_database() {
    // Outside store/: the store's typed methods, and units of work written
    // against its `Reader` and `Tx`; never a connection (`Store::read` hands
    // one to its closure) nor one of the store's record functions.
    for source in sources()
        .into_iter()
        .filter(|s| !s.path.starts_with("store/"))
    {
        assert!(
            !source.code.contains(".read(|"),
            "{} reads through a connection: use the store's typed methods",
            source.path
        );
        let called = store_functions_called(&source.code);
        assert!(
            called.is_empty(),
            "{} calls the store's record functions {called:?}: use its typed methods",
            source.path
        );
    }
}

/// Functions called by path through `store::` (`store::get_run(`): the
/// store's record functions, which only the store may call.
fn store_functions_called(code: &str) -> Vec<String> {
    code.match_indices("store::")
        .filter_map(|(at, found)| {
            let rest = &code[at + found.len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let called = rest[name.len()..].starts_with('(');
            (called && name.starts_with(|c: char| c.is_ascii_lowercase())).then_some(name)
        })
        .collect()
}

#[test]
fn the_store_call_reader_sees_calls_not_types() {
    let code = "store::get_run(c, id); let s: store::Store = x; crate::store::Tx::new(); store::insert_run(tx)";
    assert_eq!(store_functions_called(code), ["get_run", "insert_run"]);
}

#[test]
fn the_run_core_does_no_io() {
    // The clock's `timestamp` formats a given time; reading the clock is the
    // caller's.
    let io = [
        "tokio",
        "rusqlite",
        "wasmtime",
        "std::fs",
        "std::net",
        "std::thread",
        "std::time",
        "SystemTime",
        "now_ms",
        "new_id",
        "tracing",
        "async ",
    ];
    for needle in io {
        let named: Vec<String> = naming(needle)
            .into_iter()
            .filter(|path| path.starts_with("run/"))
            .collect();
        assert!(named.is_empty(), "the run core names {needle}: {named:?}");
    }
}

#[test]
fn the_import_reader_sees_paths_and_groups() {
    let code = "use crate::{clock::now_ms, egress::{self, Target}};\nlet x = crate::run::RunStatus::Paused;";
    let found: Vec<String> = imports(code).into_iter().collect();
    assert_eq!(found, ["clock", "egress", "run"]);
}
