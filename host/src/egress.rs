//! Who may call what: the allow-lists that outbound HTTP from plugins must pass,
//! and the placeholders by which plugins refer to tenants' secrets.
//!
//! A request leaves the host only when every layer allows it: the operator's
//! allow-list, the tenant's policy (when the operator set one) and the step's
//! grant in its workflow. Knows nothing of wasmtime, SQL or HTTP servers.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A host a request may go to: `[scheme://]host[:port]`.
///
/// - `host` is a name (`api.example.com`), `*.example.com` (its subdomains, not
///   itself), an IP address, or `*` (any host);
/// - without a scheme both `http` and `https` match;
/// - without a port only the scheme's default port matches (80, 443); `:*`
///   matches any port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    text: String,
    scheme: Option<String>,
    host: HostMatch,
    port: PortMatch,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostMatch {
    Any,
    Exact(String),
    /// `*.suffix`: stored as `.suffix`.
    Subdomains(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortMatch {
    Default,
    Any,
    Exact(u16),
}

impl HostPattern {
    pub fn parse(text: &str) -> Result<HostPattern, String> {
        let trimmed = text.trim();
        let (scheme, rest) = match trimmed.split_once("://") {
            Some((scheme, rest)) => {
                let scheme = scheme.to_ascii_lowercase();
                if scheme != "http" && scheme != "https" {
                    return Err(format!(
                        "'{text}': the scheme must be http or https, not '{scheme}'"
                    ));
                }
                (Some(scheme), rest)
            }
            None => (None, trimmed),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
            return Err(format!(
                "'{text}' is not a host pattern: write `host`, `host:port`, `*.domain` or `https://host`"
            ));
        }
        // An IPv6 address is written in brackets: `[::1]:8080`.
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => (host, Some(port)),
            _ => (rest, None),
        };
        let port = match port {
            None => PortMatch::Default,
            Some("*") => PortMatch::Any,
            Some(port) => PortMatch::Exact(
                port.parse()
                    .map_err(|_| format!("'{text}': '{port}' is not a port"))?,
            ),
        };
        let host = host.to_ascii_lowercase();
        let host = if host == "*" {
            HostMatch::Any
        } else if let Some(suffix) = host.strip_prefix("*.") {
            if suffix.is_empty() || suffix.contains('*') {
                return Err(format!("'{text}': a wildcard is `*.domain`"));
            }
            HostMatch::Subdomains(format!(".{suffix}"))
        } else if host.contains('*') {
            return Err(format!("'{text}': a wildcard is `*.domain` or `*`"));
        } else {
            HostMatch::Exact(host)
        };
        Ok(HostPattern {
            text: trimmed.to_owned(),
            scheme,
            host,
            port,
        })
    }

    pub fn matches(&self, target: &Target) -> bool {
        if self.scheme.as_deref().is_some_and(|s| s != target.scheme) {
            return false;
        }
        let port_ok = match self.port {
            PortMatch::Any => true,
            PortMatch::Exact(port) => port == target.port,
            PortMatch::Default => target.port == default_port(&target.scheme),
        };
        port_ok
            && match &self.host {
                HostMatch::Any => true,
                HostMatch::Exact(host) => *host == target.host,
                HostMatch::Subdomains(suffix) => target.host.ends_with(suffix.as_str()),
            }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for HostPattern {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for HostPattern {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        HostPattern::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// 443 for `https`, 80 otherwise.
pub fn default_port(scheme: &str) -> u16 {
    if scheme == "https" { 443 } else { 80 }
}

/// Where one outgoing request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub method: String,
    /// `http` or `https`.
    pub scheme: String,
    /// Lowercase.
    pub host: String,
    pub port: u16,
    /// The path, without the query.
    pub path: String,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}://{}:{}{}",
            self.method, self.scheme, self.host, self.port, self.path
        )
    }
}

/// One entry of a step's grant: a host, and optionally the methods and path
/// prefixes allowed there. Written as a string when it is only a host.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum GrantRule {
    Host(HostPattern),
    Detailed {
        host: HostPattern,
        /// Allowed methods (any case); unset: any.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        methods: Vec<String>,
        /// Allowed path prefixes, each starting with `/`; unset: any path.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        path_prefixes: Vec<String>,
    },
}

impl<'de> Deserialize<'de> for GrantRule {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // By hand rather than `untagged`, so that a bad host pattern is
        // reported as itself, not as "did not match any variant".
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Detailed {
            host: HostPattern,
            #[serde(default)]
            methods: Vec<String>,
            #[serde(default)]
            path_prefixes: Vec<String>,
        }
        use serde::de::Error as _;
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::String(text) => HostPattern::parse(&text)
                .map(GrantRule::Host)
                .map_err(D::Error::custom),
            object @ serde_json::Value::Object(_) => {
                let rule: Detailed = serde_json::from_value(object).map_err(D::Error::custom)?;
                Ok(GrantRule::Detailed {
                    host: rule.host,
                    methods: rule.methods,
                    path_prefixes: rule.path_prefixes,
                })
            }
            _ => Err(D::Error::custom(
                "an allow entry is a host pattern string or {host, methods, path_prefixes}",
            )),
        }
    }
}

