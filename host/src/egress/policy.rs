//! Who may call what: the allow-lists that every outbound request must pass.
//!
//! A request leaves the host only when every layer allows it: the operator's
//! allow-list, the tenant's policy (when the operator set one) and, for a
//! step's requests, the step's grant in its workflow. Then the address it
//! connects to must be public, or allowed by the operator by IP or CIDR.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::address;
use super::secrets::check_secret_name;

/// A host a request may go to: `[scheme://]host[:port]`.
///
/// - `host` is a name (`api.example.com`), `*.example.com` (its subdomains, not
///   itself), an IP address (`10.0.0.5`, `[::1]`), a network in CIDR form
///   (`10.0.0.0/8`, `[fd00::/8]`), or `*` (any host);
/// - without a scheme both `http` and `https` match;
/// - without a port only the scheme's default port matches (80, 443); `:*`
///   matches any port.
///
/// In the operator's list, an IP or CIDR entry is also what lets requests
/// reach loopback, private and link-local addresses (see [`address`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    text: String,
    scheme: Option<String>,
    host: HostMatch,
    port: PortMatch,
}

impl utoipa::PartialSchema for HostPattern {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "`[scheme://]host[:port]`: a name (`api.example.com`), `*.example.com` \
                 (its subdomains), an IP address, a CIDR network, or `*`; without a \
                 port only the scheme's default port matches, `:*` any port.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for HostPattern {}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostMatch {
    Any,
    /// A name, lowercase.
    Name(String),
    /// `*.suffix`: stored as `.suffix`.
    Subdomains(String),
    /// An IP address (as a /32 or /128) or a network.
    Net(IpNet),
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
        let not_a_pattern = || {
            format!(
                "'{text}' is not a host pattern: write `host`, `host:port`, `*.domain`, \
                 an IP address, a CIDR such as `10.0.0.0/8`, or `https://host`"
            )
        };
        if rest.is_empty() || rest.contains(['?', '#', '@', ' ']) {
            return Err(not_a_pattern());
        }
        // An IPv6 address or network is written in brackets: `[::1]:8080`.
        let bracketed = rest.starts_with('[');
        let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
            let (host, after) = inner.split_once(']').ok_or_else(not_a_pattern)?;
            match after {
                "" => (host, None),
                _ => (
                    host,
                    Some(after.strip_prefix(':').ok_or_else(not_a_pattern)?),
                ),
            }
        } else {
            match rest.split_once(':') {
                Some((_, port)) if port.contains(':') => {
                    return Err(format!(
                        "'{text}': write an IPv6 address in brackets, e.g. `[::1]:8080`"
                    ));
                }
                Some((host, port)) => (host, Some(port)),
                None => (rest, None),
            }
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
        } else if let Some(net) =
            address::parse_net(&host).filter(|net| !bracketed || net.addr().is_ipv6())
        {
            HostMatch::Net(net)
        } else if bracketed || host.contains(['/', '[', ']', ':']) {
            return Err(not_a_pattern());
        } else if let Some(suffix) = host.strip_prefix("*.") {
            if suffix.is_empty() || suffix.contains('*') {
                return Err(format!("'{text}': a wildcard is `*.domain`"));
            }
            HostMatch::Subdomains(format!(".{suffix}"))
        } else if host.contains('*') {
            return Err(format!("'{text}': a wildcard is `*.domain` or `*`"));
        } else {
            HostMatch::Name(host)
        };
        Ok(HostPattern {
            text: trimmed.to_owned(),
            scheme,
            host,
            port,
        })
    }

    fn matches_scheme_and_port(&self, target: &Target) -> bool {
        self.scheme.as_deref().is_none_or(|s| s == target.scheme)
            && match self.port {
                PortMatch::Any => true,
                PortMatch::Exact(port) => port == target.port,
                PortMatch::Default => target.port == default_port(&target.scheme),
            }
    }

    pub fn matches(&self, target: &Target) -> bool {
        self.matches_scheme_and_port(target)
            && match &self.host {
                HostMatch::Any => true,
                HostMatch::Name(host) => *host == target.host,
                HostMatch::Subdomains(suffix) => target.host.ends_with(suffix.as_str()),
                HostMatch::Net(net) => target
                    .host
                    .parse::<IpAddr>()
                    .is_ok_and(|ip| net.contains(&ip)),
            }
    }

    /// Whether this is an IP or CIDR entry covering `ip` for the target's
    /// scheme and port: the operator's explicit allowance of a special address.
    fn allows_address(&self, target: &Target, ip: IpAddr) -> bool {
        matches!(&self.host, HostMatch::Net(net) if net.contains(&ip))
            && self.matches_scheme_and_port(target)
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
    /// Lowercase; an IPv6 address without its brackets.
    pub host: String,
    pub port: u16,
    /// The path as sent, without the query.
    pub path: String,
}

