//! A run as a tree of step instances. The definition's step entries are its
//! sites (numbered in pre-order, so a flat workflow's sites are its steps);
//! a run holds one record per instance of a site, named by its path:
//! `draft` at the top, `research.web.fetch` in a branch of a `parallel`,
//! `per_article[2].review` in item 2 of a `map`, `route.publish.send` in a
//! case of a `switch`. A list's records are created together when its scope
//! is entered (the run's top list at creation, a branch or a case when its
//! construct starts, an item when the map starts it), so each scope's records
//! are consecutive.
//!
//! [`walk`] reads the tree: what is ready to run, what waits for a person or
//! a timer, and which constructs (and the run) can finish; the transitions
//! settle every change through it.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{StepRecord, StepStatus};
use crate::workflow::{FailMode, StepDefinition, StepKind, WorkflowDefinition};

/// The sites of a definition: each step entry at any depth, in pre-order.
#[derive(Debug, Clone)]
pub struct Layout {
    sites: Vec<StepDefinition>,
    by_key: HashMap<String, usize>,
    /// The run's top list.
    root: Vec<StepDefinition>,
    paused_lifetime: Option<String>,
}

impl Layout {
    pub fn of(definition: &WorkflowDefinition) -> Layout {
        let mut layout = Layout {
            sites: Vec::new(),
            by_key: HashMap::new(),
            root: definition.steps.clone(),
            paused_lifetime: definition.paused_lifetime.clone(),
        };
        layout.add(&definition.steps, "");
        layout
    }

    fn add(&mut self, steps: &[StepDefinition], prefix: &str) {
        for step in steps {
            let key = format!("{prefix}{}", step.name);
            self.by_key.insert(key.clone(), self.sites.len());
            self.sites.push(step.clone());
            for (scope, _, inner) in step.scopes() {
                let prefix = if scope == "[]" {
                    format!("{key}[].")
                } else {
                    format!("{key}.{scope}.")
                };
                self.add(inner, &prefix);
            }
        }
    }

    /// How long a step may wait for a decision, unless its gate says.
    pub fn paused_lifetime(&self) -> Option<&str> {
        self.paused_lifetime.as_deref()
    }

    /// Every site, in order: what `RunRecord::plugins` is indexed by.
    pub fn sites(&self) -> &[StepDefinition] {
        &self.sites
    }

    /// The site an instance path runs, and its number.
    pub fn site(&self, path: &str) -> Option<(usize, &StepDefinition)> {
        let index = *self.by_key.get(&site_key(path))?;
        Some((index, &self.sites[index]))
    }
}

/// A path with its item numbers taken out: `a[3].b` → `a[].b`.
pub fn site_key(path: &str) -> String {
    let mut key = String::with_capacity(path.len());
    let mut in_brackets = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_brackets = true;
                key.push('[');
            }
            ']' => {
                in_brackets = false;
                key.push(']');
            }
            _ if in_brackets => {}
            _ => key.push(c),
        }
    }
    key
}

/// The prefix of the records inside a construct's scope: a branch or case
/// (`name.scope.`) or an item (`name[i].`).
pub fn scope_prefix(path: &str, scope: Scope<'_>) -> String {
    match scope {
        Scope::Named(name) => format!("{path}.{name}."),
        Scope::Item(index) => format!("{path}[{index}]."),
    }
}

/// One scope inside a construct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    Named(&'a str),
    Item(usize),
}

/// Where a construct instance is, as its record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConstructState {
    /// Its branches were entered.
    Parallel,
    /// `items` to run. Which started shows in the records (an item's are
    /// added when it starts, in order), so the record is written only when
    /// the map starts and ends, however many items it has.
    Map { items: usize },
    /// The case that runs.
    Switch { case: String },
    /// Until when it waits (Unix milliseconds).
    Wait { until: i64 },
    /// The child run it waits for.
    Workflow { run: String },
}

