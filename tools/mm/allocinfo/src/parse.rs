// SPDX-License-Identifier: GPL-2.0

//! Reading `/proc/allocinfo`: version 1.0 (6.12, and this series) and
//! version 2.0 (upstream's later kernels, 7.3 among them, which mark rows
//! whose counters missed allocations with `accurate:no`).
//!
//! A row is `<bytes> <calls> <file>:<line> [<module>] func:<function>`,
//! then for 2.0 any `key:value` attributes. Lines starting with
//! `allocinfo - version:` or `#` are the header; they may appear anywhere
//! (`sort -g /proc/allocinfo` moves them), and blank lines are skipped.

use std::fmt;

/// Where an allocation was made: the key of a row.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Site {
    /// The source file, as the kernel build names it.
    pub file: String,
    /// The line in `file`.
    pub line: u32,
    /// The module, `None` for the kernel image.
    pub module: Option<String>,
    /// The function that allocates.
    pub function: String,
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)?;
        if let Some(m) = &self.module {
            write!(f, " [{m}]")?;
        }
        write!(f, " func:{}", self.function)
    }
}

/// One row of `/proc/allocinfo`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// Bytes allocated and not yet freed (signed in the kernel's format).
    pub bytes: i64,
    /// Allocations made and not yet freed.
    pub calls: u64,
    /// The call site.
    pub site: Site,
    /// `false` when the kernel says the counters missed allocations
    /// (`accurate:no`).
    pub accurate: bool,
}

/// A whole `/proc/allocinfo`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The version the header gives (`1.0`, `2.0`), if there was a header.
    pub version: Option<String>,
    /// The rows, in file order.
    pub rows: Vec<Row>,
}

impl Snapshot {
    /// Total bytes of all rows.
    pub fn total_bytes(&self) -> i64 {
        self.rows.iter().map(|r| r.bytes).sum()
    }

    /// Total calls of all rows.
    pub fn total_calls(&self) -> u64 {
        self.rows.iter().map(|r| r.calls).sum()
    }
}

/// A line that is not a row, with its 1-based number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The line's number, from 1.
    pub line: usize,
    /// What is wrong with it.
    pub what: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.what)
    }
}

impl std::error::Error for ParseError {}

/// The versions of the format this reader knows.
pub const KNOWN_VERSIONS: [&str; 2] = ["1.0", "2.0"];

const VERSION_PREFIX: &str = "allocinfo - version:";

/// Parses the text of `/proc/allocinfo` (or of a saved copy).
pub fn parse(text: &str) -> Result<Snapshot, ParseError> {
    let mut snap = Snapshot::default();
    for (i, line) in text.lines().enumerate() {
        let err = |what: String| ParseError { line: i + 1, what };
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some(v) = trimmed.strip_prefix(VERSION_PREFIX) {
            let v = v.trim();
            if !KNOWN_VERSIONS.contains(&v) {
                return Err(err(format!(
                    "version {v} of the format is not one this tool reads ({})",
                    KNOWN_VERSIONS.join(", ")
                )));
            }
            snap.version = Some(v.to_string());
            continue;
        }
        snap.rows.push(parse_row(trimmed).map_err(err)?);
    }
    Ok(snap)
}

/// Parses one row (trimmed).
fn parse_row(line: &str) -> Result<Row, String> {
    let mut words = line.split_whitespace();
    let bytes = words.next().unwrap_or("");
    let bytes: i64 = bytes
        .parse()
        .map_err(|_| format!("'{bytes}' is not a byte count"))?;
    let calls = words.next().ok_or("no call count")?;
    let calls: u64 = calls
        .parse()
        .map_err(|_| format!("'{calls}' is not a call count"))?;
    let place = words.next().ok_or("no file:line")?;
    let (file, line_no) = place
        .rsplit_once(':')
        .filter(|(f, _)| !f.is_empty())
        .ok_or_else(|| format!("'{place}' is not file:line"))?;
    let line_no: u32 = line_no
        .parse()
        .map_err(|_| format!("'{place}' is not file:line"))?;
    let mut next = words.next().ok_or("no func:")?;
    let module = match next.strip_prefix('[').and_then(|m| m.strip_suffix(']')) {
        Some(m) if !m.is_empty() => {
            next = words.next().ok_or("no func: after the module")?;
            Some(m.to_string())
        }
        _ if next.starts_with('[') => return Err(format!("'{next}' is not [module]")),
        _ => None,
    };
    let function = next
        .strip_prefix("func:")
        .filter(|f| !f.is_empty())
        .ok_or_else(|| format!("'{next}' is not func:<function>"))?;
    let mut accurate = true;
    for attr in words {
        match attr.split_once(':') {
            Some(("accurate", "no")) => accurate = false,
            Some(("accurate", "yes")) => accurate = true,
            // Attributes of later versions: known to be key:value, ignored.
            Some((k, _)) if !k.is_empty() => {}
            _ => return Err(format!("'{attr}' after the function is not key:value")),
        }
    }
    Ok(Row {
        bytes,
        calls,
        site: Site {
            file: file.to_string(),
            line: line_no,
            module,
            function: function.to_string(),
        },
        accurate,
    })
}

/// Writes a snapshot back in the kernel's format, version `version`
/// (`1.0` drops the accuracy marks).
pub fn write(snap: &Snapshot, version: &str, out: &mut String) {
    use std::fmt::Write;
    let _ = writeln!(out, "{VERSION_PREFIX} {version}");
    let _ = writeln!(out, "#     <size>  <calls> <tag info>");
    for r in &snap.rows {
        let _ = write!(out, "{:>12} {:>8} {}", r.bytes, r.calls, r.site);
        if !r.accurate && version != "1.0" {
            let _ = write!(out, " accurate:no");
        }
        let _ = writeln!(out, " ");
    }
}