impl Target {
    /// The target of `method uri`; an error for a URI that is not an absolute
    /// http(s) URL with a host.
    pub fn of(method: &str, uri: &http::Uri) -> Result<Target, String> {
        let scheme = uri
            .scheme_str()
            .map(str::to_ascii_lowercase)
            .filter(|s| s == "http" || s == "https")
            .ok_or_else(|| format!("'{uri}' is not an http(s) URL"))?;
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("'{uri}' has no host"))?;
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err(format!("'{uri}': user names in URLs are not allowed"));
        }
        Ok(Target {
            method: method.to_ascii_uppercase(),
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_ascii_lowercase(),
            port: uri.port_u16().unwrap_or_else(|| default_port(&scheme)),
            path: uri.path().to_owned(),
            scheme,
        })
    }

    /// [`Target::of`] a URL written as text.
    pub fn parse(method: &str, url: &str) -> Result<Target, String> {
        let uri: http::Uri = url.parse().map_err(|_| format!("'{url}' is not a URL"))?;
        Target::of(method, &uri)
    }

    /// The host as written in a URL: an IPv6 address in brackets.
    pub fn authority_host(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}://{}:{}{}",
            self.method,
            self.scheme,
            self.authority_host(),
            self.port,
            self.path
        )
    }
}

/// The path a server will see once it resolves `.` and `..` segments (also
/// written `%2e`), or `None` when the path has an encoded separator (`%2f`,
/// `%5c`) or a backslash, which servers read in different ways: such a path
/// matches no path prefix.
pub fn canonical_path(path: &str) -> Option<String> {
    let lower = path.to_ascii_lowercase();
    if lower.contains("%2f") || lower.contains("%5c") || path.contains('\\') {
        return None;
    }
    let mut segments: Vec<&str> = Vec::new();
    let mut decoded = Vec::new();
    for segment in path.split('/').skip(1) {
        let dots = segment.replace("%2e", ".").replace("%2E", ".");
        decoded.push((segment, dots));
    }
    let last = decoded.len().saturating_sub(1);
    let mut trailing_slash = path.ends_with('/');
    for (i, (segment, dots)) in decoded.iter().enumerate() {
        match dots.as_str() {
            "." => trailing_slash |= i == last,
            ".." => {
                segments.pop();
                trailing_slash |= i == last;
            }
            _ => segments.push(segment),
        }
    }
    let mut canonical = format!("/{}", segments.join("/"));
    if trailing_slash && !canonical.ends_with('/') {
        canonical.push('/');
    }
    Some(canonical)
}

/// One entry of a step's grant: a host, and optionally the methods and path
/// prefixes allowed there. Written as a string when it is only a host.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
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
                        || canonical_path(&target.path).is_some_and(|path| {
                            path_prefixes
                                .iter()
                                .any(|prefix| path_has_prefix(&path, prefix))
                        }))
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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

/// The allow-lists a host was configured with: the operator's, and the
/// tenants' narrowings of it. Shared by every kind of outbound request.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// The operator's allow-list: empty allows nothing.
    pub operator: Vec<HostPattern>,
    /// Per-tenant narrowing of `operator`.
    pub tenants: HashMap<String, TenantPolicy>,
}

impl Rules {
    /// The policy of a request made for `tenant`: a step's, with its grant,
    /// or the host's own on the tenant's behalf (a webhook), with `None`.
    pub fn policy(&self, tenant: &str, step: Option<Vec<GrantRule>>) -> EgressPolicy {
        EgressPolicy {
            operator: self.operator.clone(),
            tenant: self
                .tenants
                .get(tenant)
                .and_then(|policy| policy.http_allow.clone()),
            step,
        }
    }
}

