//! `cairn plan`: has a running server's planner write a workflow from a goal,
//! prints the plan as a person reads it, and with `--approve` activates it.

use std::process::ExitCode;

use serde_json::{Value, json};

use super::remote::Remote;

#[derive(clap::Args, Debug)]
pub struct PlanArgs {
    /// What the workflow should do, in words.
    goal: String,
    /// A cron schedule the workflow runs on once approved, e.g. "0 9 * * 1".
    #[arg(long)]
    schedule: Option<String>,
    /// The IANA zone the schedule is read in [default: UTC].
    #[arg(long)]
    timezone: Option<String>,
    /// Who reviews the plan by email (repeatable) [default: the key's name,
    /// when it is an email address].
    #[arg(long)]
    notify: Vec<String>,
    /// Approve the plan at once: the workflow becomes active (and its schedule
    /// starts).
    #[arg(long)]
    approve: bool,
}

pub async fn plan(remote: &Remote, args: PlanArgs, json: bool) -> anyhow::Result<ExitCode> {
    let mut request = json!({"goal": args.goal});
    if let Some(schedule) = args.schedule {
        request["schedule"] = json!(schedule);
    }
    if let Some(timezone) = args.timezone {
        request["timezone"] = json!(timezone);
    }
    if !args.notify.is_empty() {
        request["notify"] = json!(args.notify);
    }
    let mut draft = remote.post("/v1/workflows", &request).await?;
    if args.approve {
        let id = draft["id"].as_str().unwrap_or_default().to_owned();
        let active = remote
            .post(&format!("/v1/workflows/{id}/activate"), &json!({}))
            .await?;
        draft["status"] = active["status"].clone();
        draft["message"] = json!("Approved: the workflow is active.");
    }
    if json {
        super::print_json(&draft)?;
    } else {
        say!("{}", readable(&draft));
    }
    Ok(ExitCode::SUCCESS)
}

/// The plan as lines: what it is, its steps, its schedule, what happens next.
fn readable(draft: &Value) -> String {
    let plan = &draft["plan"];
    let mut text = format!(
        "{} (workflow {}, {}), planned by {} in {} attempt(s):\n",
        draft["name"].as_str().unwrap_or_default(),
        draft["id"].as_str().unwrap_or_default(),
        draft["status"].as_str().unwrap_or_default(),
        plan["model"].as_str().unwrap_or_default(),
        plan["attempts"],
    );
    for line in plan["steps"].as_array().into_iter().flatten() {
        text.push_str(&format!("  {}\n", line.as_str().unwrap_or_default()));
    }
    if let Some(schedule) = draft["definition"]["schedule"].as_object() {
        text.push_str(&format!(
            "Schedule: {} ({})\n",
            schedule["cron"].as_str().unwrap_or_default(),
            schedule["timezone"].as_str().unwrap_or("UTC")
        ));
    }
    if let Some(message) = draft["message"].as_str() {
        text.push_str(message);
    }
    text.trim_end().to_owned()
}
