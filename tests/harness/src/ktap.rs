//! KTAP result counting for console logs.
//!
//! A console log holds KUnit's KTAP (printed by the kernel at boot) and the
//! kselftest harness's KTAP (printed by test programs), with kernel log
//! prefixes, nesting by indentation, and unrelated lines in between. Only
//! leaf tests count: a result line whose test had subtests is a suite. A
//! suite that fails without any failing subtest (a crash, a missing
//! result) counts as one failure, and so does every test its plan
//! announced but that never reported.
//!
//! A failed test carries its reason: the diagnostic lines (`# ...`) printed
//! since the previous result line, without the kselftest harness's own
//! `RUN`/`OK`/`FAIL` banners, so a run's summary says why without its logs.

/// The outcome of one test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    Skip,
}

/// One counted test: its outcome and its name with its suites, `a.b.c`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestResult {
    pub name: String,
    pub outcome: Outcome,
    /// Why a failed test failed (its diagnostic lines, joined by ` | `);
    /// `None` for other outcomes, or when it printed none.
    pub reason: Option<String>,
}

/// At most this many diagnostic lines make a failure's reason.
const REASON_LINES: usize = 3;
/// ... and at most this many bytes.
const REASON_BYTES: usize = 400;

/// The reason made of the diagnostic lines `diag`, if any.
fn reason(diag: &[String]) -> Option<String> {
    let mut r = diag
        .iter()
        .take(REASON_LINES)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" | ");
    if r.is_empty() {
        return None;
    }
    if r.len() > REASON_BYTES {
        let mut end = REASON_BYTES;
        while !r.is_char_boundary(end) {
            end -= 1;
        }
        r.truncate(end);
        r.push_str("...");
    }
    Some(r)
}

/// The text of a diagnostic line worth a failure's reason, or `None`:
/// `# Subtest:` opens a suite, and the kselftest harness's banners
/// (`#  RUN ...`, `#      OK  ...`, `# Totals: ...`) say nothing of why.
fn diagnostic(body: &str) -> Option<&str> {
    let text = body.strip_prefix('#')?.trim();
    let banner = [
        "Subtest:",
        "RUN ",
        "OK ",
        "FAIL ",
        "SKIP ",
        "Totals:",
        "Starting ",
    ];
    if text.is_empty() || banner.iter().any(|b| text.starts_with(b)) {
        return None;
    }
    Some(text)
}

/// Totals over a list of results.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Counts {
    /// Counts the results by outcome.
    pub fn of(results: &[TestResult]) -> Counts {
        let mut c = Counts::default();
        for r in results {
            match r.outcome {
                Outcome::Pass => c.passed += 1,
                Outcome::Fail => c.failed += 1,
                Outcome::Skip => c.skipped += 1,
            }
        }
        c
    }
}

/// Removes a `[    1.234567] ` printk time stamp, if any.
fn strip_timestamp(line: &str) -> &str {
    let Some(rest) = line.strip_prefix('[') else {
        return line;
    };
    match rest.find("] ") {
        Some(end)
            if rest[..end]
                .trim()
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.') =>
        {
            &rest[end + 2..]
        }
        _ => line,
    }
}

enum Line<'a> {
    Version,
    Subtest(&'a str),
    Plan(usize),
    Result {
        ok: bool,
        name: &'a str,
        directive: Option<&'a str>,
    },
}

fn parse_line(body: &str) -> Option<Line<'_>> {
    if body.starts_with("KTAP version") || body.starts_with("TAP version") {
        return Some(Line::Version);
    }
    if let Some(name) = body.strip_prefix("# Subtest: ") {
        return Some(Line::Subtest(name.trim()));
    }
    if let Some(n) = body.strip_prefix("1..") {
        return n.trim().parse().ok().map(Line::Plan);
    }
    let (ok, rest) = if let Some(r) = body.strip_prefix("not ok ") {
        (false, r)
    } else if let Some(r) = body.strip_prefix("ok ") {
        (true, r)
    } else {
        return None;
    };
    let (num, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    if num.parse::<u64>().is_err() {
        return None;
    }
    let rest = rest.strip_prefix("- ").unwrap_or(rest);
    let (name, directive) = match rest.split_once(" # ") {
        Some((n, d)) => (n, Some(d.trim())),
        None => match rest.strip_prefix("# ") {
            Some(d) => ("", Some(d.trim())),
            None => (rest, None),
        },
    };
    Some(Line::Result {
        ok,
        name: name.trim(),
        directive,
    })
}

