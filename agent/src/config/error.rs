//! Configuration errors that name the file, line, column and key, and how
//! a byte span of the TOML text becomes those.
//!
//! The `toml` crate reports a byte span with each error but no key path
//! with array indices, so the path is found here: the document is parsed
//! once more into its spanned tree (`toml::de::DeTable`) and the key or
//! value whose span is the error's names it (`peer[1].bfd.interval_ms`).

use std::fmt;
use std::io;
use std::ops::Range;
use std::path::PathBuf;

use toml::de::{DeTable, DeValue};

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: {error}", file.display())]
    Read { file: PathBuf, error: io::Error },
    /// The file was read but is not a valid configuration.
    #[error("{0}")]
    Invalid(Box<Diagnostic>),
}

impl ConfigError {
    /// Where and what, for an invalid file; `None` for a read error.
    pub fn diagnostic(&self) -> Option<&Diagnostic> {
        match self {
            ConfigError::Read { .. } => None,
            ConfigError::Invalid(d) => Some(d),
        }
    }
}

/// One problem in a configuration file, displayed as
/// `/etc/hostroute.toml:12:3: peer[1].bfd.interval_ms: 5 is below the minimum of 10 ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Dotted key path with array indices; `None` for a syntax error that
    /// belongs to no key.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file.display(), self.line, self.column)?;
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// A problem found while checking values, before it is placed in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Problem {
    pub span: Range<usize>,
    pub key: String,
    pub message: String,
}

impl Problem {
    pub fn new(span: Range<usize>, key: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            span,
            key: key.into(),
            message: message.into(),
        }
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub(super) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = text.get(..offset).unwrap_or_default();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = before.get(line_start..).unwrap_or_default().chars().count() + 1;
    (line, column)
}

/// Every key and value of a parsed document with its path and span, in
/// document order.
pub(super) struct Nodes {
    nodes: Vec<Node>,
}

struct Node {
    path: String,
    span: Range<usize>,
    /// A table opened by a `[header]` or `[[header]]` line.
    header: bool,
}

impl Nodes {
    pub fn new(doc: &DeTable<'_>, text: &str) -> Self {
        let mut nodes = Vec::new();
        walk_table(doc, "", text, &mut nodes);
        nodes.sort_by_key(|n| n.span.start);
        Nodes { nodes }
    }

    /// The path of the key or value at `span`: the innermost with exactly
    /// that span (an array of tables shares its span with its first
    /// table), else the narrowest that contains it.
    pub fn path_at(&self, span: &Range<usize>) -> Option<&str> {
        if let Some(n) = self.nodes.iter().rev().find(|n| n.span == *span) {
            return Some(&n.path);
        }
        self.containing(span)
    }

    /// Like [`Nodes::path_at`], but the outermost with exactly that span:
    /// for errors about an array itself.
    pub fn outer_path_at(&self, span: &Range<usize>) -> Option<&str> {
        if let Some(n) = self.nodes.iter().find(|n| n.span == *span) {
            return Some(&n.path);
        }
        self.containing(span)
    }

    fn containing(&self, span: &Range<usize>) -> Option<&str> {
        self.nodes
            .iter()
            .filter(|n| n.span.start <= span.start && span.end <= n.span.end)
            .min_by_key(|n| n.span.len())
            .map(|n| n.path.as_str())
    }