impl GrantRule {
    pub fn host(&self) -> &HostPattern {
        match self {
            GrantRule::Host(host) | GrantRule::Detailed { host, .. } => host,
        }
    }

    fn allows(&self, target: &Target) -> bool {
        match self {
            GrantRule::Host(host) => host.matches(target),
            GrantRule::Detailed {
                host,
                methods,
                path_prefixes,
            } => {
                host.matches(target)
                    && (methods.is_empty()
                        || methods
                            .iter()
                            .any(|m| m.eq_ignore_ascii_case(&target.method)))
                    && (path_prefixes.is_empty()
                        || path_prefixes
                            .iter()
                            .any(|prefix| path_has_prefix(&target.path, prefix)))
            }
        }
    }
}

/// `/v1/chat` is a prefix of `/v1/chat` and `/v1/chat/x`, not of `/v1/chatter`
/// (unless the prefix ends with `/`).
fn path_has_prefix(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// A step's outbound HTTP grant, from its workflow definition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpGrant {
    /// Where the step may send requests.
    #[serde(default)]
    pub allow: Vec<GrantRule>,
    /// Tenant secrets the step may refer to with `${secret:NAME}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
}

impl HttpGrant {
    /// Problems with the grant, as `(path below the grant, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        for (i, rule) in self.allow.iter().enumerate() {
            if let GrantRule::Detailed {
                methods,
                path_prefixes,
                ..
            } = rule
            {
                for (j, method) in methods.iter().enumerate() {
                    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
                        problems.push((
                            format!("/allow/{i}/methods/{j}"),
                            format!("'{method}' is not an HTTP method"),
                        ));
                    }
                }
                for (j, prefix) in path_prefixes.iter().enumerate() {
                    if !prefix.starts_with('/') {
                        problems.push((
                            format!("/allow/{i}/path_prefixes/{j}"),
                            format!("path prefix '{prefix}' must start with '/'"),
                        ));
                    }
                }
            }
        }
        for (i, name) in self.secrets.iter().enumerate() {
            if let Err(message) = check_secret_name(name) {
                problems.push((format!("/secrets/{i}"), message));
            }
        }
        problems
    }
}

/// What the operator allows one tenant, narrowing the host-wide allow-list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantPolicy {
    /// Hosts the tenant's steps may reach; unset: whatever the operator allows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_allow: Option<Vec<HostPattern>>,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial(pub String);

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Every layer a step's requests must pass.
#[derive(Debug, Clone)]
pub struct EgressPolicy {
    /// The operator's allow-list: empty allows nothing.
    pub operator: Vec<HostPattern>,
    /// The tenant's policy, when the operator set one.
    pub tenant: Option<Vec<HostPattern>>,
    pub step: Vec<GrantRule>,
}

impl EgressPolicy {
    pub fn check(&self, target: &Target) -> Result<(), Denial> {
        if !self.operator.iter().any(|p| p.matches(target)) {
            return Err(Denial(format!(
                "{target} is not on the operator's allow-list"
            )));
        }
        if let Some(tenant) = &self.tenant
            && !tenant.iter().any(|p| p.matches(target))
        {
            return Err(Denial(format!(
                "{target} is not allowed by the tenant's policy"
            )));
        }
        if !self.step.iter().any(|rule| rule.allows(target)) {
            return Err(Denial(format!("{target} is not in this step's http grant")));
        }
        Ok(())
    }
}

/// Secret names: what `${secret:NAME}` may say.
pub fn check_secret_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "secret name '{name}' must be 1 to 64 ASCII letters, digits, '_', '-' or '.'"
        ))
    }
}

const PLACEHOLDER_OPEN: &str = "${secret:";

/// The text a plugin writes where a secret's value should go.
pub fn placeholder(name: &str) -> String {
    format!("{PLACEHOLDER_OPEN}{name}}}")
}

/// Why placeholders could not be filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unfilled {
    /// `${secret:` without its closing `}`.
    Unterminated,
    /// The lookup had no value for this name.
    Refused(String),
}

