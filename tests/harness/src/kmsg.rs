//! Reports in a kernel log: what makes a boot or a test fail even when every
//! test passed.
//!
//! The guest prints the kernel log (`dmesg -c`) after every test, so a
//! warning raised while a test runs is seen whatever the console's log
//! level; [`find`] looks for the first line of a report in it.

/// Line fragments that start or mark a kernel report: `WARN()` and `BUG()`,
/// oopses, KASAN, UBSAN, lockdep, RCU and hung-task reports, kmemleak, and
/// the page tag references' own report (`mm/pgtag/`). A line that contains
/// one of them is a report.
pub const REPORTS: &[&str] = &[
    "------------[ cut here ]------------",
    "WARNING:",
    "BUG:",
    "Oops",
    "general protection fault",
    "Kernel panic",
    "KASAN:",
    "UBSAN:",
    "possible circular locking",
    "possible recursive locking",
    "inconsistent lock state",
    "suspicious RCU usage",
    "detected stalls",
    "blocked for more than",
    "suspected memory leak",
    "Call Trace:",
    "page tag reference",
];

/// Lines of a report that [`Report::summary`] shows: a `WARN()` says what
/// it is about on the line after "cut here", and where on the next.
const SUMMARY_LINES: usize = 3;

/// A report found in a log: where it starts and its first lines.
#[derive(Debug, PartialEq, Eq)]
pub struct Report<'a> {
    /// Line number in the log of its first line, from 1.
    pub line: usize,
    /// Its first line, without the line end.
    pub text: &'a str,
    /// Its first lines (the first one included), for a one-line summary.
    pub lines: Vec<&'a str>,
}

impl Report<'_> {
    /// Its first lines, trimmed and joined with " | ".
    pub fn summary(&self) -> String {
        let lines: Vec<&str> = self.lines.iter().map(|l| l.trim()).collect();
        lines.join(" | ")
    }
}

/// The first line of `log` that is part of a report, if any.
pub fn find(log: &str) -> Option<Report<'_>> {
    let lines: Vec<&str> = log.lines().collect();
    let i = lines
        .iter()
        .position(|text| REPORTS.iter().any(|p| text.contains(p)))?;
    Some(Report {
        line: i + 1,
        text: lines[i],
        lines: lines[i..].iter().take(SUMMARY_LINES).copied().collect(),
    })
}