/// A run's records, with an index of their paths, and how far each list is
/// known to be finished (records never go back from finished, so a walk
/// starts where the last one found work: a step costs the same at the end
/// of a long run as at its start).
#[derive(Debug, Default)]
pub struct RunSteps {
    records: Vec<StepRecord>,
    by_path: HashMap<String, usize>,
    finished: std::sync::Mutex<HashMap<String, Finished>>,
}

/// The first `steps` of a list are completed or skipped; `last` is the
/// last completed one's record.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Finished {
    pub steps: usize,
    pub last: Option<usize>,
}

impl Clone for RunSteps {
    fn clone(&self) -> Self {
        RunSteps {
            records: self.records.clone(),
            by_path: self.by_path.clone(),
            finished: std::sync::Mutex::new(
                self.finished.lock().map(|f| f.clone()).unwrap_or_default(),
            ),
        }
    }
}

impl PartialEq for RunSteps {
    fn eq(&self, other: &Self) -> bool {
        self.records == other.records
    }
}

impl RunSteps {
    pub fn new(records: Vec<StepRecord>) -> RunSteps {
        let by_path = records
            .iter()
            .enumerate()
            .map(|(index, step)| (step.name.clone(), index))
            .collect();
        RunSteps {
            records,
            by_path,
            finished: Default::default(),
        }
    }

    pub fn records(&self) -> &[StepRecord] {
        &self.records
    }

    pub fn into_records(self) -> Vec<StepRecord> {
        self.records
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn get(&self, index: usize) -> Option<&StepRecord> {
        self.records.get(index)
    }

    pub fn index_of(&self, path: &str) -> Option<usize> {
        self.by_path.get(path).copied()
    }

    /// Takes a changed or new record (new ones come in order of index).
    pub fn put(&mut self, step: StepRecord) {
        let index = step.index as usize;
        if index < self.records.len() {
            self.records[index] = step;
        } else {
            self.by_path.insert(step.name.clone(), index);
            self.records.push(step);
        }
    }
}

impl std::ops::Index<usize> for RunSteps {
    type Output = StepRecord;
    fn index(&self, index: usize) -> &StepRecord {
        &self.records[index]
    }
}

/// Reads records by index and path: the run's own, or a transition's copy
/// with its changes.
pub trait Records {
    fn record(&self, index: usize) -> Option<&StepRecord>;
    fn find(&self, path: &str) -> Option<usize>;
    /// How far the list under `prefix` is known to be finished.
    fn finished(&self, _prefix: &str) -> Finished {
        Finished::default()
    }
    /// Notes how far the list under `prefix` is finished.
    fn note_finished(&self, _prefix: &str, _finished: Finished) {}
}

impl Records for RunSteps {
    fn record(&self, index: usize) -> Option<&StepRecord> {
        self.records.get(index)
    }
    fn find(&self, path: &str) -> Option<usize> {
        self.index_of(path)
    }
    fn finished(&self, prefix: &str) -> Finished {
        self.finished
            .lock()
            .ok()
            .and_then(|f| f.get(prefix).copied())
            .unwrap_or_default()
    }
    fn note_finished(&self, prefix: &str, finished: Finished) {
        if let Ok(mut known) = self.finished.lock()
            && known.get(prefix).is_none_or(|k| k.steps < finished.steps)
        {
            known.insert(prefix.to_owned(), finished);
        }
    }
}

/// What the host can do next for a run, as a walk of its tree finds it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Frontier {
    /// Plugin steps to prepare and attempt (pending and due, or running: an
    /// attempt that is in flight, or was interrupted and runs again).
    pub attempts: Vec<usize>,
    /// Constructs to start: their templates are evaluated by the host.
    pub entries: Vec<usize>,
    /// Steps waiting for a decision, in the tree's order.
    pub awaiting: Vec<usize>,
    /// Sub-workflow steps waiting for their child runs: (step, child run).
    pub children: Vec<(usize, String)>,
    /// The earliest time a timer is due: a retry's or a `wait`'s.
    pub next_timer: Option<i64>,
    /// The earliest deadline of a step waiting for a decision.
    pub next_deadline: Option<i64>,
    /// Changes the host makes on its own: constructs (and the run) that can
    /// finish, maps that can start more items.
    pub moves: Vec<Move>,
    /// How the run's top list stands.
    pub root: ScopeEnd,
}

