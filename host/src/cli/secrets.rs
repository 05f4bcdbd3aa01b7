//! `cairn secrets`: the tenant's secrets on a server. Values go in, never
//! come out.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use serde_json::json;

use super::exit::{Class, failure};
use super::output::{show, table, text, when};
use super::remote::{Body, Remote, segment};

#[derive(Subcommand)]
pub enum SecretsCommand {
    /// Store a secret, or replace its value. The value is read from standard
    /// input (one line), so that it stays out of the shell's history.
    Set {
        /// The secret's name (letters, digits, '_', '-', '.').
        name: String,
        /// The value, when it may appear on the command line.
        #[arg(long)]
        value: Option<String>,
    },
    /// The secrets' names and when each was set.
    List,
    /// Delete a secret.
    Delete {
        /// The secret's name.
        name: String,
    },
}

pub async fn run(remote: &Remote, command: SecretsCommand, json: bool) -> anyhow::Result<ExitCode> {
    match command {
        SecretsCommand::Set { name, value } => {
            let value = match value {
                Some(value) => value,
                None => {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .context("cannot read the value from standard input")?;
                    let value = line.trim_end_matches(['\r', '\n']).to_owned();
                    if value.is_empty() {
                        return Err(failure(
                            Class::Usage,
                            "no value: give --value, or the value on standard input",
                        ));
                    }
                    value
                }
            };
            let path = format!("/v1/secrets/{}", segment(&name));
            let info = remote
                .ok("PUT", &path, Body::Json(&json!({ "value": value })))
                .await?;
            show(json, &info, |info| {
                say!("Secret {} set.", text(&info["name"]))
            })?;
        }
        SecretsCommand::List => {
            let list = remote.get("/v1/secrets").await?;
            show(json, &list, |list| {
                let rows = list["secrets"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|s| {
                        vec![
                            text(&s["name"]),
                            when(&s["created_at"]),
                            when(&s["updated_at"]),
                        ]
                    })
                    .collect();
                table(&["NAME", "CREATED", "UPDATED"], rows, "No secrets.");
            })?;
        }
        SecretsCommand::Delete { name } => {
            let path = format!("/v1/secrets/{}", segment(&name));
            let answer = remote.ok("DELETE", &path, Body::Empty).await?;
            show(json, &answer, |_| say!("Secret {name} deleted."))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
