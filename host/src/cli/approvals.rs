//! `cairn approvals`: the tenant's steps waiting for a person, oldest first,
//! and the decisions on them.

use std::process::ExitCode;

use clap::Subcommand;

use super::output::{short, show, table, text, when};
use super::remote::{Remote, query};
use super::runs::{DecisionArgs, resume};

#[derive(Subcommand)]
pub enum ApprovalsCommand {
    /// The steps waiting for a person, oldest first.
    List {
        /// Only this workflow's (its id or name).
        #[arg(long)]
        workflow: Option<String>,
        /// Only those waiting for this reviewer.
        #[arg(long)]
        reviewer: Option<String>,
    },
    /// Approve the step a run waits at.
    Approve {
        /// The run's id.
        run: String,
        /// The step [default: the one step the run waits at].
        #[arg(long)]
        step: Option<String>,
        /// A note recorded with the approval.
        #[arg(long)]
        note: Option<String>,
    },
    /// Reject the step a run waits at.
    Reject {
        /// The run's id.
        run: String,
        /// The step [default: the one step the run waits at].
        #[arg(long)]
        step: Option<String>,
        /// Why (recorded with the rejection).
        #[arg(long)]
        note: Option<String>,
    },
}

pub async fn run(
    remote: &Remote,
    command: ApprovalsCommand,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let (run, step, note, option) = match command {
        ApprovalsCommand::List { workflow, reviewer } => {
            let mut pairs = Vec::new();
            if let Some(workflow) = workflow {
                pairs.push((
                    "workflow_id",
                    super::workflows::id_of(remote, &workflow).await?,
                ));
            }
            if let Some(reviewer) = reviewer {
                pairs.push(("reviewer", reviewer));
            }
            let queue = remote
                .get(&format!("/v1/approvals{}", query(&pairs)))
                .await?;
            show(json, &queue, |queue| {
                let rows = queue["approvals"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| {
                        let action = &a["pending_action"];
                        let quorum = match action["required"].as_u64() {
                            Some(required) => format!("{} of {required}", action["approvals"]),
                            None => "-".to_owned(),
                        };
                        vec![
                            text(&a["run_id"]),
                            text(&a["step"]),
                            when(&a["waiting_since"]),
                            when(&a["deadline"]),
                            quorum,
                            short(&action["message"], 40),
                            short(&action["data"], 50),
                        ]
                    })
                    .collect();
                table(
                    &[
                        "RUN",
                        "STEP",
                        "WAITING SINCE",
                        "DEADLINE",
                        "APPROVALS",
                        "MESSAGE",
                        "DATA",
                    ],
                    rows,
                    "Nothing waits for a decision.",
                );
            })?;
            return Ok(ExitCode::SUCCESS);
        }
        ApprovalsCommand::Approve { run, step, note } => (run, step, note, "approve"),
        ApprovalsCommand::Reject { run, step, note } => (run, step, note, "reject"),
    };
    let decision = DecisionArgs {
        decision: option.to_owned(),
        note,
        step,
    };
    let view = resume(remote, &run, decision).await?;
    show(json, &view, |view| {
        let done = if option == "approve" {
            "Approved"
        } else {
            "Rejected"
        };
        say!("{done}: run {run} is now {}.", text(&view["status"]));
    })?;
    Ok(ExitCode::SUCCESS)
}
