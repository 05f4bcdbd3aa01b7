//! Files of secrets in the data directory (the default tenant's key, the
//! approval-link and secrets keys): written so only their owner can read them.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;

/// Writes `text` and a newline to a new file only its owner can read.
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    writeln!(file, "{text}")
}

/// The hex secret in `path`, made (32 random bytes, owner-only) when the file
/// does not exist yet. Hosts that share a data directory and start at once
/// agree on one secret: each writes its own aside and links it into place
/// only if no file is there, and the one that loses reads the winner's.
pub fn stored_secret(path: &Path) -> anyhow::Result<Vec<u8>> {
    let read = |path: &Path| -> anyhow::Result<Vec<u8>> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        hex::decode(text.trim()).with_context(|| format!("{} is not a hex secret", path.display()))
    };
    if path.exists() {
        return read(path);
    }
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let aside = path.with_extension(format!("new-{}", std::process::id()));
    write_private(&aside, &hex::encode(key))?;
    let linked = std::fs::hard_link(&aside, path);
    let _ = std::fs::remove_file(&aside);
    match linked {
        Ok(()) => Ok(key.to_vec()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read(path),
        Err(e) => Err(e).with_context(|| format!("cannot write {}", path.display())),
    }
}
