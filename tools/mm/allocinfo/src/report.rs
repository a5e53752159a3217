// SPDX-License-Identifier: GPL-2.0

//! What the subcommands compute from snapshots: filtered and sorted rows
//! (`top`), totals per directory, file or module (`tree`), and what
//! changed between two snapshots (`diff`).

use crate::parse::{Row, Site, Snapshot};
use std::collections::{BTreeMap, HashMap};

/// Matches `text` against a shell glob: `*` any run, `?` any one
/// character, everything else itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // The classic two-pointer match with backtracking to the last `*`.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Which rows a report looks at.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Module glob; `kernel` matches the rows of the kernel image.
    pub module: Option<String>,
    /// File glob.
    pub file: Option<String>,
    /// Function glob.
    pub function: Option<String>,
    /// Only rows with at least this many bytes.
    pub min_bytes: Option<i64>,
    /// Only rows marked inaccurate (`accurate:no`).
    pub inaccurate: bool,
}

impl Filter {
    /// Whether the filter takes a call site (size and accuracy aside).
    pub fn takes_site(&self, s: &Site) -> bool {
        let module = s.module.as_deref().unwrap_or("kernel");
        self.module.as_deref().is_none_or(|g| glob_match(g, module))
            && self.file.as_deref().is_none_or(|g| glob_match(g, &s.file))
            && self
                .function
                .as_deref()
                .is_none_or(|g| glob_match(g, &s.function))
    }

    /// Whether the filter takes a row.
    pub fn takes(&self, r: &Row) -> bool {
        self.takes_site(&r.site)
            && self.min_bytes.is_none_or(|m| r.bytes >= m)
            && (!self.inaccurate || !r.accurate)
    }
}

/// The order of `top`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    /// Most bytes first.
    Bytes,
    /// Most calls first.
    Calls,
    /// By file, line, then function.
    Name,
}

impl std::str::FromStr for SortKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "bytes" | "size" => Ok(Self::Bytes),
            "calls" => Ok(Self::Calls),
            "name" | "tag" => Ok(Self::Name),
            _ => Err(format!("unknown sort key '{s}': bytes, calls or name")),
        }
    }
}

/// The rows `filter` takes, sorted by `key` (ties by name), at most
/// `limit` of them.
pub fn top<'a>(
    snap: &'a Snapshot,
    filter: &Filter,
    key: SortKey,
    limit: Option<usize>,
) -> Vec<&'a Row> {
    let mut rows: Vec<&Row> = snap.rows.iter().filter(|r| filter.takes(r)).collect();
    match key {
        SortKey::Bytes => {
            rows.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.site.cmp(&b.site)))
        }
        SortKey::Calls => {
            rows.sort_by(|a, b| b.calls.cmp(&a.calls).then_with(|| a.site.cmp(&b.site)))
        }
        SortKey::Name => rows.sort_by(|a, b| a.site.cmp(&b.site)),
    }
    rows.truncate(limit.unwrap_or(usize::MAX));
    rows
}

/// How `tree` groups rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupBy {
    /// Every directory prefix of the file, then the file.
    Dir,
    /// The file.
    File,
    /// The module (`kernel` for the image).
    Module,
}

impl std::str::FromStr for GroupBy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "dir" | "directory" => Ok(Self::Dir),
            "file" => Ok(Self::File),
            "module" => Ok(Self::Module),
            _ => Err(format!("unknown grouping '{s}': dir, file or module")),
        }
    }
}

/// A group's totals.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Bytes of the rows in the group.
    pub bytes: i64,
    /// Calls of the rows in the group.
    pub calls: u64,
    /// Rows in the group.
    pub rows: usize,
}

/// One line of `tree`: a group, how deep it is, its totals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// The group's name: a path ending in `/` for a directory, a file, or
    /// a module.
    pub name: String,
    /// 0 for the top level.
    pub depth: usize,
    /// Its totals.
    pub totals: Totals,
}

