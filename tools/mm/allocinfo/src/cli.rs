// SPDX-License-Identifier: GPL-2.0

//! The command line: arguments in, text out. Reading files and sleeping
//! are the caller's (`Env`), so that every subcommand runs in tests.

use crate::parse::{self, Snapshot};
use crate::report::{self, Filter, GroupBy, SortKey};
use std::fmt::Write;

/// The usage text.
pub const USAGE: &str = "\
usage: allocinfo [top] [FILE] [-n N] [--sort bytes|calls|name] [FILTERS] [OUTPUT]
       allocinfo tree [FILE] [--by dir|file|module] [--depth N] [FILTERS] [OUTPUT]
       allocinfo diff BEFORE AFTER [-n N] [--min-change SIZE] [FILTERS] [OUTPUT]
       allocinfo watch [FILE] [--interval SECONDS] [--count N] [-n N] [--record OUT]
                       [FILTERS] [--bytes]
       allocinfo plot RECORD [-n N] [FILTERS] > chart.svg

FILE is /proc/allocinfo by default, - for standard input; a saved copy of
any kernel's /proc/allocinfo (format 1.0 or 2.0) will do.
FILTERS: --module GLOB (kernel for the image), --file GLOB, --function GLOB,
         --min SIZE (e.g. 64K, 1.5M), --inaccurate (rows marked accurate:no)
OUTPUT: --bytes prints exact byte counts instead of KiB/MiB; --json, JSON.
/proc/allocinfo is read through its ioctls where the kernel has them
(names longer than 63 bytes then show as ...<their end>); --text reads
the text.
diff: the call sites whose bytes or calls changed, largest change first.
watch: every interval, the call sites that grew or shrank most, in bytes
per second; --record appends each snapshot to OUT for a later diff.
plot: a record as an SVG chart of its top call sites' bytes over time.
";

/// What the command line does with the outside world.
pub trait Env {
    /// The text of `path` (`-` for standard input).
    fn read(&mut self, path: &str) -> Result<String, String>;
    /// The tags of `path` read through the ioctls of `/proc/allocinfo`,
    /// if it takes them (`None` if not: a saved file, or a kernel without
    /// them).
    fn ioctl_snapshot(&mut self, _path: &str) -> Result<Option<Snapshot>, String> {
        Ok(None)
    }
    /// Waits `seconds`.
    fn sleep(&mut self, seconds: f64);
    /// The time, in seconds since some fixed point.
    fn now(&mut self) -> f64;
    /// Appends `text` to `path`.
    fn append(&mut self, path: &str, text: &str) -> Result<(), String>;
    /// Prints a finished part of the output now (for `watch`).
    fn emit(&mut self, text: &str);
}

#[derive(Debug, Default)]
struct Args {
    command: String,
    files: Vec<String>,
    limit: Option<usize>,
    sort: Option<SortKey>,
    by: Option<GroupBy>,
    depth: Option<usize>,
    min_change: Option<i64>,
    interval: Option<f64>,
    count: Option<usize>,
    record: Option<String>,
    filter: Filter,
    exact: bool,
    json: bool,
    text: bool,
}

fn value<'a>(it: &mut impl Iterator<Item = &'a String>, flag: &str) -> Result<&'a String, String> {
    it.next().ok_or_else(|| format!("{flag} needs a value"))
}

fn number<T: std::str::FromStr>(s: &str, flag: &str) -> Result<T, String> {
    s.parse()
        .map_err(|_| format!("{flag}: '{s}' is not a number"))
}

