//! `cairn runs watch` (and `start --follow`): a run followed live from its
//! event stream. A progress bar on stderr (when it is a terminal) shows how
//! far the run is and what it does now; each step prints a line as it
//! finishes; a pause prints what the run waits for and the command that
//! resumes it. A dropped connection (a server restart) is picked up again
//! where it broke, with `Last-Event-ID`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use super::exit::{self, Class, Failure, failure};
use super::output::{number, short, text};
use super::remote::{Event, Remote, segment};
use super::runs::print_pending;

/// How long the server may stay unreachable before watching gives up.
const RECONNECT_FOR: Duration = Duration::from_secs(300);

/// Follows run `run` until it ends (or pauses, with `until_paused`), and
/// exits as the run ended. With `json`, prints each event as a JSON line.
pub async fn watch(
    remote: &Remote,
    run: &str,
    until_paused: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut watcher = Watcher::start(remote, run, until_paused, json).await?;
    let mut after = 0;
    let mut unreachable_since: Option<Instant> = None;
    let mut refresh = tokio::time::interval(Duration::from_secs(1));
    loop {
        let stream = match remote.events(run, after).await {
            Ok(stream) => stream,
            Err(error) if is_unreachable(&error) => {
                watcher
                    .wait_for_server(&mut unreachable_since, error)
                    .await?;
                continue;
            }
            Err(error) => return Err(error),
        };
        unreachable_since = None;
        let mut stream = std::pin::pin!(stream);
        loop {
            let next = tokio::select! {
                next = stream.next() => next,
                _ = refresh.tick(), if !watcher.bar.is_hidden() => {
                    watcher.refresh().await;
                    continue;
                }
            };
            let Some(Ok(event)) = next else {
                // The stream ended: the run finished, or the connection broke.
                break;
            };
            let seq = event.seq;
            match watcher.on(event).await {
                Ok(Some(code)) => return Ok(code),
                Ok(None) => after = seq,
                // The server went away while this event was being taken
                // in: it is taken in again (not printed again) once the
                // stream is back.
                Err(error) if is_unreachable(&error) => break,
                Err(error) => return Err(error),
            }
        }
        // A stream ends by itself only when the run has finished; a run
        // that has not is followed on from where the stream broke.
        match remote.get(&watcher.path).await {
            Ok(view) if is_finished(&view) && view["last_event"].as_i64() <= Some(after) => {
                return Ok(watcher.finish(view));
            }
            Ok(_) => {}
            Err(error) if is_unreachable(&error) => {
                watcher
                    .wait_for_server(&mut unreachable_since, error)
                    .await?;
            }
            Err(error) => return Err(error),
        }
    }
}

struct Watcher<'a> {
    remote: &'a Remote,
    run: String,
    path: String,
    until_paused: bool,
    json: bool,
    bar: ProgressBar,
    /// The last event printed (an event taken in again is not printed again).
    printed: i64,
}

impl<'a> Watcher<'a> {
    async fn start(
        remote: &'a Remote,
        run: &str,
        until_paused: bool,
        json: bool,
    ) -> anyhow::Result<Watcher<'a>> {
        let path = format!("/v1/runs/{}", segment(run));
        let view = remote.get(&path).await?;
        let bar = if json {
            ProgressBar::hidden()
        } else {
            let bar = ProgressBar::new(100);
            bar.set_style(
                ProgressStyle::with_template("{bar:30} {pos:>3}% {wide_msg}")
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            bar
        };
        let watcher = Watcher {
            remote,
            run: run.to_owned(),
            path,
            until_paused,
            json,
            bar,
            printed: 0,
        };
        if !json {
            let workflow = remote
                .get(&format!(
                    "/v1/workflows/{}",
                    segment(&text(&view["workflow_id"]))
                ))
                .await
                .map_or_else(|_| text(&view["workflow_id"]), |w| text(&w["name"]));
            watcher.say(&format!("Run {} of {workflow} ({run})", number(&view)));
        }
        watcher.show_progress(&view);
        Ok(watcher)
    }

    /// Prints a line above the bar.
    fn say(&self, line: &str) {
        self.bar.suspend(|| say!("{line}"));
    }