/// One open nesting level.
struct Level {
    indent: usize,
    name: Option<String>,
    plan: Option<usize>,
    seen: usize,
    /// Counted results of this level.
    results: Vec<TestResult>,
    /// Results of a nested level that closed, waiting for the result line
    /// of the suite they belong to.
    pending: Vec<TestResult>,
}

impl Level {
    fn new(indent: usize) -> Level {
        Level {
            indent,
            name: None,
            plan: None,
            seen: 0,
            results: Vec::new(),
            pending: Vec::new(),
        }
    }
}

/// Names of the open suites, outermost first.
fn names(levels: &[Level]) -> Vec<&str> {
    levels.iter().filter_map(|l| l.name.as_deref()).collect()
}

fn join(names: &[&str], name: &str) -> String {
    let mut parts = names.to_vec();
    parts.push(name);
    parts.join(".")
}

/// Closes the innermost level and hands its results to its parent (or to
/// `out`). Tests announced by its plan but never reported count as failed,
/// and so do results of a suite whose own result line never came.
fn close(levels: &mut Vec<Level>, out: &mut Vec<TestResult>) {
    let Some(mut level) = levels.pop() else {
        return;
    };
    let mut all = std::mem::take(&mut level.results);
    all.append(&mut level.pending);
    if let Some(plan) = level.plan {
        let mut scope = names(levels);
        if let Some(n) = &level.name {
            scope.push(n);
        }
        for i in level.seen..plan {
            all.push(TestResult {
                name: join(&scope, &format!("#{} (no result)", i + 1)),
                outcome: Outcome::Fail,
                reason: Some("announced by the plan, never reported".to_string()),
            });
        }
    }
    match levels.last_mut() {
        Some(parent) => parent.pending.append(&mut all),
        None => out.append(&mut all),
    }
}

/// Parses every KTAP document in `log` and returns the leaf results.
///
/// A document ends at the next version line at its own indentation or at
/// the end of the log; a document cut short (a panic) reports its missing
/// tests as failed.
pub fn parse(log: &str) -> Vec<TestResult> {
    let mut out = Vec::new();
    // Levels of the current document, outermost first.
    let mut levels: Vec<Level> = Vec::new();
    // Diagnostic lines since the last result line, at any level.
    let mut diag: Vec<String> = Vec::new();

    for raw in log.lines() {
        let line = strip_timestamp(raw.trim_end());
        let body = line.trim_start();
        let indent = line.len() - body.len();
        let Some(parsed) = parse_line(body) else {
            if let Some(text) = diagnostic(body).filter(|_| !levels.is_empty()) {
                diag.push(text.to_string());
            }
            continue;
        };
        if let Some(first) = levels.first() {
            if matches!(parsed, Line::Version) && indent <= first.indent {
                while !levels.is_empty() {
                    close(&mut levels, &mut out);
                }
            }
        }
        if levels.is_empty() {
            // Only a version line opens a document.
            if matches!(parsed, Line::Version) {
                levels.push(Level::new(indent));
            }
            continue;
        }
        while levels.len() > 1 && levels.last().is_some_and(|l| l.indent > indent) {
            close(&mut levels, &mut out);
        }
        if levels.last().is_some_and(|l| indent > l.indent) {
            levels.push(Level::new(indent));
        }
        let scope: Vec<String> = names(&levels).into_iter().map(String::from).collect();
        let Some(level) = levels.last_mut() else {
            continue;
        };
        match parsed {
            Line::Version => {}
            Line::Subtest(name) => level.name = Some(name.to_string()),
            Line::Plan(n) => level.plan = Some(n),
            Line::Result {
                ok,
                name,
                directive,
            } => {
                level.seen += 1;
                let skip = directive.is_some_and(|d| d.to_ascii_uppercase().starts_with("SKIP"));
                let scope: Vec<&str> = scope.iter().map(String::as_str).collect();
                let pending = std::mem::take(&mut level.pending);
                let leaf_failed = pending.iter().any(|r| r.outcome == Outcome::Fail);
                let is_suite = !pending.is_empty();
                level.results.extend(pending);
                let outcome = match (ok, skip) {
                    (_, true) => Outcome::Skip,
                    (true, false) => Outcome::Pass,
                    (false, false) => Outcome::Fail,
                };
                let why = std::mem::take(&mut diag);
                // A suite counts through its leaves, plus one failure if it
                // failed without a failing leaf (it crashed).
                if !is_suite || (outcome == Outcome::Fail && !leaf_failed) {
                    level.results.push(TestResult {
                        name: join(&scope, name),
                        outcome,
                        reason: (outcome == Outcome::Fail).then(|| reason(&why)).flatten(),
                    });
                }
            }
        }
    }
    while !levels.is_empty() {
        close(&mut levels, &mut out);
    }
    out
}