/// Every layer one request must pass.
#[derive(Debug, Clone)]
pub struct EgressPolicy {
    /// The operator's allow-list: empty allows nothing.
    pub operator: Vec<HostPattern>,
    /// The tenant's policy, when the operator set one.
    pub tenant: Option<Vec<HostPattern>>,
    /// The step's grant, for a step's requests; `None` for the host's own
    /// requests on a tenant's behalf.
    pub step: Option<Vec<GrantRule>>,
}

impl EgressPolicy {
    /// Allows only `target`'s scheme, host and port, at whatever address its
    /// host resolves to (loopback and private ones included): for an endpoint
    /// the operator named in the settings, such as the planner's model server,
    /// which often runs on the same machine.
    pub fn only(target: &Target) -> EgressPolicy {
        let port = target.port;
        let scheme = &target.scheme;
        let patterns = [
            format!("{scheme}://{}:{port}", target.authority_host()),
            format!("{scheme}://0.0.0.0/0:{port}"),
            format!("{scheme}://[::/0]:{port}"),
        ];
        EgressPolicy {
            operator: patterns
                .iter()
                .filter_map(|p| HostPattern::parse(p).ok())
                .collect(),
            tenant: None,
            step: None,
        }
    }

    /// Whether the lists allow `target` (before DNS).
    pub fn check(&self, target: &Target) -> Result<(), Denial> {
        if !self.operator.iter().any(|p| p.matches(target)) {
            return Err(Denial(format!(
                "{target} is not on the operator's allow-list (http_allow)"
            )));
        }
        if let Some(tenant) = &self.tenant
            && !tenant.iter().any(|p| p.matches(target))
        {
            return Err(Denial(format!(
                "{target} is not allowed by the tenant's policy"
            )));
        }
        if let Some(step) = &self.step
            && !step.iter().any(|rule| rule.allows(target))
        {
            let hint = if canonical_path(&target.path).is_none() {
                " (its path has an encoded '/' or '\\', which matches no path prefix)"
            } else {
                ""
            };
            return Err(Denial(format!(
                "{target} is not in this step's http grant{hint}"
            )));
        }
        Ok(())
    }

    /// Whether a connection to `target` may go to `ip`, one of the addresses
    /// its host resolved to: public addresses may; loopback, private,
    /// link-local and other special ones only when an operator entry allows
    /// that address by IP or CIDR.
    pub fn check_address(&self, target: &Target, ip: IpAddr) -> Result<(), Denial> {
        let Some(range) = address::special_range(ip) else {
            return Ok(());
        };
        if self.operator.iter().any(|p| p.allows_address(target, ip)) {
            return Ok(());
        }
        Err(Denial(format!(
            "{target}: {} is {range}; the operator allows such addresses only by IP or CIDR \
             in http_allow",
            target_ip(ip)
        )))
    }
}

