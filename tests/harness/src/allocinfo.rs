//! Reading `/proc/allocinfo` on the host: rows, totals, readable sizes.

/// The two header lines every kernel prints.
pub const HEADER: [&str; 2] = [
    "allocinfo - version: 1.0",
    "#     <size>  <calls> <tag info>",
];

/// One row: `<bytes> <calls> file:line [module] func:name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub bytes: i64,
    pub calls: u64,
    pub file: String,
    pub line: u32,
    pub module: Option<String>,
    pub function: String,
}

impl Row {
    /// The row's identity without its counters: `file:line [module] func:name`.
    pub fn tag(&self) -> String {
        match &self.module {
            Some(m) => format!("{}:{} [{}] func:{}", self.file, self.line, m, self.function),
            None => format!("{}:{} func:{}", self.file, self.line, self.function),
        }
    }
}

/// Parses one row; `None` if it is not one.
pub fn parse_row(line: &str) -> Option<Row> {
    let mut words = line.split_whitespace();
    let bytes = words.next()?.parse().ok()?;
    let calls = words.next()?.parse().ok()?;
    let (file, lineno) = words.next()?.rsplit_once(':')?;
    let mut next = words.next()?;
    let mut module = None;
    if let Some(m) = next.strip_prefix('[').and_then(|m| m.strip_suffix(']')) {
        module = Some(m.to_string());
        next = words.next()?;
    }
    let function = next.strip_prefix("func:")?;
    if words.next().is_some() || file.is_empty() || function.is_empty() {
        return None;
    }
    Some(Row {
        bytes,
        calls,
        file: file.to_string(),
        line: lineno.parse().ok()?,
        module,
        function: function.to_string(),
    })
}

/// Parses a whole file: checks the header, returns the rows or the first
/// line that is wrong.
pub fn parse(text: &str) -> Result<Vec<Row>, String> {
    let mut lines = text.lines();
    for want in HEADER {
        match lines.next() {
            Some(got) if got == want => {}
            got => return Err(format!("bad header: {got:?}, want {want:?}")),
        }
    }
    lines
        .map(|l| parse_row(l).ok_or_else(|| format!("bad row: {l:?}")))
        .collect()
}