/// How a list of steps stands.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum ScopeEnd {
    /// Every step finished; its last completed output, if any.
    Done(Option<Value>),
    /// A step of it failed (its index).
    Failed(usize),
    /// A step of it was cancelled.
    Cancelled,
    /// Steps are still to run.
    #[default]
    Active,
}

/// A change the host makes on its own.
#[derive(Debug, Clone, PartialEq)]
pub enum Move {
    /// The construct `index` completes with `output`.
    Complete { index: usize, output: Value },
    /// The construct `index` fails: `failed` are its failed steps inside
    /// (one when it fails fast); its unfinished steps inside are cancelled.
    Fail { index: usize, failed: Vec<usize> },
    /// The map `index` starts its items `from..to`.
    StartItems {
        index: usize,
        from: usize,
        to: usize,
    },
}

/// Walks a run's tree at time `now`.
pub fn walk(layout: &Layout, records: &dyn Records, now: i64) -> Frontier {
    let mut frontier = Frontier::default();
    let root = &layout.root[..];
    let mut walker = Walker {
        records,
        now,
        frontier: &mut frontier,
    };
    let end = walker.list("", root);
    frontier.root = end;
    frontier
}

struct Walker<'a> {
    records: &'a dyn Records,
    now: i64,
    frontier: &'a mut Frontier,
}