fn parse_args(argv: &[String]) -> Result<Args, String> {
    let mut a = Args::default();
    let mut it = argv.iter();
    let mut rest = Vec::new();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-n" | "--lines" => a.limit = Some(number(value(&mut it, arg)?, arg)?),
            "--sort" => a.sort = Some(value(&mut it, arg)?.parse()?),
            "--by" => a.by = Some(value(&mut it, arg)?.parse()?),
            "--depth" => a.depth = Some(number(value(&mut it, arg)?, arg)?),
            "--min" => a.filter.min_bytes = Some(report::parse_size(value(&mut it, arg)?)?),
            "--min-change" => a.min_change = Some(report::parse_size(value(&mut it, arg)?)?),
            "--interval" => {
                let v: f64 = number(value(&mut it, arg)?, arg)?;
                if !(v > 0.0 && v.is_finite()) {
                    return Err(format!("{arg} must be a positive number of seconds"));
                }
                a.interval = Some(v);
            }
            "--count" => a.count = Some(number(value(&mut it, arg)?, arg)?),
            "--record" => a.record = Some(value(&mut it, arg)?.clone()),
            "--module" => a.filter.module = Some(value(&mut it, arg)?.clone()),
            "--file" => a.filter.file = Some(value(&mut it, arg)?.clone()),
            "--function" | "--func" => a.filter.function = Some(value(&mut it, arg)?.clone()),
            "--inaccurate" => a.filter.inaccurate = true,
            "--bytes" => a.exact = true,
            "--text" => a.text = true,
            "--json" => a.json = true,
            "-h" | "--help" => a.command = "help".into(),
            s if s.starts_with('-') && s != "-" => return Err(format!("unknown option {s}")),
            _ => rest.push(arg.clone()),
        }
    }
    if a.command.is_empty() {
        a.command = match rest.first().map(String::as_str) {
            Some(c @ ("top" | "tree" | "diff" | "watch" | "plot" | "help")) => {
                let c = c.to_string();
                rest.remove(0);
                c
            }
            _ => "top".into(),
        };
    }
    a.files = rest;
    let (min, max) = match a.command.as_str() {
        "diff" => (2, 2),
        "help" => (0, usize::MAX),
        _ => (0, 1),
    };
    if a.files.len() < min || a.files.len() > max {
        return Err(match a.command.as_str() {
            "diff" => "diff takes two snapshots: BEFORE AFTER".to_string(),
            c => format!("{c} takes at most one file"),
        });
    }
    Ok(a)
}

/// The snapshot at `path`: through the ioctls if the file takes them (and
/// `--text` was not given), else from its text.
fn load(env: &mut dyn Env, path: &str, text_only: bool) -> Result<Snapshot, String> {
    if !text_only {
        if let Some(snap) = env.ioctl_snapshot(path)? {
            return Ok(snap);
        }
    }
    let text = env.read(path)?;
    parse::parse(&text).map_err(|e| format!("{path}: {e}"))
}

fn size(bytes: i64, exact: bool) -> String {
    if exact {
        bytes.to_string()
    } else {
        report::human(bytes)
    }
}

