//! `harness`: the host-side helper of `scripts/run` and `scripts/test`.
//!
//! ```text
//! harness ktap FILE          list the KTAP results in a console log and end
//!                            with "N passed, N failed, N skipped"; exit 1 on
//!                            any failure or when there is no result at all
//! harness top N FILE         the N largest /proc/allocinfo rows, readable
//! ```

use harness::{allocinfo, ktap};
use std::process::ExitCode;

fn read(path: &str) -> Result<String, String> {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|e| format!("{path}: {e}"))
}

fn cmd_ktap(path: &str) -> Result<ExitCode, String> {
    let results = ktap::parse(&read(path)?);
    for r in &results {
        let word = match r.outcome {
            ktap::Outcome::Pass => "PASS",
            ktap::Outcome::Fail => "FAIL",
            ktap::Outcome::Skip => "SKIP",
        };
        println!("{word} {}", r.name);
    }
    let c = ktap::Counts::of(&results);
    println!("{} passed, {} failed, {} skipped", c.passed, c.failed, c.skipped);
    if results.is_empty() {
        eprintln!("harness: no KTAP result in {path}");
    }
    Ok(if c.failed == 0 && !results.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn cmd_top(n: &str, path: &str) -> Result<ExitCode, String> {
    let n: usize = n.parse().map_err(|_| format!("not a count: {n}"))?;
    let rows = allocinfo::parse(&read(path)?)?;
    let total: i64 = rows.iter().map(|r| r.bytes).sum();
    println!(
        "{} rows, {} allocated in all; the {} largest:",
        rows.len(),
        allocinfo::human(total),
        n.min(rows.len())
    );
    for r in allocinfo::top(&rows, n) {
        println!("{:>10} {:>8} calls  {}", allocinfo::human(r.bytes), r.calls, r.tag());
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["ktap", path] => cmd_ktap(path),
        ["top", n, path] => cmd_top(n, path),
        _ => Err("usage: harness ktap FILE | harness top N FILE".to_string()),
    };
    result.unwrap_or_else(|e| {
        eprintln!("harness: {e}");
        ExitCode::from(2)
    })
}