impl Walker<'_> {
    fn wake(&mut self, at: i64) {
        self.frontier.next_timer = Some(self.frontier.next_timer.map_or(at, |w| w.min(at)));
    }

    /// How the list `steps` under `prefix` stands, noting what is ready in it.
    fn list(&mut self, prefix: &str, steps: &[StepDefinition]) -> ScopeEnd {
        let known = self.records.finished(prefix);
        let mut done = known;
        for (position, step) in steps.iter().enumerate().skip(known.steps) {
            let path = format!("{prefix}{}", step.name);
            let record = self
                .records
                .find(&path)
                .and_then(|index| Some((index, self.records.record(index)?)));
            let Some((index, record)) = record else {
                // Not entered: nothing of it has run.
                return ScopeEnd::Active;
            };
            let end = match record.status {
                StepStatus::Completed => {
                    done = Finished {
                        steps: position + 1,
                        last: Some(index),
                    };
                    continue;
                }
                StepStatus::Skipped => {
                    done.steps = position + 1;
                    continue;
                }
                StepStatus::Failed => ScopeEnd::Failed(index),
                StepStatus::Cancelled => ScopeEnd::Cancelled,
                StepStatus::Pending | StepStatus::Running | StepStatus::AwaitingInput => {
                    self.visit(index, record, step);
                    ScopeEnd::Active
                }
            };
            self.records.note_finished(prefix, done);
            return end;
        }
        self.records.note_finished(prefix, done);
        let last = done
            .last
            .and_then(|index| self.records.record(index))
            .and_then(|record| record.output.clone());
        ScopeEnd::Done(last)
    }

    fn visit(&mut self, index: usize, record: &StepRecord, step: &StepDefinition) {
        if record.status == StepStatus::AwaitingInput {
            self.frontier.awaiting.push(index);
            if let Some(at) = record.deadline {
                let next = &mut self.frontier.next_deadline;
                *next = Some(next.map_or(at, |n| n.min(at)));
            }
            return;
        }
        let kind = step.kind();
        if let StepKind::Plugin(_) = kind {
            match record.wake_at {
                Some(at) if at > self.now && record.status == StepStatus::Pending => self.wake(at),
                _ => self.frontier.attempts.push(index),
            }
            return;
        }
        let (StepStatus::Running, Some(state)) = (record.status, &record.construct) else {
            self.frontier.entries.push(index);
            return;
        };
        let path = &record.name;
        match (kind, state) {
            (StepKind::Parallel(parallel), _) => {
                let mut failed = Vec::new();
                let mut outputs = serde_json::Map::new();
                let mut active = false;
                for (branch, steps) in &parallel.branches {
                    let prefix = scope_prefix(path, Scope::Named(branch));
                    match self.list(&prefix, steps) {
                        ScopeEnd::Done(output) => {
                            outputs.insert(branch.clone(), output.unwrap_or(Value::Null));
                        }
                        ScopeEnd::Failed(at) => failed.push(at),
                        ScopeEnd::Cancelled => {}
                        ScopeEnd::Active => active = true,
                    }
                }
                if !failed.is_empty() && (parallel.fail == FailMode::Fast || !active) {
                    failed.truncate(if parallel.fail == FailMode::Fast {
                        1
                    } else {
                        failed.len()
                    });
                    self.frontier.moves.push(Move::Fail { index, failed });
                } else if !active && failed.is_empty() {
                    let output = Value::Object(outputs);
                    self.frontier.moves.push(Move::Complete { index, output });
                }
            }
            (StepKind::Map(map), ConstructState::Map { items }) => {
                let steps = &map.steps[..];
                let Some(first) = steps.first() else {
                    return;
                };
                // Items start in order: the first not started is found by
                // halving, the first not finished from what walks noted.
                let entered = |item: usize| {
                    let path = format!("{}{}", scope_prefix(path, Scope::Item(item)), first.name);
                    self.records.find(&path).is_some()
                };
                let (mut low, mut high) = (0, *items);
                while low < high {
                    let middle = (low + high) / 2;
                    if entered(middle) {
                        low = middle + 1;
                    } else {
                        high = middle;
                    }
                }
                let started = low;
                let key = format!("{path}[]");
                let settled = self.records.finished(&key).steps.min(started);
                let mut active = 0;
                let mut first_active = None;
                for item in settled..started {
                    let prefix = scope_prefix(path, Scope::Item(item));
                    match self.list(&prefix, steps) {
                        ScopeEnd::Done(_) => {}
                        ScopeEnd::Failed(at) => {
                            let failed = vec![at];
                            self.frontier.moves.push(Move::Fail { index, failed });
                            return;
                        }
                        ScopeEnd::Cancelled => return,
                        ScopeEnd::Active => {
                            active += 1;
                            first_active.get_or_insert(item);
                        }
                    }
                }
                let steps_settled = first_active.unwrap_or(started);
                self.records.note_finished(
                    &key,
                    Finished {
                        steps: steps_settled,
                        last: None,
                    },
                );
                let room = (map.concurrency as usize).saturating_sub(active);
                if started < *items && room > 0 {
                    let to = (started + room).min(*items);
                    let from = started;
                    self.frontier
                        .moves
                        .push(Move::StartItems { index, from, to });
                } else if started >= *items && active == 0 {
                    let mut outputs = Vec::with_capacity(*items);
                    for item in 0..*items {
                        let prefix = scope_prefix(path, Scope::Item(item));
                        outputs.push(self.last_output(&prefix, steps));
                    }
                    let output = Value::Array(outputs);
                    self.frontier.moves.push(Move::Complete { index, output });
                }
            }
            (StepKind::Switch(switch), ConstructState::Switch { case }) => {
                let steps: &[StepDefinition] = switch
                    .cases
                    .iter()
                    .find(|c| &c.name == case)
                    .map(|c| &c.steps[..])
                    .or(switch.default.as_deref())
                    .unwrap_or_default();
                let prefix = scope_prefix(path, Scope::Named(case));
                match self.list(&prefix, steps) {
                    ScopeEnd::Done(output) => {
                        let output = serde_json::json!({
                            "case": case,
                            "output": output.unwrap_or(Value::Null),
                        });
                        self.frontier.moves.push(Move::Complete { index, output });
                    }
                    ScopeEnd::Failed(at) => {
                        let failed = vec![at];
                        self.frontier.moves.push(Move::Fail { index, failed });
                    }
                    ScopeEnd::Cancelled | ScopeEnd::Active => {}
                }
            }
            (StepKind::Workflow(_), ConstructState::Workflow { run }) => {
                self.frontier.children.push((index, run.clone()));
            }
            (StepKind::Wait(_), ConstructState::Wait { until }) => {
                if *until <= self.now {
                    let output = record.input.clone().unwrap_or(Value::Null);
                    self.frontier.moves.push(Move::Complete { index, output });
                } else {
                    self.wake(*until);
                }
            }
            // A record whose state does not match its site: left as it is
            // (the host fails such a run when it cannot go on).
            _ => {}
        }
    }

    /// The last completed output of a finished list.
    fn last_output(&self, prefix: &str, steps: &[StepDefinition]) -> Value {
        steps
            .iter()
            .rev()
            .filter_map(|step| self.records.find(&format!("{prefix}{}", step.name)))
            .filter_map(|index| self.records.record(index))
            .find(|record| record.status == StepStatus::Completed)
            .and_then(|record| record.output.clone())
            .unwrap_or(Value::Null)
    }
}

