//! `cairn tenant` and `cairn key`: tenants and their named API keys, made on
//! the data directory by the operator.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use cairn::store::Store;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum TenantCommand {
    /// Create a tenant and print its API key (shown this once).
    Create {
        /// Lowercase letters, digits, '-' and '_'.
        name: String,
    },
}

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Create a named API key and print it (shown this once).
    Create {
        /// The tenant the key belongs to.
        #[arg(long)]
        tenant: String,
        /// The holder's identity, e.g. `alice@example.com`: approvals made with
        /// the key count for this name.
        #[arg(long)]
        name: String,
        /// Let the key list and revoke the tenant's keys through the API.
        #[arg(long)]
        admin: bool,
    },
    /// List a tenant's keys (names, never keys).
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Revoke a key by name.
    Revoke {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
    },
}

fn open_store(data_dir: &Path) -> anyhow::Result<Store> {
    std::fs::create_dir_all(data_dir)?;
    Ok(Store::connect(&super::database(data_dir))?)
}

pub async fn tenant(data_dir: &Path, command: TenantCommand) -> anyhow::Result<ExitCode> {
    let TenantCommand::Create { name } = command;
    let store = open_store(data_dir)?;
    let key = cairn::tenants::create_tenant(&store, &name).await?;
    say!("{key}");
    eprintln!("created tenant '{name}'; keep this key: it is not shown again");
    Ok(ExitCode::SUCCESS)
}

pub async fn key(data_dir: &Path, command: KeyCommand) -> anyhow::Result<ExitCode> {
    let keys = cairn::tenants::Keys::new(Arc::new(open_store(data_dir)?));
    match command {
        KeyCommand::Create {
            tenant,
            name,
            admin,
        } => {
            let key = keys.create(&tenant, &name, admin).await?;
            say!("{key}");
            eprintln!(
                "created key '{}' for tenant '{tenant}'; keep it: it is not shown again",
                name.to_ascii_lowercase()
            );
        }
        KeyCommand::List { tenant } => {
            for key in keys.list(&tenant)? {
                let role = if key.admin { "admin" } else { "member" };
                say!("{}\t{role}", key.name);
            }
        }
        KeyCommand::Revoke { tenant, name } => {
            keys.revoke(&tenant, &name, cairn::tenants::LastAdmin::Allow)
                .await
                .with_context(|| format!("tenant '{tenant}' has no key named '{name}'"))?;
            eprintln!("revoked key '{name}' of tenant '{tenant}'");
        }
    }
    Ok(ExitCode::SUCCESS)
}