/// Runs the command line `argv` (without the program's name): the output,
/// or an error message for standard error.
pub fn run(argv: &[String], env: &mut dyn Env) -> Result<String, String> {
    let a = parse_args(argv)?;
    let mut out = String::new();
    let default_file = "/proc/allocinfo".to_string();
    let file = a.files.first().unwrap_or(&default_file);
    match a.command.as_str() {
        "help" => out.push_str(USAGE),
        "top" => {
            let snap = load(env, file, a.text)?;
            let rows = report::top(&snap, &a.filter, a.sort.unwrap_or(SortKey::Bytes), a.limit);
            if a.json {
                out.push('[');
                for (i, r) in rows.iter().enumerate() {
                    let _ = write!(
                        out,
                        "{}{{\"bytes\":{},\"calls\":{},{},\"accurate\":{}}}",
                        if i > 0 { "," } else { "" },
                        r.bytes,
                        r.calls,
                        report::json_site(&r.site),
                        r.accurate
                    );
                }
                out.push_str("]\n");
            } else {
                let _ = writeln!(out, "{:>12} {:>9}  call site", "bytes", "calls");
                for r in &rows {
                    let mark = if r.accurate { "" } else { " (inaccurate)" };
                    let _ = writeln!(
                        out,
                        "{:>12} {:>9}  {}{mark}",
                        size(r.bytes, a.exact),
                        r.calls,
                        r.site
                    );
                }
                let (b, c): (i64, u64) = rows
                    .iter()
                    .fold((0, 0), |(b, c), r| (b + r.bytes, c + r.calls));
                let _ = writeln!(
                    out,
                    "{:>12} {:>9}  total of {} rows shown ({} rows, {} in all)",
                    size(b, a.exact),
                    c,
                    rows.len(),
                    snap.rows.len(),
                    size(snap.total_bytes(), a.exact)
                );
            }
        }
        "tree" => {
            let snap = load(env, file, a.text)?;
            let by = a.by.unwrap_or(GroupBy::Dir);
            let nodes = report::tree(
                &snap,
                &a.filter,
                by,
                a.depth.unwrap_or(3),
                a.filter.min_bytes.unwrap_or(i64::MIN),
            );
            let nodes: Vec<_> = nodes
                .into_iter()
                .take(a.limit.unwrap_or(usize::MAX))
                .collect();
            if a.json {
                out.push('[');
                for (i, n) in nodes.iter().enumerate() {
                    let _ = write!(
                        out,
                        "{}{{\"name\":{},\"depth\":{},\"bytes\":{},\"calls\":{},\"rows\":{}}}",
                        if i > 0 { "," } else { "" },
                        report::json_str(&n.name),
                        n.depth,
                        n.totals.bytes,
                        n.totals.calls,
                        n.totals.rows
                    );
                }
                out.push_str("]\n");
            } else {
                let _ = writeln!(out, "{:>12} {:>9} {:>6}  group", "bytes", "calls", "rows");
                for n in &nodes {
                    let _ = writeln!(
                        out,
                        "{:>12} {:>9} {:>6}  {}{}",
                        size(n.totals.bytes, a.exact),
                        n.totals.calls,
                        n.totals.rows,
                        "  ".repeat(n.depth),
                        n.name
                    );
                }
            }
        }
        "diff" => {
            let before = load(env, &a.files[0], a.text)?;
            let after = load(env, &a.files[1], a.text)?;
            let changes = report::diff(&before, &after, &a.filter, a.min_change.unwrap_or(0));
            let shown: Vec<_> = changes.iter().take(a.limit.unwrap_or(usize::MAX)).collect();
            if a.json {
                out.push('[');
                for (i, c) in shown.iter().enumerate() {
                    let _ = write!(
                        out,
                        "{}{{{},\"bytes_before\":{},\"bytes_after\":{},\"calls_before\":{},\"calls_after\":{},\"new\":{},\"gone\":{}}}",
                        if i > 0 { "," } else { "" },
                        report::json_site(&c.site),
                        c.bytes_before,
                        c.bytes_after,
                        c.calls_before,
                        c.calls_after,
                        c.new,
                        c.gone
                    );
                }
                out.push_str("]\n");
            } else {
                let _ = writeln!(
                    out,
                    "{:>12} {:>9} {:>12}  call site",
                    "bytes", "calls", "now"
                );
                for c in &shown {
                    let what = if c.new {
                        " (new)"
                    } else if c.gone {
                        " (gone)"
                    } else {
                        ""
                    };
                    let _ = writeln!(
                        out,
                        "{:>12} {:>+9} {:>12}  {}{what}",
                        signed(c.bytes_delta(), a.exact),
                        c.calls_delta(),
                        size(c.bytes_after, a.exact),
                        c.site
                    );
                }
                let grew: i64 = changes
                    .iter()
                    .map(|c| c.bytes_delta())
                    .filter(|&d| d > 0)
                    .sum();
                let shrank: i64 = changes
                    .iter()
                    .map(|c| c.bytes_delta())
                    .filter(|&d| d < 0)
                    .sum();
                let _ = writeln!(
                    out,
                    "{} call sites changed: {} grew, {} shrank, {} in all",
                    changes.len(),
                    signed(grew, a.exact),
                    signed(shrank, a.exact),
                    signed(grew + shrank, a.exact)
                );
            }
        }
        "watch" => watch(&a, file, env)?,
        "plot" => {
            let Some(record) = a.files.first() else {
                return Err("plot takes a record of allocinfo watch --record".to_string());
            };
            let records = read_record(&env.read(record)?).map_err(|e| format!("{record}: {e}"))?;
            let series = report::series(&records, &a.filter, a.limit.unwrap_or(8));
            if series.is_empty() {
                return Err(format!("{record}: no call site with bytes to plot"));
            }
            let span = records.last().map_or(0.0, |(t, _)| *t) - records[0].0;
            let title = format!(
                "top call sites, {} snapshots over {:.0} s",
                records.len(),
                span
            );
            out.push_str(&crate::plot::svg(&series, &title)?);
        }
        c => return Err(format!("unknown command {c}")),
    }
    Ok(out)
}