/// What the templates of a step instance see of its run.
#[derive(Debug, Clone, PartialEq)]
pub struct Visible {
    /// `steps.<name>.output`: the completed steps before it in its list and
    /// in the lists around it (the nearest of a name wins).
    pub outputs: std::collections::BTreeMap<String, Value>,
    /// Inside a map: the innermost item and its index.
    pub item: Option<(Value, usize)>,
    /// Its input when it has no `input` template: the last completed output
    /// before it in its list, else what its list started with (the run's
    /// input, a construct's input, a map's item).
    pub default_input: Value,
}

/// What the templates of the instance at `path` see; without
/// `with_outputs`, all but `outputs` (all a step without templates needs,
/// and cheap however long the run).
pub fn visible(
    layout: &Layout,
    records: &dyn Records,
    run_input: &Value,
    path: &str,
    with_outputs: bool,
) -> Visible {
    let mut seen = Visible {
        outputs: std::collections::BTreeMap::new(),
        item: None,
        default_input: Value::Null,
    };
    let mut current = path.to_owned();
    let mut innermost = true;
    loop {
        let parent = parent_of(&current).map(|(c, s)| (c.to_owned(), scope_owned(s)));
        let (prefix, list, entry): (String, &[StepDefinition], Value) = match &parent {
            None => (String::new(), &layout.root, run_input.clone()),
            Some((construct, scope)) => {
                let record = records.find(construct).and_then(|i| records.record(i));
                let site = layout.site(construct).map(|(_, site)| site);
                match scope {
                    OwnedScope::Item(item) => {
                        let value = record
                            .and_then(|r| r.input.as_ref())
                            .and_then(|items| items.get(*item))
                            .cloned()
                            .unwrap_or(Value::Null);
                        if seen.item.is_none() {
                            seen.item = Some((value.clone(), *item));
                        }
                        let list = site.and_then(|s| s.map.as_ref()).map(|m| &m.steps[..]);
                        let prefix = scope_prefix(construct, Scope::Item(*item));
                        (prefix, list.unwrap_or_default(), value)
                    }
                    OwnedScope::Named(name) => {
                        let input = record.and_then(|r| r.input.clone()).unwrap_or(Value::Null);
                        let list = site.and_then(|s| {
                            s.scopes()
                                .into_iter()
                                .find(|(scope, _, _)| scope == name)
                                .map(|(_, _, steps)| steps)
                        });
                        let prefix = scope_prefix(construct, Scope::Named(name));
                        (prefix, list.unwrap_or_default(), input)
                    }
                }
            }
        };
        let leaf = current.strip_prefix(&prefix).unwrap_or(&current);
        // A list's records are consecutive: the place in the list is the
        // distance from the first one's record (checked; else looked for).
        let first = list
            .first()
            .and_then(|s| records.find(&format!("{prefix}{}", s.name)));
        let position = match (first, records.find(&current)) {
            (Some(first), Some(at))
                if list
                    .get(at.wrapping_sub(first))
                    .is_some_and(|s| s.name == leaf) =>
            {
                at - first
            }
            _ => list.iter().position(|s| s.name == leaf).unwrap_or(0),
        };
        let known = records.finished(&prefix);
        let mut last = None;
        if with_outputs || (innermost && known.steps != position) {
            for step in &list[..position] {
                let record = records
                    .find(&format!("{prefix}{}", step.name))
                    .and_then(|i| records.record(i));
                if let Some(record) = record.filter(|r| r.status == StepStatus::Completed) {
                    let output = record.output.clone().unwrap_or(Value::Null);
                    if with_outputs {
                        let name = step.name.clone();
                        seen.outputs.entry(name).or_insert_with(|| output.clone());
                    }
                    last = Some(output);
                }
            }
        } else if innermost {
            last = known
                .last
                .and_then(|index| records.record(index))
                .map(|record| record.output.clone().unwrap_or(Value::Null));
        }
        if innermost {
            seen.default_input = last.unwrap_or(entry);
            innermost = false;
        }
        match parent {
            Some((construct, _)) => current = construct,
            None => return seen,
        }
    }
}