/// Totals of the rows `filter` takes, per group; for `Dir`, a tree of
/// directories down to `max_depth` levels (files at the deepest level
/// included when they are within it), children after their parent,
/// largest first. Groups below `min_bytes` are left out.
pub fn tree(
    snap: &Snapshot,
    filter: &Filter,
    by: GroupBy,
    max_depth: usize,
    min_bytes: i64,
) -> Vec<Node> {
    // Each group's totals, keyed by its path of components.
    let mut groups: BTreeMap<Vec<String>, Totals> = BTreeMap::new();
    for r in snap.rows.iter().filter(|r| filter.takes(r)) {
        let keys: Vec<Vec<String>> = match by {
            GroupBy::Module => vec![vec![r
                .site
                .module
                .clone()
                .unwrap_or_else(|| "kernel".into())]],
            GroupBy::File => vec![vec![r.site.file.clone()]],
            GroupBy::Dir => {
                let parts: Vec<&str> = r.site.file.split('/').collect();
                let n = parts.len();
                (1..=n.min(max_depth.max(1)))
                    .map(|d| {
                        parts[..d]
                            .iter()
                            .enumerate()
                            .map(|(i, p)| {
                                if i + 1 < n {
                                    format!("{p}/")
                                } else {
                                    (*p).to_string()
                                }
                            })
                            .collect()
                    })
                    .collect()
            }
        };
        for k in keys {
            let t = groups.entry(k).or_default();
            t.bytes += r.bytes;
            t.calls += r.calls;
            t.rows += 1;
        }
    }
    // Depth-first from the top level, children by bytes.
    let mut children: HashMap<Vec<String>, Vec<(&Vec<String>, &Totals)>> = HashMap::new();
    for (k, t) in &groups {
        children
            .entry(k[..k.len() - 1].to_vec())
            .or_default()
            .push((k, t));
    }
    for v in children.values_mut() {
        v.sort_by(|a, b| b.1.bytes.cmp(&a.1.bytes).then_with(|| a.0.cmp(b.0)));
    }
    let mut out = Vec::new();
    let mut stack: Vec<&Vec<String>> = Vec::new();
    if let Some(top) = children.get(&Vec::new()) {
        stack.extend(top.iter().rev().map(|(k, _)| *k));
    }
    while let Some(k) = stack.pop() {
        let t = &groups[k];
        if t.bytes < min_bytes {
            continue;
        }
        out.push(Node {
            name: k.concat(),
            depth: k.len() - 1,
            totals: t.clone(),
        });
        if let Some(c) = children.get(k) {
            stack.extend(c.iter().rev().map(|(k, _)| *k));
        }
    }
    out
}

/// What happened to one call site between two snapshots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The call site.
    pub site: Site,
    /// Bytes before (0 if it was not listed).
    pub bytes_before: i64,
    /// Bytes after (0 if it is no longer listed).
    pub bytes_after: i64,
    /// Calls before.
    pub calls_before: u64,
    /// Calls after.
    pub calls_after: u64,
    /// Listed only in the second snapshot.
    pub new: bool,
    /// Listed only in the first snapshot.
    pub gone: bool,
}

impl Change {
    /// Bytes after minus bytes before.
    pub fn bytes_delta(&self) -> i64 {
        self.bytes_after - self.bytes_before
    }

    /// Calls after minus calls before.
    pub fn calls_delta(&self) -> i64 {
        self.calls_after as i64 - self.calls_before as i64
    }
}