    /// The table whose header is the last before `offset` (`""`: the
    /// top level).
    pub fn table_at(&self, offset: usize) -> &str {
        self.nodes
            .iter()
            .rfind(|n| n.header && n.span.start <= offset)
            .map_or("", |n| n.path.as_str())
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

fn walk_table(table: &DeTable<'_>, path: &str, text: &str, out: &mut Vec<Node>) {
    for (key, value) in table {
        let path = join(path, key.get_ref());
        out.push(Node {
            path: path.clone(),
            span: key.span(),
            header: false,
        });
        walk_value(value.get_ref(), value.span(), path, text, out);
    }
}

fn walk_value(
    value: &DeValue<'_>,
    span: Range<usize>,
    path: String,
    text: &str,
    out: &mut Vec<Node>,
) {
    let header = value.is_table() && text.get(span.clone()).is_some_and(|s| s.starts_with('['));
    out.push(Node {
        path: path.clone(),
        span,
        header,
    });
    if let Some(table) = value.as_table() {
        walk_table(table, &path, text, out);
    } else if let Some(array) = value.as_array() {
        for (i, item) in array.iter().enumerate() {
            walk_value(
                item.get_ref(),
                item.span(),
                format!("{path}[{i}]"),
                text,
                out,
            );
        }
    }
}

/// An error of the `toml` crate (syntax or serde) as a key and a message an
/// operator can act on.
pub(super) fn describe(
    message: &str,
    span: &Range<usize>,
    nodes: &Nodes,
    text: &str,
) -> (Option<String>, String) {
    let at = |s: &Range<usize>| nodes.path_at(s).map(str::to_string);
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let expected = expected_list(rest);
        return (at(span), format!("unknown key{expected}"));
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.trim_end_matches('`');
        let table = if span.is_empty() && span.start == 0 {
            ""
        } else {
            nodes.path_at(span).unwrap_or_default()
        };
        return (Some(join(table, field)), "required key is missing".into());
    }
    if message == "duplicate key" {
        return (
            Some(duplicate_key(span, nodes, text)),
            "key defined twice".into(),
        );
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        let key = if rest.starts_with("sequence,") {
            nodes.outer_path_at(span).map(str::to_string)
        } else {
            at(span)
        };
        return (key, invalid_type(rest));
    }
    if let Some(rest) = message.strip_prefix("invalid value: ") {
        return (at(span), invalid_value(rest));
    }
    (at(span), message.to_string())
}

/// `"pasword`, expected one of `a`, `b`"` as ` (expected one of: a, b)`.
fn expected_list(rest: &str) -> String {
    let Some((_, expected)) = rest.split_once("`, ") else {
        return String::new();
    };
    if expected.starts_with("there are no fields") {
        return " (this table has no keys)".into();
    }
    let names: Vec<&str> = expected
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| !s.is_empty())
        .collect();
    match names.as_slice() {
        [] => String::new(),
        [one] => format!(" (expected: {one})"),
        many => format!(" (expected one of: {})", many.join(", ")),
    }
}

/// A duplicate's path: a repeated `[header]` names itself, a repeated key
/// is named inside the table it was written in.
fn duplicate_key(span: &Range<usize>, nodes: &Nodes, text: &str) -> String {
    let line_start = text
        .get(..span.start)
        .and_then(|s| s.rfind('\n'))
        .map_or(0, |i| i + 1);
    let line = text.get(line_start..).unwrap_or_default();
    let line = line.lines().next().unwrap_or_default().trim();
    if line.starts_with('[') {
        return line
            .trim_start_matches('[')
            .split(']')
            .next()
            .unwrap_or_default()
            .split('.')
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(".");
    }
    let key = text
        .get(span.clone())
        .unwrap_or_default()
        .trim_matches(['"', '\'']);
    join(nodes.table_at(span.start), key)
}

/// Serde's type names in words.
fn type_name(expected: &str) -> String {
    match expected {
        "u8" => "an integer from 0 to 255".into(),
        "u16" => "an integer from 0 to 65535".into(),
        "u32" => "an integer from 0 to 4294967295".into(),
        "a sequence" => "an array".into(),
        "a string" | "string" => "a string".into(),
        other if other.starts_with("struct ") => "a table".into(),
        other => other.into(),
    }
}

/// `string "x", expected u32` as `expected an integer ..., found string "x"`.
fn invalid_type(rest: &str) -> String {
    match rest.split_once(", expected ") {
        // `[peer]` where `[[peer]]` was meant.
        Some(("map", "a sequence")) => {
            "expected an array of tables (write [[name]], not [name]), found a table".into()
        }
        Some((found, expected)) => {
            let found = match found {
                "map" => "a table".to_string(),
                "sequence" => "an array".to_string(),
                other => other.replace('`', ""),
            };
            format!("expected {}, found {found}", type_name(expected))
        }
        None => format!("wrong type: {rest}"),
    }
}

/// `integer `300`, expected u8` as `300 is out of range (expected ...)`.
fn invalid_value(rest: &str) -> String {
    match rest.split_once(", expected ") {
        Some((found, expected)) => {
            let value = found.split('`').nth(1).unwrap_or(found);
            format!("{value} is out of range (expected {})", type_name(expected))
        }
        None => format!("invalid value: {rest}"),
    }
}
