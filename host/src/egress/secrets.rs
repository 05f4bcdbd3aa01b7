//! How steps and webhooks name tenants' secrets without holding them: the
//! `${secret:NAME}` placeholder, filled in by the host only after a request
//! passed the policy; and the scrubbing of values (verbatim and encoded) from
//! whatever a step produces.

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

/// Encoded forms shorter than this are not scrubbed: they would match
/// unrelated text (the verbatim value always is).
const MIN_ENCODED_LEN: usize = 8;

/// Replaces secrets' values in text a step produced by `[secret:NAME]`:
/// verbatim, and in the encodings an echoing server or a careless plugin
/// most often gives them back in: base64 and base64url (at every alignment
/// within a longer encoded string), hex, percent-encoding and JSON string
/// escaping.
///
/// This is a second line of defence. The first is the policy: which hosts a
/// step may send a secret to at all. A plugin that wants to leak a value it
/// was given can always encode it some other way.
#[derive(Debug, Clone, Default)]
pub struct Scrubber {
    /// Every form of every value, longest first, with its secret's name.
    needles: Vec<(String, String)>,
}

impl Scrubber {
    pub fn new<'a>(secrets: impl IntoIterator<Item = (&'a str, &'a str)>) -> Scrubber {
        let mut needles = Vec::new();
        for (name, value) in secrets {
            if value.is_empty() {
                continue;
            }
            needles.push((value.to_owned(), name.to_owned()));
            for form in encoded_forms(value) {
                if form.len() >= MIN_ENCODED_LEN && form != value {
                    needles.push((form, name.to_owned()));
                }
            }
        }
        needles.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        needles.dedup_by(|a, b| a.0 == b.0);
        Scrubber { needles }
    }

    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// Whether `text` holds a secret in any form.
    pub fn finds(&self, text: &str) -> bool {
        self.needles
            .iter()
            .any(|(needle, _)| text.contains(needle.as_str()))
    }

    pub fn scrub(&self, text: &mut String) {
        for (needle, name) in &self.needles {
            if text.contains(needle.as_str()) {
                *text = text.replace(needle.as_str(), &format!("[secret:{name}]"));
            }
        }
    }

    /// [`Scrubber::scrub`] on every string, and every key, of a JSON value.
    pub fn scrub_json(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::String(text) => self.scrub(text),
            Value::Array(items) => items.iter_mut().for_each(|v| self.scrub_json(v)),
            Value::Object(map) => {
                if map.keys().any(|key| self.finds(key)) {
                    let entries = std::mem::take(map);
                    for (mut key, value) in entries {
                        self.scrub(&mut key);
                        map.insert(key, value);
                    }
                }
                map.values_mut().for_each(|v| self.scrub_json(v));
            }
            _ => {}
        }
    }
}

/// The forms of `value` that [`Scrubber`] looks for besides the value itself.
fn encoded_forms(value: &str) -> Vec<String> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let bytes = value.as_bytes();
    let mut forms = Vec::new();
    // Inside a longer base64 string the value starts at one of three byte
    // offsets; at each, only the characters made of its bits alone are fixed.
    for offset in 0..3 {
        let mut shifted = vec![0u8; offset];
        shifted.extend_from_slice(bytes);
        let start = (8 * offset).div_ceil(6);
        let end = 8 * (offset + bytes.len()) / 6;
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            let encoded = engine.encode(&shifted);
            if let Some(fixed) = encoded.get(start..end.min(encoded.len())) {
                forms.push(fixed.to_owned());
            }
        }
    }
    let hex = hex::encode(bytes);
    forms.push(hex.to_ascii_uppercase());
    forms.push(hex);
    let percent = |upper: bool, plus: bool| {
        let mut out = String::with_capacity(bytes.len() * 3);
        for &b in bytes {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                out.push(char::from(b));
            } else if plus && b == b' ' {
                out.push('+');
            } else if upper {
                out.push_str(&format!("%{b:02X}"));
            } else {
                out.push_str(&format!("%{b:02x}"));
            }
        }
        out
    };
    forms.push(percent(true, false));
    forms.push(percent(false, false));
    forms.push(percent(true, true));
    let json = serde_json::to_string(value).unwrap_or_default();
    let json = json.trim_matches('"').to_owned();
    forms.push(json.replace('/', "\\/"));
    let ascii: String = json
        .chars()
        .map(|c| {
            if c.is_ascii() {
                c.to_string()
            } else {
                let mut units = [0u16; 2];
                c.encode_utf16(&mut units)
                    .iter()
                    .map(|u| format!("\\u{u:04x}"))
                    .collect()
            }
        })
        .collect();
    forms.push(ascii);
    forms.push(json);
    forms
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn secrets_are_scrubbed_verbatim_and_in_common_encodings() {
        use base64::Engine as _;
        use base64::engine::general_purpose::{STANDARD, URL_SAFE};
        let value = "sk-live/7f3a+9c1e?5b2d é";
        let scrubber = Scrubber::new([("api", value)]);
        let json = serde_json::to_string(value).expect("json");
        let cases = [
            value.to_owned(),
            STANDARD.encode(value),
            URL_SAFE.encode(value),
            STANDARD.encode(format!("Bearer {value}")),
            STANDARD.encode(format!("user:{value}")),
            URL_SAFE.encode(format!("xy{value}")),
            hex::encode(value),
            hex::encode(value).to_ascii_uppercase(),
            "sk-live%2F7f3a%2B9c1e%3F5b2d%20%C3%A9".to_owned(),
            "sk-live%2f7f3a%2b9c1e%3f5b2d%20%c3%a9".to_owned(),
            "sk-live%2F7f3a%2B9c1e%3F5b2d+%C3%A9".to_owned(),
            json.clone(),
            json.replace('/', "\\/"),
            "sk-live/7f3a+9c1e?5b2d \\u00e9".to_owned(),
        ];
        for leaked in cases {
            let mut text = format!("echo: {leaked} end");
            scrubber.scrub(&mut text);
            assert!(text.contains("[secret:api]"), "{leaked} -> {text}");
            assert!(!text.contains("7f3a"), "{leaked} -> {text}");
        }
        let mut unrelated = "nothing secret here".to_owned();
        scrubber.scrub(&mut unrelated);
        assert_eq!(unrelated, "nothing secret here");

        let mut output = serde_json::json!({
            "headers": {"x-echo": STANDARD.encode(value)},
            (hex::encode(value)): [value],
        });
        scrubber.scrub_json(&mut output);
        let text = output.to_string();
        assert!(
            !text.contains("7f3a") && !text.contains(&hex::encode(value)),
            "{text}"
        );
    }
}