/// The call sites `filter` takes whose bytes or calls changed from `a`
/// to `b` (or that appeared or went, with a count), largest change of
/// bytes first; changes of fewer than `min_change` bytes (in either
/// direction) are left out.
pub fn diff(a: &Snapshot, b: &Snapshot, filter: &Filter, min_change: i64) -> Vec<Change> {
    let before: HashMap<&Site, &Row> = a.rows.iter().map(|r| (&r.site, r)).collect();
    let after: HashMap<&Site, &Row> = b.rows.iter().map(|r| (&r.site, r)).collect();
    let mut out = Vec::new();
    for r in &b.rows {
        let old = before.get(&r.site);
        out.push(Change {
            site: r.site.clone(),
            bytes_before: old.map_or(0, |o| o.bytes),
            bytes_after: r.bytes,
            calls_before: old.map_or(0, |o| o.calls),
            calls_after: r.calls,
            new: old.is_none(),
            gone: false,
        });
    }
    for r in a.rows.iter().filter(|r| !after.contains_key(&r.site)) {
        out.push(Change {
            site: r.site.clone(),
            bytes_before: r.bytes,
            bytes_after: 0,
            calls_before: r.calls,
            calls_after: 0,
            new: false,
            gone: true,
        });
    }
    out.retain(|c| {
        filter.takes_site(&c.site)
            && (c.bytes_delta() != 0
                || c.calls_delta() != 0
                || ((c.new || c.gone) && c.bytes_before + c.bytes_after != 0))
            && c.bytes_delta().abs() >= min_change
    });
    out.sort_by(|x, y| {
        y.bytes_delta()
            .abs()
            .cmp(&x.bytes_delta().abs())
            .then_with(|| y.bytes_delta().cmp(&x.bytes_delta()))
            .then_with(|| x.site.cmp(&y.site))
    });
    out
}

/// A size in the units people read: `512 B`, `1.5 KiB`, `12.0 MiB`; signed.
pub fn human(bytes: i64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let sign = if bytes < 0 { "-" } else { "" };
    let mut v = bytes.unsigned_abs() as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{sign}{} B", bytes.unsigned_abs())
    } else {
        format!("{sign}{v:.1} {}", UNITS[u])
    }
}

/// Reads a size as people write it: `4096`, `64K`, `1.5M`, `2GiB`, `10 MB`
/// (powers of 1024 whatever the spelling).
pub fn parse_size(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: f64 = num.parse().map_err(|_| format!("'{s}' is not a size"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(format!("'{s}': unknown unit '{}'", unit.trim())),
    };
    let v = num * (1u64 << shift) as f64;
    if !v.is_finite() || v.abs() > i64::MAX as f64 {
        return Err(format!("'{s}' is too large"));
    }
    Ok(v.round() as i64)
}

/// Escapes a string for JSON.
pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A call site as a JSON object's fields.
pub fn json_site(s: &Site) -> String {
    format!(
        "\"file\":{},\"line\":{},\"module\":{},\"function\":{}",
        json_str(&s.file),
        s.line,
        s.module.as_deref().map_or("null".to_string(), json_str),
        json_str(&s.function)
    )
}

/// The `n` call sites `filter` takes that held the most bytes at any time
/// of a recorded session, each with its bytes at every snapshot (0 where
/// it was not listed), largest first; times in seconds from the first
/// snapshot.
pub fn series(
    records: &[(f64, Snapshot)],
    filter: &Filter,
    n: usize,
) -> Vec<(Site, Vec<(f64, i64)>)> {
    let Some(t0) = records.first().map(|(t, _)| *t) else {
        return Vec::new();
    };
    let mut peak: HashMap<&Site, i64> = HashMap::new();
    for (_, snap) in records {
        for r in snap.rows.iter().filter(|r| filter.takes_site(&r.site)) {
            let p = peak.entry(&r.site).or_insert(i64::MIN);
            *p = (*p).max(r.bytes);
        }
    }
    let mut sites: Vec<(&Site, i64)> = peak.into_iter().filter(|(_, p)| *p > 0).collect();
    sites.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    sites.truncate(n);
    sites
        .into_iter()
        .map(|(site, _)| {
            let points = records
                .iter()
                .map(|(t, snap)| {
                    let bytes = snap
                        .rows
                        .iter()
                        .find(|r| &r.site == site)
                        .map_or(0, |r| r.bytes);
                    (t - t0, bytes)
                })
                .collect();
            (site.clone(), points)
        })
        .collect()
}
