//! `markdown`: turns Markdown into HTML (pulldown-cmark, CommonMark with tables,
//! footnotes and strikethrough), and extracts a title (the first heading) and a
//! meta description (the first paragraph's text, cut at a word boundary). Raw HTML
//! in the Markdown is escaped unless `allow_html` is set, since the text often
//! comes from a language model.

use cairn_sdk::{Context, Error, Info, Outcome, Step, Value, export_step, json};
use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd, html};
use serde::Deserialize;

struct Markdown;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Which field of the input holds the Markdown; by default the input itself
    /// when it is a string, else its `markdown`, `text` or `content` field.
    #[serde(default)]
    field: Option<String>,
    #[serde(default = "description_length")]
    description_length: usize,
    #[serde(default)]
    allow_html: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            field: None,
            description_length: description_length(),
            allow_html: false,
        }
    }
}

fn description_length() -> usize {
    160
}

impl Step for Markdown {
    type Config = Option<Config>;
    type Input = Value;
    type Checkpoint = ();

    fn info() -> Info {
        Info::new(
            "markdown",
            env!("CARGO_PKG_VERSION"),
            "Renders Markdown to HTML and extracts a title and a meta description.",
        )
        .config_schema(json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "field": {"type": "string", "description": "The input field with the Markdown"},
                "description_length": {"type": "integer", "minimum": 20, "maximum": 1000, "default": 160},
                "allow_html": {"type": "boolean", "default": false}
            }
        }))
        .output_schema(json!({
            "type": "object",
            "required": ["html", "title", "description", "word_count"],
            "properties": {
                "html": {"type": "string"},
                "title": {"type": "string"},
                "description": {"type": "string"},
                "word_count": {"type": "integer"}
            }
        }))
    }

    fn run(_ctx: &Context, config: Option<Config>, input: Value) -> Result<Outcome, Error> {
        let config = config.unwrap_or_default();
        let source = source_of(&input, config.field.as_deref())?;
        Outcome::complete(render(source, &config))
    }
}

fn source_of<'a>(input: &'a Value, field: Option<&str>) -> Result<&'a str, Error> {
    let found = match field {
        Some(field) => input.get(field).and_then(Value::as_str),
        None => input.as_str().or_else(|| {
            ["markdown", "text", "content"]
                .iter()
                .find_map(|name| input.get(name).and_then(Value::as_str))
        }),
    };
    found.ok_or_else(|| {
        Error::fatal(match field {
            Some(field) => format!("the input has no text field '{field}'"),
            None => {
                "the input is not Markdown text, nor has a `markdown`, `text` or `content` field"
                    .to_owned()
            }
        })
    })
}

fn render(source: &str, config: &Config) -> Value {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_SMART_PUNCTUATION;
    let mut title: Option<(HeadingLevel, String)> = None;
    let mut description = String::new();
    let (mut in_heading, mut in_paragraph, mut paragraph_done) = (None, false, false);
    let mut heading_text = String::new();
    let mut words = 0usize;
    let events: Vec<Event<'_>> = Parser::new_ext(source, options)
        .map(|event| {
            match &event {
                Event::Start(Tag::Heading { level, .. }) => {
                    in_heading = Some(*level);
                    heading_text.clear();
                }
                Event::End(TagEnd::Heading(_)) => {
                    if let Some(level) = in_heading.take() {
                        let better = title.as_ref().is_none_or(|(best, _)| level < *best);
                        if better && !heading_text.trim().is_empty() {
                            title = Some((level, heading_text.trim().to_owned()));
                        }
                    }
                }
                Event::Start(Tag::Paragraph) => in_paragraph = !paragraph_done,
                Event::End(TagEnd::Paragraph) => {
                    if in_paragraph && !description.trim().is_empty() {
                        paragraph_done = true;
                    }
                    in_paragraph = false;
                }
                Event::Text(text) | Event::Code(text) => {
                    words += text.split_whitespace().count();
                    if in_heading.is_some() {
                        heading_text.push_str(text);
                    } else if in_paragraph {
                        description.push_str(text);
                    }
                }
                Event::SoftBreak | Event::HardBreak if in_paragraph => description.push(' '),
                _ => {}
            }
            match event {
                Event::Html(raw) | Event::InlineHtml(raw) if !config.allow_html => Event::Text(raw),
                other => other,
            }
        })
        .collect();
    let mut out = String::with_capacity(source.len() * 3 / 2);
    html::push_html(&mut out, events.into_iter());
    json!({
        "html": out,
        "title": title.map(|(_, text)| text).unwrap_or_default(),
        "description": shorten(&description, config.description_length),
        "word_count": words,
    })
}

/// Collapses whitespace and cuts at the last word boundary within `max` characters.
fn shorten(text: &str, max: usize) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() <= max {
        return text;
    }
    let cut: String = text.chars().take(max.saturating_sub(1)).collect();
    let cut = match cut.rfind(' ') {
        Some(space) if space > max / 2 => &cut[..space],
        _ => cut.as_str(),
    };
    format!("{}…", cut.trim_end_matches([',', ';', ':', '.', ' ']))
}

export_step!(Markdown);
