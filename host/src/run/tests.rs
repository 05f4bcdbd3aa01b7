//! Tests of the run core: the JSON of its types, and its transitions
//! against an oracle written apart from them.

use super::*;

#[test]
fn pending_actions_keep_their_json_shape() {
    let gate = serde_json::json!({
        "step": "review", "kind": "approval", "message": "Ship it?", "options": ["approve", "reject"],
        "input_schema": null, "data": {"title": "x"}, "reviewers": ["ana@example.com"],
        "required": 2, "approvals": 1, "paused_at": "2026-12-02T10:00:00.000Z"
    });
    let typed: PendingAction = serde_json::from_value(gate.clone()).expect("a gate's action");
    assert_eq!(typed.gate.as_ref().map(|g| g.approvals), Some(1));
    assert_eq!(serde_json::to_value(&typed).ok(), Some(gate));
    let plugin = serde_json::json!({
        "step": "pick", "kind": "choice", "message": "Which?", "options": [],
        "input_schema": {"type": "string"}, "data": null
    });
    let typed: PendingAction = serde_json::from_value(plugin.clone()).expect("a plugin's");
    assert_eq!(typed.gate, None);
    assert_eq!(serde_json::to_value(&typed).ok(), Some(plugin));
}

#[test]
fn a_quorum_counts_identities_once_whatever_their_case() {
    let decision = |who: &str, approving| Decision {
        reviewer: who.to_owned(),
        option: "approve".to_owned(),
        note: None,
        approving,
        at: String::new(),
        channel: Channel::Api,
        label: None,
    };
    let decisions = [
        decision("ana@example.com", true),
        decision("ANA@example.com", true),
        decision("bo", false),
        decision("cy", true),
    ];
    assert_eq!(distinct_approvers(&decisions), 2);
}

#[test]
fn event_kinds_read_back_as_written() {
    for kind in EventKind::ALL {
        assert_eq!(kind.as_str().parse::<EventKind>(), Ok(kind));
        assert_eq!(
            serde_json::to_value(kind).ok(),
            Some(serde_json::json!(kind.as_str()))
        );
    }
    assert!("exploded".parse::<EventKind>().is_err());
}

#[test]
fn terminal_states_are_final() {
    for from in RunStatus::ALL.into_iter().filter(|s| s.is_terminal()) {
        assert!(
            RunStatus::ALL.into_iter().all(|to| !from.can_become(to)),
            "{from}"
        );
    }
    for from in StepStatus::ALL.into_iter().filter(|s| s.is_terminal()) {
        assert!(
            StepStatus::ALL.into_iter().all(|to| !from.can_become(to)),
            "{from}"
        );
    }
}

#[test]
fn statuses_round_trip_through_text() {
    for status in RunStatus::ALL {
        assert_eq!(status.as_str().parse(), Ok(status));
    }
    for status in StepStatus::ALL {
        assert_eq!(status.as_str().parse(), Ok(status));
    }
    assert!("done".parse::<RunStatus>().is_err());
}
