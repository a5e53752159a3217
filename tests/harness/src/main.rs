//! `harness`: the host-side helper of `scripts/run` and `scripts/test`.
//!
//! ```text
//! harness ktap FILE          list the KTAP results in a console log, a
//!                            failure with its reason ("FAIL NAME: WHY"), and
//!                            end with "N passed, N failed, N skipped"; exit 1
//!                            on any failure or when there is no result at all
//! harness kernel-log FILE  the first kernel report (WARN, BUG, oops, KASAN,
//!                            lockdep, ...) in a kernel log: prints "FAIL
//!                            FILE:LINE: LINES" (its first lines) and exits
//!                            1, or "PASS FILE"
//! harness oracle A B [--ignore-files FILE]
//!                            compare two /proc/allocinfo dumps: header
//!                            byte-identical, the same call sites (counters
//!                            not compared) except rows of files matching a
//!                            pattern of FILE; prints "PASS|FAIL header" and
//!                            "PASS|FAIL rows" lines and the rows only in
//!                            one dump; exit 1 if they differ
//! ```

use harness::{kmsg, ktap, oracle};
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
        match &r.reason {
            Some(why) => println!("{word} {}: {why}", r.name),
            None => println!("{word} {}", r.name),
        }
    }
    let c = ktap::Counts::of(&results);
    println!(
        "{} passed, {} failed, {} skipped",
        c.passed, c.failed, c.skipped
    );
    if results.is_empty() {
        eprintln!("harness: no KTAP result in {path}");
    }
    Ok(if c.failed == 0 && !results.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn cmd_kernel_log(path: &str) -> Result<ExitCode, String> {
    let log = read(path)?;
    Ok(match kmsg::find(&log) {
        Some(r) => {
            println!("FAIL {path}:{}: {}", r.line, r.summary());
            ExitCode::FAILURE
        }
        None => {
            println!("PASS {path}");
            ExitCode::SUCCESS
        }
    })
}

fn cmd_oracle(a: &str, b: &str, ignore: Option<&str>) -> Result<ExitCode, String> {
    let ignore = match ignore {
        Some(path) => oracle::Ignore::parse(&read(path)?),
        None => oracle::Ignore::default(),
    };
    let dump =
        |path: &str| oracle::Dump::parse(&read(path)?, &ignore).map_err(|e| format!("{path}: {e}"));
    let (da, db) = (dump(a)?, dump(b)?);
    let diff = oracle::compare(&da, &db);
    print!("{}", oracle::report(a, &da, b, &db, &diff));
    Ok(if diff.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["ktap", path] => cmd_ktap(path),
        ["kernel-log", path] => cmd_kernel_log(path),
        ["oracle", a, b] => cmd_oracle(a, b, None),
        ["oracle", a, b, "--ignore-files", f] => cmd_oracle(a, b, Some(f)),
        _ => Err("usage: harness ktap FILE | harness kernel-log FILE | \
                  harness oracle A B [--ignore-files FILE]"
            .to_string()),
    };
    result.unwrap_or_else(|e| {
        eprintln!("harness: {e}");
        ExitCode::from(2)
    })
}