fn target_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(method: &str, url: &str) -> Target {
        Target::parse(method, url).expect("valid")
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
    fn a_policy_for_one_endpoint_allows_it_at_any_address_and_nothing_else() {
        let policy = EgressPolicy::only(&target("POST", "http://localhost:11434/v1/chat"));
        assert_eq!(policy.operator.len(), 3, "{:?}", policy.operator);
        let allowed = target("POST", "http://localhost:11434/v1/x");
        assert!(policy.check(&allowed).is_ok());
        for ip in ["127.0.0.1", "::1", "10.1.2.3"] {
            let ip: IpAddr = ip.parse().expect("ip");
            assert!(policy.check_address(&allowed, ip).is_ok(), "{ip}");
        }
        for url in [
            "http://localhost:11435/v1/x",
            "https://localhost:11434/v1/x",
            "http://evil.example:11434/",
        ] {
            assert!(policy.check(&target("POST", url)).is_err(), "{url}");
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
        check(
            "[::1]:8080",
            &[
                ("http://[::1]:8080/", true),
                ("http://[::2]:8080/", false),
                ("http://[::1]:8081/", false),
            ],
        );
        check(
            "10.0.0.0/8:*",
            &[
                ("http://10.9.8.7:4000/", true),
                ("http://11.0.0.1:4000/", false),
                ("http://ten.example.com:4000/", false),
            ],
        );
        check(
            "[fd00::/8]",
            &[("http://[fd12::1]/", true), ("http://[fe80::1]/", false)],
        );
    }

    #[test]
    fn targets_come_from_absolute_http_urls() {
        let t = target("post", "http://[::1]:9/a/b?q=1");
        assert_eq!(
            (t.method.as_str(), t.host.as_str(), t.port, t.path.as_str()),
            ("POST", "::1", 9, "/a/b")
        );
        assert_eq!(t.to_string(), "POST http://[::1]:9/a/b");
        for bad in [
            "ftp://x.com/",
            "/relative",
            "http://u:p@x.com/",
            "http:///x",
        ] {
            assert!(Target::parse("GET", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn paths_are_compared_as_the_server_resolves_them() {
        for (path, canonical) in [
            ("/allowed/x", Some("/allowed/x")),
            ("/allowed/../admin", Some("/admin")),
            ("/allowed/%2e%2e/admin", Some("/admin")),
            ("/allowed/%2E./admin", Some("/admin")),
            ("/allowed/./x/", Some("/allowed/x/")),
            ("/a/b/..", Some("/a/")),
            ("/../../etc", Some("/etc")),
            ("/allowed/..%2fadmin", None),
            ("/allowed/%5C..", None),
            ("/allowed\\..\\admin", None),
        ] {
            assert_eq!(canonical_path(path).as_deref(), canonical, "{path}");
        }
        let rule = GrantRule::Detailed {
            host: HostPattern::parse("api.example.com").expect("valid"),
            methods: vec![],
            path_prefixes: vec!["/allowed".into()],
        };
        for (path, allowed) in [
            ("/allowed", true),
            ("/allowed/x", true),
            ("/allowed/./x", true),
            ("/allowed/../admin", false),
            ("/allowed/%2e%2e/admin", false),
            ("/allowed/..%2fadmin", false),
            ("/allowedx", false),
        ] {
            let url = format!("https://api.example.com{path}");
            assert_eq!(rule.allows(&target("GET", &url)), allowed, "{path}");
        }
    }

    #[test]
    fn special_addresses_need_an_operator_ip_or_cidr_entry() {
        let host = |s: &str| HostPattern::parse(s).expect("valid");
        let policy = |operator: &[&str]| EgressPolicy {
            operator: operator.iter().map(|s| host(s)).collect(),
            tenant: None,
            step: None,
        };
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        let by_name = target("GET", "http://hooks.example.com:4000/x");
        let open = policy(&["*:*"]);
        assert_eq!(open.check(&by_name), Ok(()));
        assert_eq!(open.check_address(&by_name, ip("93.184.216.34")), Ok(()));
        for special in ["127.0.0.1", "10.0.0.8", "169.254.169.254", "::1", "fd00::1"] {
            let denial = open
                .check_address(&by_name, ip(special))
                .expect_err(special);
            assert!(denial.0.contains("only by IP or CIDR"), "{denial}");
        }
        let explicit = policy(&["*:*", "127.0.0.1:4000", "10.0.0.0/8:*", "[::1]:*"]);
        assert_eq!(explicit.check_address(&by_name, ip("127.0.0.1")), Ok(()));
        assert_eq!(explicit.check_address(&by_name, ip("10.0.0.8")), Ok(()));
        assert_eq!(explicit.check_address(&by_name, ip("::1")), Ok(()));
        assert!(explicit.check_address(&by_name, ip("127.0.0.2")).is_err());
        assert!(
            explicit
                .check_address(&by_name, ip("169.254.169.254"))
                .is_err()
        );
        let other_port = target("GET", "http://hooks.example.com:4001/x");
        assert!(
            explicit
                .check_address(&other_port, ip("127.0.0.1"))
                .is_err()
        );
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
            "::1",
            "[::1",
            "[::1]x",
            "10.0.0.0/33",
            "[example.com]",
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
            step: Some(vec![GrantRule::Detailed {
                host: host("api.example.com"),
                methods: vec!["post".into()],
                path_prefixes: vec!["/v1/chat".into()],
            }]),
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
