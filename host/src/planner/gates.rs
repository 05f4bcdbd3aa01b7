//! Review before reach: in a plan, every step that publishes or sends
//! something to an audience is preceded by a review gate, so that a person
//! approves what will go out before it goes. (Cairn's gates pause *after* a
//! step; a gate after the sending step would approve what was already sent.)
//!
//! The gate sits on a `noop` step, `review_<name>`, inserted right before the
//! audience step with the same input the audience step will get, so the
//! reviewer sees exactly that. The audience step's own input is unchanged:
//! written out, it still names the same steps; left unset (the previous
//! output), it now gets the `noop`'s output, which is the same value. Where
//! the step before already has a gate, nothing is added.

use serde_json::{Map, Value, json};

use super::StepType;

/// `definition` with a review gate before each step of an audience-reaching
/// type; reviewers get the gate's links by email, and hear of failed runs.
pub fn add_review_gates(mut definition: Value, types: &[StepType], reviewers: &[String]) -> Value {
    let Some(steps) = definition.get_mut("steps").and_then(Value::as_array_mut) else {
        return definition;
    };
    let audience_of = |step: &Value| {
        let name = step["type"].as_str()?.split('@').next()?;
        types.iter().find(|t| t.name == name)?.audience.clone()
    };
    let mut taken: Vec<String> = steps
        .iter()
        .filter_map(|s| s["name"].as_str().map(str::to_owned))
        .collect();
    let mut gated = Vec::with_capacity(steps.len());
    for step in steps.drain(..) {
        let reviewed_already = gated
            .last()
            .is_some_and(|previous: &Value| previous.get("approval").is_some());
        if let Some(audience) = audience_of(&step).filter(|_| !reviewed_already) {
            let name = step["name"].as_str().unwrap_or("step").to_owned();
            let mut review = Map::new();
            review.insert(
                "name".into(),
                json!(unique(&format!("review_{name}"), &mut taken)),
            );
            review.insert("type".into(), json!("noop"));
            if let Some(input) = step.get("input") {
                review.insert("input".into(), input.clone());
            }
            if let Some(when) = step.get("when") {
                review.insert("when".into(), when.clone());
            }
            let mut gate = json!({
                "message": format!(
                    "Approve what '{name}' ({}) will send to {audience}",
                    step["type"].as_str().unwrap_or_default()
                ),
            });
            if !reviewers.is_empty() {
                gate["reviewers"] = json!(reviewers);
            }
            review.insert("approval".into(), gate);
            gated.push(Value::Object(review));
        }
        gated.push(step);
    }
    *steps = gated;
    if !reviewers.is_empty() {
        definition["notifications"] = json!({
            "email": {"to": reviewers, "events": ["failed", "timed_out"], "reviewers": true},
        });
    }
    definition
}

fn unique(wanted: &str, taken: &mut Vec<String>) -> String {
    let mut name = wanted.to_owned();
    let mut n = 2;
    while taken.contains(&name) {
        name = format!("{wanted}_{n}");
        n += 1;
    }
    taken.push(name.clone());
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types() -> Vec<StepType> {
        let step = |name: &str, audience: Option<&str>| StepType {
            name: name.into(),
            description: String::new(),
            config_schema: None,
            input_schema: None,
            audience: audience.map(str::to_owned),
        };
        vec![
            step("transform", None),
            step("publish", Some("the site's readers")),
            step("notify", Some("a chat channel")),
        ]
    }

    #[test]
    fn each_audience_step_gets_a_review_of_its_input_before_it() {
        let plan = json!({"name": "n", "steps": [
            {"name": "draft", "type": "transform"},
            {"name": "publish", "type": "publish@0.1", "input": {"html": "{{ steps.draft.output }}"}},
            {"name": "tell", "type": "notify"},
        ]});
        let gated = add_review_gates(plan, &types(), &["ana@example.com".into()]);
        let names: Vec<&str> = gated["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .map(|s| s["name"].as_str().expect("name"))
            .collect();
        assert_eq!(
            names,
            ["draft", "review_publish", "publish", "review_tell", "tell"]
        );
        let review = &gated["steps"][1];
        assert_eq!(review["type"], "noop");
        assert_eq!(review["input"], json!({"html": "{{ steps.draft.output }}"}));
        assert_eq!(review["approval"]["reviewers"], json!(["ana@example.com"]));
        assert!(
            review["approval"]["message"]
                .as_str()
                .expect("message")
                .contains("the site's readers")
        );
        assert_eq!(
            gated["steps"][3].get("input"),
            None,
            "previous output, as before"
        );
        assert_eq!(gated["notifications"]["email"]["reviewers"], true);
    }

    #[test]
    fn a_step_after_a_gate_needs_no_second_one_and_names_stay_unique() {
        let plan = json!({"name": "n", "steps": [
            {"name": "review_tell", "type": "transform", "approval": {}},
            {"name": "tell", "type": "notify"},
            {"name": "x", "type": "transform"},
            {"name": "publish", "type": "publish"},
        ]});
        let gated = add_review_gates(plan, &types(), &[]);
        let steps = gated["steps"].as_array().expect("steps");
        assert_eq!(steps.len(), 5);
        assert_eq!(steps[3]["name"], "review_publish");
        assert_eq!(steps[3]["approval"].get("reviewers"), None);
        assert_eq!(gated.get("notifications"), None);
        let clash = add_review_gates(
            json!({"steps": [{"name": "review_tell", "type": "transform"}, {"name": "tell", "type": "notify"}]}),
            &types(),
            &[],
        );
        assert_eq!(clash["steps"][1]["name"], "review_tell_2");
    }
}
