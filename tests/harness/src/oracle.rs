//! The `/proc/allocinfo` oracle: two kernels built from the same base and
//! config must print the same header and the same allocation call sites.
//!
//! Counters differ from boot to boot and are not compared. Rows are
//! compared by identity, `file:line [module] func:name`, as a multiset: two
//! tags can share an identity (an inline function in a header has one tag
//! per file that uses it), and a kernel with one copy fewer differs. Rows
//! whose file matches a pattern of the ignore list are left out on both
//! sides: the series' own files, whose call sites are not the reference's.

use crate::allocinfo::{self, HEADER};
use std::collections::BTreeMap;

/// File patterns whose rows the comparison leaves out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ignore {
    patterns: Vec<String>,
}

impl Ignore {
    /// Reads an ignore list: one pattern a line, `#` starts a comment,
    /// blank lines are skipped. `*` matches any run of characters (`/`
    /// included), `?` any one character; everything else matches itself,
    /// against the whole file name of a row.
    pub fn parse(text: &str) -> Ignore {
        let patterns = text
            .lines()
            .map(|l| l.split_once('#').map_or(l, |(before, _)| before).trim())
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        Ignore { patterns }
    }

    /// The patterns, in file order.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Whether rows of `file` are left out.
    pub fn matches(&self, file: &str) -> bool {
        self.patterns.iter().any(|p| glob(p, file))
    }
}

/// `*` any run of characters, `?` one character, the rest literally.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative matching with one backtrack point, the last `*`.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// One dump, reduced to what the oracle compares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dump {
    /// The first two lines, exactly as printed (empty if missing).
    pub header: [String; 2],
    /// Identity -> how many rows have it, ignored files left out.
    pub rows: BTreeMap<String, usize>,
    /// Rows counted in `rows`.
    pub kept: usize,
    /// Rows left out by the ignore list.
    pub ignored: usize,
}

impl Dump {
    /// Reads a dump. The header is taken as it is (compared later); every
    /// other line must be a row.
    pub fn parse(text: &str, ignore: &Ignore) -> Result<Dump, String> {
        let mut dump = Dump::default();
        // Split on '\n' only: a stray '\r' or space is a difference.
        let mut lines = text.strip_suffix('\n').unwrap_or(text).split('\n');
        for h in dump.header.iter_mut() {
            *h = lines.next().unwrap_or_default().to_string();
        }
        for (i, line) in lines.enumerate() {
            let row = allocinfo::parse_row(line)
                .ok_or_else(|| format!("line {}: not a row: {line:?}", i + 3))?;
            if ignore.matches(&row.file) {
                dump.ignored += 1;
                continue;
            }
            *dump.rows.entry(row.tag()).or_default() += 1;
            dump.kept += 1;
        }
        Ok(dump)
    }
}

/// What differs between two dumps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diff {
    /// Header lines that differ: (line number from 1, in A, in B).
    pub header: Vec<(usize, String, String)>,
    /// Identities with more rows in A than in B, and by how many.
    pub only_a: Vec<(String, usize)>,
    /// Identities with more rows in B than in A, and by how many.
    pub only_b: Vec<(String, usize)>,
}

impl Diff {
    /// Whether the dumps agree.
    pub fn is_empty(&self) -> bool {
        self.header.is_empty() && self.only_a.is_empty() && self.only_b.is_empty()
    }
}

/// Compares two dumps.
pub fn compare(a: &Dump, b: &Dump) -> Diff {
    let mut diff = Diff::default();
    for (i, (ha, hb)) in a.header.iter().zip(&b.header).enumerate() {
        if ha != hb {
            diff.header.push((i + 1, ha.clone(), hb.clone()));
        }
    }
    for (tag, &na) in &a.rows {
        let nb = b.rows.get(tag).copied().unwrap_or(0);
        if na > nb {
            diff.only_a.push((tag.clone(), na - nb));
        }
    }
    for (tag, &nb) in &b.rows {
        let na = a.rows.get(tag).copied().unwrap_or(0);
        if nb > na {
            diff.only_b.push((tag.clone(), nb - na));
        }
    }
    diff
}

/// The report `harness oracle` prints: a `PASS`/`FAIL` line for the header
/// and one for the rows, then the differences, one a line.
pub fn report(name_a: &str, a: &Dump, name_b: &str, b: &Dump, diff: &Diff) -> String {
    let mut out = String::new();
    if diff.header.is_empty() {
        let expected = a.header.iter().zip(HEADER).all(|(h, want)| h == want);
        out += &format!(
            "PASS header: identical{}\n",
            if expected {
                ""
            } else {
                " (but not the 6.12 header)"
            }
        );
    } else {
        out += "FAIL header: differs\n";
        for (n, ha, hb) in &diff.header {
            out += &format!("  line {n}: {name_a}: {ha:?}\n");
            out += &format!("  line {n}: {name_b}: {hb:?}\n");
        }
    }
    let counts = format!(
        "{name_a} {} rows ({} ignored), {name_b} {} rows ({} ignored)",
        a.kept, a.ignored, b.kept, b.ignored
    );
    if diff.only_a.is_empty() && diff.only_b.is_empty() {
        out += &format!("PASS rows: the same call sites; {counts}\n");
    } else {
        out += &format!(
            "FAIL rows: {} only in {name_a}, {} only in {name_b}; {counts}\n",
            diff.only_a.iter().map(|(_, n)| n).sum::<usize>(),
            diff.only_b.iter().map(|(_, n)| n).sum::<usize>(),
        );
        for (side, rows) in [(name_a, &diff.only_a), (name_b, &diff.only_b)] {
            for (tag, n) in rows {
                let times = if *n > 1 {
                    format!(" (x{n})")
                } else {
                    String::new()
                };
                out += &format!("  only in {side}: {tag}{times}\n");
            }
        }
    }
    out
}