/// Replaces every `${secret:NAME}` in `text` by `lookup(NAME)`. Returns `None`
/// when there is no placeholder.
pub fn substitute(
    text: &str,
    mut lookup: impl FnMut(&str) -> Option<String>,
) -> Result<Option<String>, Unfilled> {
    if !text.contains(PLACEHOLDER_OPEN) {
        return Ok(None);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(PLACEHOLDER_OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + PLACEHOLDER_OPEN.len()..];
        let Some(end) = after.find('}') else {
            return Err(Unfilled::Unterminated);
        };
        let name = &after[..end];
        match lookup(name) {
            Some(value) => out.push_str(&value),
            None => return Err(Unfilled::Refused(name.to_owned())),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(method: &str, url: &str) -> Target {
        let (scheme, rest) = url.split_once("://").expect("valid");
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().expect("valid")),
            None => (authority, default_port(scheme)),
        };
        Target {
            method: method.into(),
            scheme: scheme.into(),
            host: host.into(),
            port,
            path: path.into(),
        }
    }

    fn check(pattern: &str, cases: &[(&str, bool)]) {
        let pattern = HostPattern::parse(pattern).expect("valid");
        for (url, expected) in cases {
            assert_eq!(
                pattern.matches(&target("GET", url)),
                *expected,
                "{pattern} vs {url}"
            );
        }
    }

    #[test]
    fn host_patterns_match_scheme_host_and_port() {
        check(
            "api.example.com",
            &[
                ("https://api.example.com/x", true),
                ("http://api.example.com/", true),
                ("https://api.example.com:8443/", false),
                ("https://evil.example.com/", false),
                ("https://api.example.com.evil.net/", false),
            ],
        );
        check(
            "https://api.example.com",
            &[
                ("https://api.example.com/", true),
                ("http://api.example.com/", false),
            ],
        );
        check(
            "*.example.com",
            &[
                ("https://a.example.com/", true),
                ("https://a.b.example.com/", true),
                ("https://example.com/", false),
                ("https://badexample.com/", false),
            ],
        );
        check(
            "127.0.0.1:*",
            &[
                ("http://127.0.0.1:4000/", true),
                ("http://127.0.0.2:4000/", false),
            ],
        );
        check(
            "127.0.0.1:4000",
            &[
                ("http://127.0.0.1:4000/", true),
                ("http://127.0.0.1:4001/", false),
            ],
        );
        check("*", &[("https://anything.net/", true)]);
    }

    #[test]
    fn bad_patterns_are_refused() {
        for bad in [
            "",
            "ftp://x.com",
            "x.com/path",
            "a*.com",
            "*.",
            "x.com:port",
            "u@x.com",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn every_layer_must_allow() {
        let host = |s: &str| HostPattern::parse(s).expect("valid");
        let policy = EgressPolicy {
            operator: vec![host("*.example.com"), host("cms.local:8080")],
            tenant: Some(vec![host("api.example.com")]),
            step: vec![GrantRule::Detailed {
                host: host("api.example.com"),
                methods: vec!["post".into()],
                path_prefixes: vec!["/v1/chat".into()],
            }],
        };
        assert_eq!(
            policy.check(&target(
                "POST",
                "https://api.example.com/v1/chat/completions"
            )),
            Ok(())
        );
        let denied = |method, url| policy.check(&target(method, url)).expect_err("denied").0;
        assert!(denied("GET", "https://api.example.com/v1/chat").contains("step's http grant"));
        assert!(denied("POST", "https://api.example.com/v1/chatter").contains("step's http grant"));
        assert!(denied("POST", "https://other.example.com/v1/chat").contains("tenant's policy"));
        assert!(denied("POST", "http://cms.local:8080/").contains("tenant's policy"));
        assert!(denied("POST", "https://evil.net/v1/chat").contains("operator's allow-list"));
    }

    #[test]
    fn placeholders_are_substituted_by_name() {
        let lookup = |name: &str| (name == "key").then(|| "s3cr3t".to_owned());
        assert_eq!(substitute("Bearer x", lookup), Ok(None));
        assert_eq!(
            substitute("Bearer ${secret:key}!", lookup),
            Ok(Some("Bearer s3cr3t!".into()))
        );
        assert_eq!(
            substitute("${secret:key}${secret:key}", lookup),
            Ok(Some("s3cr3ts3cr3t".into()))
        );
        assert_eq!(
            substitute("${secret:other}", lookup),
            Err(Unfilled::Refused("other".into()))
        );
        assert_eq!(
            substitute("${secret:key", lookup),
            Err(Unfilled::Unterminated)
        );
        assert_eq!(placeholder("key"), "${secret:key}");
    }

    #[test]
    fn grants_deserialize_from_strings_or_objects() {
        let grant: HttpGrant = serde_json::from_value(serde_json::json!({
            "allow": ["api.example.com", {"host": "cms.local:*", "methods": ["POST"]}],
            "secrets": ["openai"]
        }))
        .expect("valid");
        assert_eq!(grant.allow.len(), 2);
        assert!(grant.problems().is_empty());
        let bad: Result<HttpGrant, _> =
            serde_json::from_value(serde_json::json!({"allow": ["x.com/path"]}));
        assert!(bad.is_err());
    }
}
