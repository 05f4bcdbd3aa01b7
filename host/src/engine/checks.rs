//! A call's config and input checked against the schemas the plugin
//! declares, before the guest sees it: a step run locally and a step of a
//! run fail the same way, with every violation and its path, and the plugin
//! never has to report a caller's mistake as its own.

use serde_json::Value;

/// A plugin's declared schemas, compiled once when it is loaded.
pub(super) struct CallSchemas {
    config: Option<jsonschema::Validator>,
    input: Option<jsonschema::Validator>,
}

impl CallSchemas {
    /// Compiles the schemas `describe` declared (already checked against the
    /// meta-schema when the plugin loaded).
    pub(super) fn new(config: Option<&Value>, input: Option<&Value>) -> CallSchemas {
        let compile =
            |schema: Option<&Value>| schema.and_then(|s| jsonschema::validator_for(s).ok());
        CallSchemas {
            config: compile(config),
            input: compile(input),
        }
    }

    /// Every way `config` and `input` break the schemas: `config` or `input`,
    /// then the JSON pointer, then what is wrong.
    pub(super) fn problems(&self, config: &Value, input: &Value) -> Vec<CallProblem> {
        let mut found = Vec::new();
        for (what, validator, value) in [
            ("config", &self.config, config),
            ("input", &self.input, input),
        ] {
            let Some(validator) = validator else {
                continue;
            };
            found.extend(validator.iter_errors(value).map(|error| CallProblem {
                what,
                path: error.instance_path().to_string(),
                message: error.to_string(),
            }));
        }
        found
    }
}

/// One way a call breaks a declared schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallProblem {
    /// `config` or `input`.
    pub what: &'static str,
    /// A JSON pointer into it; empty for the whole value.
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for CallProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}: {}", self.what, self.path, self.message)
    }
}

/// The step's error for a call the plugin's schemas refuse.
pub(super) fn refusal(plugin: &str, problems: &[CallProblem]) -> String {
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    format!(
        "the call does not match the schemas {plugin} declares ({} violation{}), so it was \
         not called: {}",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" },
        lines.join("; ")
    )
}