fn signed(bytes: i64, exact: bool) -> String {
    let s = size(bytes, exact);
    if bytes > 0 {
        format!("+{s}")
    } else {
        s
    }
}

/// `watch`: snapshots every interval; after each but the first, the call
/// sites whose bytes changed most, as rates. Emits as it goes.
fn watch(a: &Args, file: &str, env: &mut dyn Env) -> Result<(), String> {
    let interval = a.interval.unwrap_or(1.0);
    let limit = a.limit.unwrap_or(10);
    let mut prev: Option<(f64, Snapshot)> = None;
    let mut taken = 0usize;
    loop {
        let text = env.read(file)?;
        let t = env.now();
        let snap = parse::parse(&text).map_err(|e| format!("{file}: {e}"))?;
        if let Some(path) = &a.record {
            env.append(path, &format!("# allocinfo-record time:{t:.3}\n{text}"))?;
        }
        if let Some((t0, old)) = &prev {
            let dt = (t - t0).max(1e-9);
            let changes = report::diff(old, &snap, &a.filter, a.min_change.unwrap_or(1));
            let mut block = String::new();
            let _ = writeln!(
                block,
                "after {:.1} s: {} in all ({}/s), {} call sites changed",
                dt,
                size(snap.total_bytes(), a.exact),
                signed(
                    ((snap.total_bytes() - old.total_bytes()) as f64 / dt) as i64,
                    a.exact
                ),
                changes.len()
            );
            for c in changes.iter().take(limit) {
                let _ = writeln!(
                    block,
                    "{:>12}/s {:>+9}/s {:>12}  {}",
                    signed((c.bytes_delta() as f64 / dt) as i64, a.exact),
                    (c.calls_delta() as f64 / dt).round() as i64,
                    size(c.bytes_after, a.exact),
                    c.site
                );
            }
            env.emit(&block);
        }
        taken += 1;
        if a.count.is_some_and(|n| taken >= n) {
            return Ok(());
        }
        prev = Some((t, snap));
        env.sleep(interval);
    }
}

/// Splits a file written by `watch --record` into its snapshots, with
/// their times.
pub fn read_record(text: &str) -> Result<Vec<(f64, Snapshot)>, String> {
    let mut out = Vec::new();
    let mut cur: Option<(f64, usize, String)> = None;
    let mut finish = |cur: Option<(f64, usize, String)>| -> Result<(), String> {
        if let Some((t, first, body)) = cur {
            let snap =
                parse::parse(&body).map_err(|e| format!("line {}: {}", first + e.line, e.what))?;
            out.push((t, snap));
        }
        Ok(())
    };
    for (i, line) in text.lines().enumerate() {
        if let Some(t) = line.strip_prefix("# allocinfo-record time:") {
            finish(cur.take())?;
            let t: f64 = t
                .trim()
                .parse()
                .map_err(|_| format!("line {}: bad time '{t}'", i + 1))?;
            cur = Some((t, i + 1, String::new()));
        } else if let Some((_, _, body)) = cur.as_mut() {
            body.push_str(line);
            body.push('\n');
        } else if !line.trim().is_empty() {
            return Err(format!("line {}: not a record of allocinfo watch", i + 1));
        }
    }
    finish(cur)?;
    Ok(out)
}