enum OwnedScope {
    Named(String),
    Item(usize),
}

fn scope_owned(scope: Scope<'_>) -> OwnedScope {
    match scope {
        Scope::Named(name) => OwnedScope::Named(name.to_owned()),
        Scope::Item(item) => OwnedScope::Item(item),
    }
}

/// The records of the steps `steps` of a scope entered under `prefix`,
/// numbered from `first`.
pub fn new_records(
    run_id: &str,
    prefix: &str,
    steps: &[StepDefinition],
    first: usize,
) -> Vec<StepRecord> {
    steps
        .iter()
        .enumerate()
        .map(|(offset, step)| {
            StepRecord::pending(run_id, first + offset, format!("{prefix}{}", step.name))
        })
        .collect()
}

/// The path of the construct a record's path is inside, with the scope:
/// `a[2].b` → (`a`, item 2); `a.x.b` → (`a`, `x`); `b` → none.
pub fn parent_of(path: &str) -> Option<(&str, Scope<'_>)> {
    let (head, _) = path.rsplit_once('.')?;
    if let Some(inner) = head.strip_suffix(']') {
        let (construct, item) = inner.rsplit_once('[')?;
        return Some((construct, Scope::Item(item.parse().ok()?)));
    }
    let (construct, scope) = head.rsplit_once('.')?;
    Some((construct, Scope::Named(scope)))
}

/// The innermost map item `path` is in: its item value's index, and the
/// map's path.
pub fn enclosing_item(path: &str) -> Option<(&str, usize)> {
    let mut current = path;
    while let Some((construct, scope)) = parent_of(current) {
        if let Scope::Item(item) = scope {
            return Some((construct, item));
        }
        current = construct;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_scopes() {
        assert_eq!(site_key("per_article[12].review"), "per_article[].review");
        assert_eq!(site_key("a.b.c"), "a.b.c");
        assert_eq!(
            parent_of("per_article[12].review"),
            Some(("per_article", Scope::Item(12)))
        );
        assert_eq!(
            parent_of("research.web.fetch"),
            Some(("research", Scope::Named("web")))
        );
        assert_eq!(parent_of("x[1].y.z.w"), Some(("x[1].y", Scope::Named("z"))));
        assert_eq!(parent_of("draft"), None);
        assert_eq!(enclosing_item("m[3].p.a.b"), Some(("m", 3)));
        assert_eq!(enclosing_item("p.a.b"), None);
    }
}
