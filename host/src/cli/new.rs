//! `cairn new NAME --lang rust|python|js`: writes a step plugin project that
//! builds with one command and passes `cairn plugins inspect`.
//!
//! The templates are the files under `new/`, embedded in the binary, with
//! `{{name}}`, `{{type}}` and the SDK dependency filled in. The SDK comes from
//! the Cairn checkout this binary was built from while that checkout is there
//! (the SDKs are not published yet), or from the package registries.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};

#[derive(Args)]
pub struct NewArgs {
    /// The step type's name: lowercase letters, digits and `-`, e.g. `word-count`.
    name: String,
    /// The plugin's language.
    #[arg(long, value_enum)]
    lang: Lang,
    /// Where to write the project [default: ./NAME]; it must not exist or be empty.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Where the SDK comes from: `registry` (crates.io, PyPI, npm), or a Cairn
    /// checkout's folder [default: the checkout this cairn was built from,
    /// when it is still there, else `registry`].
    #[arg(long, value_name = "registry|PATH")]
    sdk: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Lang {
    Rust,
    Python,
    Js,
}

/// A template file: where it goes in the project, and its text.
type File = (&'static str, &'static str);

const RUST: &[File] = &[
    ("Cargo.toml", include_str!("new/rust/Cargo.toml")),
    (
        ".cargo/config.toml",
        include_str!("new/rust/.cargo/config.toml"),
    ),
    (".gitignore", include_str!("new/rust/gitignore")),
    ("src/lib.rs", include_str!("new/rust/src/lib.rs")),
];

const PYTHON: &[File] = &[
    ("app.py", include_str!("new/python/app.py")),
    ("test_app.py", include_str!("new/python/test_app.py")),
    (
        "requirements.txt",
        include_str!("new/python/requirements.txt"),
    ),
    ("build.sh", include_str!("new/python/build.sh")),
    (".gitignore", include_str!("new/python/gitignore")),
];

const JS: &[File] = &[
    ("package.json", include_str!("new/js/package.json")),
    ("src/index.js", include_str!("new/js/src/index.js")),
    (
        "test/index.test.js",
        include_str!("new/js/test/index.test.js"),
    ),
    (".gitignore", include_str!("new/js/gitignore")),
];

/// The versions a registry install asks for; the packages' own versions.
const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn new(args: NewArgs) -> anyhow::Result<ExitCode> {
    let name = args.name.as_str();
    if name.is_empty()
        || name.starts_with('-')
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        bail!(
            "'{name}' is not a step type name: use lowercase letters, digits and '-', e.g. word-count"
        );
    }
    let dir = args.dir.unwrap_or_else(|| PathBuf::from(name));
    if dir.exists()
        && std::fs::read_dir(&dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .next()
            .is_some()
    {
        bail!("{} already exists and is not empty", dir.display());
    }
    let checkout = match args.sdk.as_deref() {
        Some("registry") => None,
        Some(path) => Some(checkout(Path::new(path))?),
        None => checkout(&Path::new(env!("CARGO_MANIFEST_DIR")).join("..")).ok(),
    };

    let (files, build, wasm) = match args.lang {
        Lang::Rust => (
            RUST,
            "cargo build --release".to_owned(),
            format!(
                "target/wasm32-wasip2/release/{}.wasm",
                name.replace('-', "_")
            ),
        ),
        Lang::Python => (PYTHON, "sh build.sh".to_owned(), format!("{name}.wasm")),
        Lang::Js => (
            JS,
            "npm install && npm run build".to_owned(),
            format!("{name}.wasm"),
        ),
    };
    let sdk = |lang: Lang| -> String {
        match (lang, &checkout) {
            (Lang::Rust, Some(root)) => format!(
                "cairn-sdk = {{ path = {} }}",
                toml_string(&root.join("plugins/sdk"))
            ),
            (Lang::Rust, None) => format!("cairn-sdk = \"{SDK_VERSION}\""),
            (Lang::Python, Some(root)) => {
                format!(
                    "cairn-sdk @ file://{}",
                    root.join("plugins/sdk-python").display()
                )
            }
            (Lang::Python, None) => format!("cairn-sdk=={SDK_VERSION}"),
            (Lang::Js, Some(root)) => format!("file:{}", root.join("plugins/sdk-js").display()),
            (Lang::Js, None) => format!("^{SDK_VERSION}"),
        }
    };
    let fill = |text: &str| {
        text.replace("{{name}}", name)
            .replace("{{type}}", &type_name(name))
            .replace("{{rust_sdk}}", &sdk(Lang::Rust))
            .replace("{{python_sdk}}", &sdk(Lang::Python))
            .replace("{{js_sdk}}", &sdk(Lang::Js))
    };

    let mut written = Vec::new();
    for (path, text) in files {
        written.push(((*path).to_owned(), fill(text)));
    }
    // npm links a `file:` folder instead of installing it with its own
    // dependencies; `install-links` installs it as the registry would.
    if matches!(args.lang, Lang::Js) && checkout.is_some() {
        written.push((".npmrc".to_owned(), "install-links=true\n".to_owned()));
    }
    written.push(("README.md".to_owned(), readme(name, &build, &wasm)));
    written.push(("workflow.json".to_owned(), workflow(name)));
    for (path, text) in &written {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        #[cfg(unix)]
        if path.extension().is_some_and(|ext| ext == "sh") {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        }
    }

    say!("Wrote the {name} step plugin to {}/", dir.display());
    match &checkout {
        Some(root) => say!("Its SDK is the Cairn checkout's, at {}.", root.display()),
        None => say!("Its SDK comes from the package registry (version {SDK_VERSION})."),
    }
    if matches!(args.lang, Lang::Rust) {
        say!("It needs the wasm target once: rustup target add wasm32-wasip2");
    }
    say!(
        "\n  cd {}\n  {build}\n  cairn plugins inspect {wasm}",
        dir.display()
    );
    say!("  cairn step run {wasm} --input '{{\"text\": \"one two three\"}}'");
    Ok(ExitCode::SUCCESS)
}

/// A Cairn checkout's root, checked by its SDK folders.
fn checkout(path: &Path) -> anyhow::Result<PathBuf> {
    let root = std::fs::canonicalize(path)
        .with_context(|| format!("--sdk: {} is not a folder", path.display()))?;
    for sdk in ["plugins/sdk", "plugins/sdk-python", "plugins/sdk-js"] {
        if !root.join(sdk).is_dir() {
            bail!(
                "--sdk: {} is not a Cairn checkout (it has no {sdk}/); give one, or `registry`",
                root.display()
            );
        }
    }
    Ok(root)
}

/// `word-count` → `WordCount`: the step type's class or struct.
fn type_name(name: &str) -> String {
    let mut out = String::new();
    for part in name.split('-').filter(|part| !part.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    // Not a number, and not a name the SDKs' own types take.
    if out.starts_with(|c: char| c.is_ascii_digit())
        || [
            "Step", "Context", "Error", "Info", "Level", "Outcome", "Value",
        ]
        .contains(&out.as_str())
    {
        out.push_str("Plugin");
        if out.starts_with(|c: char| c.is_ascii_digit()) {
            out.insert(0, 'S');
        }
    }
    out
}

fn toml_string(path: &Path) -> String {
    serde_json::Value::String(path.display().to_string()).to_string()
}

fn readme(name: &str, build: &str, wasm: &str) -> String {
    format!(
        "# {name}\n\n\
         A Cairn step plugin. Build it, look at what it declares, and call it:\n\n\
         ```sh\n\
         {build}\n\
         cairn plugins inspect {wasm}\n\
         cairn step run {wasm} --input '{{\"text\": \"one two three\"}}' --config '{{\"min_length\": 4}}'\n\
         ```\n\n\
         Then upload it to a server (`cairn login` first, or a `cairn serve` here) and\n\
         run it in the workflow `workflow.json`:\n\n\
         ```sh\n\
         cairn plugins upload {wasm}\n\
         cairn workflows apply workflow.json --activate\n\
         cairn runs start {name}-demo --input '{{\"text\": \"one two three\"}}' --follow\n\
         ```\n"
    )
}

/// A workflow of one step of this type, for the README's last command.
fn workflow(name: &str) -> String {
    let definition = serde_json::json!({
        "name": format!("{name}-demo"),
        "description": format!("Runs the {name} step on the run's input."),
        "steps": [{
            "name": "count",
            "type": name,
            "config": { "min_length": 4 },
            "input": { "text": "{{ input.text }}" }
        }]
    });
    let mut text = serde_json::to_string_pretty(&definition).unwrap_or_default();
    text.push('\n');
    text
}