    fn show_progress(&self, view: &Value) {
        self.bar
            .set_position(view["progress"]["percent"].as_u64().unwrap_or(0));
        let now = view["progress"]["current_action"]
            .as_str()
            .map_or_else(|| text(&view["status"]), str::to_owned);
        self.bar.set_message(now);
    }

    async fn refresh(&self) {
        if let Ok(view) = self.remote.get(&self.path).await {
            self.show_progress(&view);
        }
    }

    /// Takes in one event; the exit code once following is over.
    async fn on(&mut self, event: Event) -> anyhow::Result<Option<ExitCode>> {
        let fresh = event.seq > self.printed;
        self.printed = self.printed.max(event.seq);
        if self.json && fresh {
            say!("{}", serde_json::to_string(&event)?);
        }
        let data = &event.data;
        let step = text(&data["step"]);
        let line = match event.kind.as_str() {
            "step_started" => {
                self.bar.set_message(format!("running {step}"));
                None
            }
            "step_completed" => Some(format!("✓ {step}  {}", short(&data["output"], 70))),
            "step_failed" => Some(format!("✗ {step}: {}", text(&data["error"]["message"]))),
            "step_skipped" => Some(format!("- {step} skipped")),
            "retry_scheduled" => Some(format!(
                "↻ {step} failed (attempt {}): {}; trying again",
                data["attempt"],
                text(&data["error"]["message"])
            )),
            "approval_recorded" => Some(format!(
                "✓ {} chose {} at {step} ({} of {})",
                text(&data["reviewer"]),
                text(&data["option"]),
                data["approvals"],
                data["required"]
            )),
            "resumed" => Some(format!("▶ {step} resumed")),
            _ => None,
        };
        if let Some(line) = line.filter(|_| !self.json && fresh) {
            self.say(&line);
        }
        let significant = matches!(
            event.kind.as_str(),
            "step_completed" | "step_failed" | "step_skipped" | "paused" | "resumed"
        );
        let finished = matches!(
            event.kind.as_str(),
            "completed" | "failed" | "cancelled" | "timed_out"
        );
        if !significant && !finished {
            return Ok(None);
        }
        let view = self.remote.get(&self.path).await?;
        self.show_progress(&view);
        if finished {
            return Ok(Some(self.finish(view)));
        }
        // Only a pause that is still the run's state is announced: a replayed
        // one the run has moved past is history.
        let current = view["last_event"].as_i64() == Some(event.seq);
        if event.kind == "paused" && current && view["status"] == "paused" {
            if !self.json {
                self.bar.suspend(|| print_pending(&view));
            }
            if self.until_paused {
                self.bar.finish_and_clear();
                return Ok(Some(exit::of_view(&view)));
            }
            self.bar.set_message("waiting for a decision");
        }
        Ok(None)
    }

    /// Prints how the run ended; its exit code.
    fn finish(&self, view: Value) -> ExitCode {
        self.bar.finish_and_clear();
        if !self.json {
            match view["status"].as_str() {
                Some("completed") => say!("Completed: {}", short(&view["result"], 400)),
                Some(status) => say!(
                    "Run {status}: {}",
                    view["error"]["message"].as_str().unwrap_or(status)
                ),
                None => {}
            }
        }
        exit::of_view(&view)
    }

    /// Waits a little for a server that cannot be reached, and gives up
    /// when it has been gone for [`RECONNECT_FOR`].
    async fn wait_for_server(
        &self,
        since: &mut Option<Instant>,
        error: anyhow::Error,
    ) -> anyhow::Result<()> {
        let first = since.is_none();
        let started = *since.get_or_insert_with(Instant::now);
        if started.elapsed() > RECONNECT_FOR {
            return Err(failure(
                Class::Server,
                format!("gave up watching run {}: {error:#}", self.run),
            ));
        }
        if first {
            self.bar.set_message("the server is gone; reconnecting");
            self.bar
                .suspend(|| eprintln!("lost the server ({error:#}); reconnecting"));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        Ok(())
    }
}

fn is_finished(view: &Value) -> bool {
    exit::status_of(view).is_some_and(|status| status.is_terminal())
}

/// A server that is down or restarting (not one that answered with an error).
fn is_unreachable(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<Failure>()
        .is_some_and(|failure| failure.class == Class::Server)
}
