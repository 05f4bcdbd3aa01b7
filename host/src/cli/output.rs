//! How the remote commands print: plain tables and short lines for people,
//! the server's JSON for scripts (`--json`).

use serde_json::Value;

/// Rows under a header, in columns two spaces apart; `empty` when there are
/// no rows.
pub fn table(header: &[&str], rows: Vec<Vec<String>>, empty: &str) {
    if rows.is_empty() {
        say!("{empty}");
        return;
    }
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::NOTHING);
    table.set_header(header.to_vec());
    for row in rows {
        table.add_row(row);
    }
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
    }
    for line in table.lines() {
        say!("{}", line.trim_end());
    }
}

/// The server's JSON as it came, or `readable` for a person.
pub fn show(json: bool, value: &Value, readable: impl FnOnce(&Value)) -> anyhow::Result<()> {
    if json {
        super::print_json(value)
    } else {
        readable(value);
        Ok(())
    }
}

/// A string field, or `-`.
pub fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

/// An RFC 3339 timestamp to the second, without the `T` and zone
/// (`2026-12-02 18:31:39`); `-` when absent.
pub fn when(value: &Value) -> String {
    match value.as_str() {
        Some(at) => at.get(..19).unwrap_or(at).replacen('T', " ", 1),
        None => "-".to_owned(),
    }
}

/// JSON in one line, cut to `max` characters.
pub fn short(value: &Value, max: usize) -> String {
    let text = match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    if text.chars().count() <= max {
        return text;
    }
    let cut: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}

/// A run as `#3`, or its id when it has no number.
pub fn number(run: &Value) -> String {
    match run["number"].as_i64() {
        Some(n) if n > 0 => format!("#{n}"),
        _ => "-".to_owned(),
    }
}
