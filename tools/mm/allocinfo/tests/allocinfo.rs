// SPDX-License-Identifier: GPL-2.0

//! Host tests of `allocinfo`: every input format, every subcommand, and
//! the errors.

use allocinfo::cli::{self, Env};
use allocinfo::parse::{self, Row, Site};
use allocinfo::report::{self, Filter, GroupBy, SortKey};
use allocinfo::uapi;
use std::collections::HashMap;

/// 6.12's /proc/allocinfo, as this series prints it too (format 1.0).
const V1: &str = "\
allocinfo - version: 1.0
#     <size>  <calls> <tag info>
     1048576      256 mm/page_alloc.c:4732 func:__alloc_pages_noprof
        4096        1 kernel/fork.c:311 func:alloc_thread_stack_node
           0        0 lib/alloc_tag.c:10 func:nothing
       16384        4 drivers/demo/demo.c:42 [alloc_demo] func:demo_init
        -128        2 mm/slub.c:2010 func:alloc_slab_obj_exts
";

/// Upstream's format 2.0: the same rows, one marked inaccurate.
const V2: &str = "\
allocinfo - version: 2.0
#     <size>  <calls> <tag info>
     1048576      256 mm/page_alloc.c:4732 func:__alloc_pages_noprof
        4096        1 kernel/fork.c:311 func:alloc_thread_stack_node accurate:no
";

/// `text` as the kernel prints it: each row ends in a space.
fn as_printed(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.starts_with('#') || l.starts_with("allocinfo") {
                format!("{l}\n")
            } else {
                format!("{l} \n")
            }
        })
        .collect()
}

fn site(file: &str, line: u32, module: Option<&str>, function: &str) -> Site {
    Site {
        file: file.into(),
        line,
        module: module.map(Into::into),
        function: function.into(),
    }
}

#[test]
fn reads_format_1_0() {
    let s = parse::parse(V1).unwrap();
    assert_eq!(s.version.as_deref(), Some("1.0"));
    assert_eq!(s.rows.len(), 5);
    assert_eq!(
        s.rows[0],
        Row {
            bytes: 1048576,
            calls: 256,
            site: site("mm/page_alloc.c", 4732, None, "__alloc_pages_noprof"),
            accurate: true,
        }
    );
    assert_eq!(
        s.rows[3].site,
        site("drivers/demo/demo.c", 42, Some("alloc_demo"), "demo_init")
    );
    assert_eq!(s.rows[4].bytes, -128);
    assert_eq!(s.total_bytes(), 1048576 + 4096 + 16384 - 128);
    assert_eq!(s.total_calls(), 263);
}

#[test]
fn reads_format_2_0_with_accuracy() {
    let s = parse::parse(V2).unwrap();
    assert_eq!(s.version.as_deref(), Some("2.0"));
    assert!(s.rows[0].accurate);
    assert!(!s.rows[1].accurate);
}

#[test]
fn reads_rows_without_or_after_the_header() {
    // `sort -g /proc/allocinfo` puts the header lines last.
    let mut lines: Vec<&str> = V1.lines().collect();
    lines.rotate_left(2);
    let sorted = lines.join("\n");
    let a = parse::parse(&sorted).unwrap();
    let b = parse::parse(V1).unwrap();
    assert_eq!(a, b);
    let bare: String = V1.lines().skip(2).map(|l| format!("{l}\n")).collect();
    let c = parse::parse(&bare).unwrap();
    assert_eq!(c.version, None);
    assert_eq!(c.rows, b.rows);
}

#[test]
fn malformed_lines_are_named_by_number() {
    let cases = [
        ("x 1 a.c:1 func:f", "'x' is not a byte count"),
        ("1 -1 a.c:1 func:f", "'-1' is not a call count"),
        ("1 1", "no file:line"),
        ("1 1 a.c func:f", "'a.c' is not file:line"),
        ("1 1 a.c:x func:f", "'a.c:x' is not file:line"),
        ("1 1 :3 func:f", "':3' is not file:line"),
        ("1 1 a.c:1", "no func:"),
        ("1 1 a.c:1 [m]", "no func: after the module"),
        ("1 1 a.c:1 [] func:f", "'[]' is not [module]"),
        ("1 1 a.c:1 fn:f", "'fn:f' is not func:<function>"),
        ("1 1 a.c:1 func:", "'func:' is not func:<function>"),
        (
            "1 1 a.c:1 func:f junk",
            "'junk' after the function is not key:value",
        ),
    ];
    for (line, want) in cases {
        let text = format!("allocinfo - version: 1.0\n# comment\n1 1 ok.c:1 func:ok\n{line}\n");
        let e = parse::parse(&text).unwrap_err();
        assert_eq!(e.line, 4, "{line}");
        assert_eq!(e.what, want, "{line}");
        assert_eq!(e.to_string(), format!("line 4: {want}"));
    }
    let e = parse::parse("allocinfo - version: 3.1\n").unwrap_err();
    assert_eq!(e.line, 1);
    assert!(e.what.contains("version 3.1"), "{}", e.what);
}

#[test]
fn writes_what_it_reads() {
    for (text, version) in [(V1, "1.0"), (V2, "2.0")] {
        // As the kernel prints it, trailing spaces and all.
        let printed = as_printed(text);
        let s = parse::parse(&printed).unwrap();
        assert_eq!(s, parse::parse(text).unwrap());
        let mut out = String::new();
        parse::write(&s, version, &mut out);
        assert_eq!(out, printed);
    }
    // 1.0 has no accuracy marks.
    let s = parse::parse(V2).unwrap();
    let mut out = String::new();
    parse::write(&s, "1.0", &mut out);
    assert!(!out.contains("accurate"));
    assert!(parse::parse(&out).unwrap().rows.iter().all(|r| r.accurate));
}

#[test]
fn globs() {
    let yes = [
        ("*", ""),
        ("*", "abc"),
        ("a*c", "abc"),
        ("a*c", "ac"),
        ("?b?", "abc"),
        ("mm/*", "mm/slub.c"),
        ("*slub*", "mm/slub.c"),
        ("a*b*c", "aXbYbZc"),
    ];
    let no = [
        ("a*c", "abd"),
        ("?", ""),
        ("mm/*", "lib/mm/x.c"),
        ("abc", "abcd"),
        ("a*b*c", "aXcYb"),
    ];
    for (p, t) in yes {
        assert!(report::glob_match(p, t), "{p} {t}");
    }
    for (p, t) in no {
        assert!(!report::glob_match(p, t), "{p} {t}");
    }
}

#[test]
fn top_sorts_filters_and_limits() {
    let s = parse::parse(V1).unwrap();
    let all = Filter::default();
    let by_bytes: Vec<i64> = report::top(&s, &all, SortKey::Bytes, None)
        .iter()
        .map(|r| r.bytes)
        .collect();
    assert_eq!(by_bytes, [1048576, 16384, 4096, 0, -128]);
    let by_calls: Vec<u64> = report::top(&s, &all, SortKey::Calls, Some(3))
        .iter()
        .map(|r| r.calls)
        .collect();
    assert_eq!(by_calls, [256, 4, 2]);
    let by_name: Vec<&str> = report::top(&s, &all, SortKey::Name, None)
        .iter()
        .map(|r| r.site.file.as_str())
        .collect();
    assert_eq!(
        by_name,
        [
            "drivers/demo/demo.c",
            "kernel/fork.c",
            "lib/alloc_tag.c",
            "mm/page_alloc.c",
            "mm/slub.c"
        ]
    );

    let module = Filter {
        module: Some("alloc_*".into()),
        ..Filter::default()
    };
    assert_eq!(report::top(&s, &module, SortKey::Bytes, None).len(), 1);
    let kernel = Filter {
        module: Some("kernel".into()),
        ..Filter::default()
    };
    assert_eq!(report::top(&s, &kernel, SortKey::Bytes, None).len(), 4);
    let file = Filter {
        file: Some("mm/*".into()),
        min_bytes: Some(0),
        ..Filter::default()
    };
    let files: Vec<&str> = report::top(&s, &file, SortKey::Bytes, None)
        .iter()
        .map(|r| r.site.file.as_str())
        .collect();
    assert_eq!(files, ["mm/page_alloc.c"]);
    let func = Filter {
        function: Some("*thread*".into()),
        ..Filter::default()
    };
    assert_eq!(
        report::top(&s, &func, SortKey::Bytes, None)[0].site.line,
        311
    );
    let s2 = parse::parse(V2).unwrap();
    let inacc = Filter {
        inaccurate: true,
        ..Filter::default()
    };
    let rows = report::top(&s2, &inacc, SortKey::Bytes, None);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].site.file, "kernel/fork.c");
}

#[test]
fn tree_totals_add_up() {
    let s = parse::parse(V1).unwrap();
    let all = Filter::default();
    let dirs = report::tree(&s, &all, GroupBy::Dir, 1, i64::MIN);
    let names: Vec<(&str, i64)> = dirs
        .iter()
        .map(|n| (n.name.as_str(), n.totals.bytes))
        .collect();
    assert_eq!(
        names,
        [
            ("mm/", 1048576 - 128),
            ("drivers/", 16384),
            ("kernel/", 4096),
            ("lib/", 0)
        ]
    );
    assert_eq!(
        dirs.iter().map(|n| n.totals.bytes).sum::<i64>(),
        s.total_bytes()
    );
    assert_eq!(
        dirs.iter().map(|n| n.totals.rows).sum::<usize>(),
        s.rows.len()
    );

    // Two levels: each directory, then its files, largest first.
    let deep = report::tree(&s, &all, GroupBy::Dir, 2, i64::MIN);
    let lines: Vec<(usize, &str)> = deep.iter().map(|n| (n.depth, n.name.as_str())).collect();
    assert_eq!(
        lines,
        [
            (0, "mm/"),
            (1, "mm/page_alloc.c"),
            (1, "mm/slub.c"),
            (0, "drivers/"),
            (1, "drivers/demo/"),
            (0, "kernel/"),
            (1, "kernel/fork.c"),
            (0, "lib/"),
            (1, "lib/alloc_tag.c"),
        ]
    );
    // Groups below the minimum go, with what is under them.
    let big = report::tree(&s, &all, GroupBy::Dir, 2, 10000);
    assert_eq!(
        big.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
        ["mm/", "mm/page_alloc.c", "drivers/", "drivers/demo/"]
    );

    let modules = report::tree(&s, &all, GroupBy::Module, 3, i64::MIN);
    let m: HashMap<&str, (i64, u64)> = modules
        .iter()
        .map(|n| (n.name.as_str(), (n.totals.bytes, n.totals.calls)))
        .collect();
    assert_eq!(m["kernel"], (1048576 + 4096 - 128, 259));
    assert_eq!(m["alloc_demo"], (16384, 4));
    let files = report::tree(&s, &all, GroupBy::File, 3, i64::MIN);
    assert_eq!(files.len(), 5);
    assert_eq!(files[0].name, "mm/page_alloc.c");
}

#[test]
fn diff_finds_what_grew_and_shrank() {
    let before = parse::parse(V1).unwrap();
    let after = parse::parse(
        "\
allocinfo - version: 1.0
     1052672      257 mm/page_alloc.c:4732 func:__alloc_pages_noprof
        4096        1 kernel/fork.c:311 func:alloc_thread_stack_node
           0        0 lib/alloc_tag.c:10 func:nothing
        -256        3 mm/slub.c:2010 func:alloc_slab_obj_exts
        8192        2 drivers/new/new.c:7 [new_mod] func:new_init
",
    )
    .unwrap();
    let all = Filter::default();
    let changes = report::diff(&before, &after, &all, 0);
    let got: Vec<(&str, i64, i64, bool, bool)> = changes
        .iter()
        .map(|c| {
            (
                c.site.file.as_str(),
                c.bytes_delta(),
                c.calls_delta(),
                c.new,
                c.gone,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("drivers/demo/demo.c", -16384, -4, false, true),
            ("drivers/new/new.c", 8192, 2, true, false),
            ("mm/page_alloc.c", 4096, 1, false, false),
            ("mm/slub.c", -128, 1, false, false),
        ]
    );
    // The same snapshot twice: nothing changed.
    assert!(report::diff(&before, &before, &all, 0).is_empty());
    // At least 5000 bytes either way.
    assert_eq!(report::diff(&before, &after, &all, 5000).len(), 2);
    // Only the kernel image.
    let kernel = Filter {
        module: Some("kernel".into()),
        ..Filter::default()
    };
    assert_eq!(report::diff(&before, &after, &kernel, 0).len(), 2);
}

#[test]
fn sizes() {
    assert_eq!(report::human(0), "0 B");
    assert_eq!(report::human(1023), "1023 B");
    assert_eq!(report::human(1536), "1.5 KiB");
    assert_eq!(report::human(-1048576), "-1.0 MiB");
    assert_eq!(report::human(3 << 30), "3.0 GiB");
    assert_eq!(report::parse_size("4096"), Ok(4096));
    assert_eq!(report::parse_size("64K"), Ok(65536));
    assert_eq!(report::parse_size("1.5M"), Ok(1572864));
    assert_eq!(report::parse_size("2GiB"), Ok(2 << 30));
    assert_eq!(report::parse_size("10 MB"), Ok(10 << 20));
    assert!(report::parse_size("ten").is_err());
    assert!(report::parse_size("5X")
        .unwrap_err()
        .contains("unknown unit"));
    assert!(report::parse_size("1e30T").is_err());
}

/// Files in memory, a clock that sleeps instantly, snapshots that change
/// on every read.
struct Fake {
    /// What the ioctls give for a path, if it takes them.
    ioctl: HashMap<String, parse::Snapshot>,
    files: HashMap<String, String>,
    sequence: Vec<String>,
    reads: usize,
    time: f64,
    emitted: String,
}

impl Fake {
    fn new(files: &[(&str, &str)]) -> Self {
        Fake {
            ioctl: HashMap::new(),
            files: files
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            sequence: Vec::new(),
            reads: 0,
            time: 100.0,
            emitted: String::new(),
        }
    }
}

impl Env for Fake {
    fn ioctl_snapshot(&mut self, path: &str) -> Result<Option<parse::Snapshot>, String> {
        Ok(self.ioctl.get(path).cloned())
    }
    fn read(&mut self, path: &str) -> Result<String, String> {
        if path == "/proc/allocinfo" && !self.sequence.is_empty() {
            let i = self.reads.min(self.sequence.len() - 1);
            self.reads += 1;
            return Ok(self.sequence[i].clone());
        }
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| format!("{path}: No such file or directory"))
    }
    fn sleep(&mut self, seconds: f64) {
        self.time += seconds;
    }
    fn now(&mut self) -> f64 {
        self.time
    }
    fn append(&mut self, path: &str, text: &str) -> Result<(), String> {
        self.files
            .entry(path.to_string())
            .or_default()
            .push_str(text);
        Ok(())
    }
    fn emit(&mut self, text: &str) {
        self.emitted.push_str(text);
    }
}

fn run(args: &str, env: &mut Fake) -> Result<String, String> {
    let argv: Vec<String> = args.split_whitespace().map(String::from).collect();
    cli::run(&argv, env)
}

#[test]
fn top_command_prints_rows_and_totals() {
    let mut env = Fake::new(&[("/proc/allocinfo", V1), ("snap", V2)]);
    let out = run("top -n 2", &mut env).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(
        lines[1].contains("1.0 MiB")
            && lines[1].contains("256")
            && lines[1].ends_with("mm/page_alloc.c:4732 func:__alloc_pages_noprof"),
        "{out}"
    );
    assert!(
        lines[2].contains("16.0 KiB") && lines[2].contains("[alloc_demo]"),
        "{out}"
    );
    assert!(lines[3].contains("total of 2 rows shown (5 rows"), "{out}");
    // Exact bytes, and the default command.
    let exact = run("--bytes --sort calls -n 1", &mut env).unwrap();
    assert!(
        exact
            .lines()
            .nth(1)
            .unwrap()
            .trim_start()
            .starts_with("1048576 "),
        "{exact}"
    );
    let marked = run("top snap", &mut env).unwrap();
    assert!(
        marked.contains("kernel/fork.c:311 func:alloc_thread_stack_node (inaccurate)"),
        "{marked}"
    );
}

#[test]
fn json_is_json() {
    let before = V1;
    let after = V1.replace("     1048576      256", "     1052672      257");
    let mut env = Fake::new(&[("/proc/allocinfo", V1), ("a", before), ("b", &after)]);
    for cmd in ["top --json", "tree --json --by module", "diff a b --json"] {
        let out = run(cmd, &mut env).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{cmd}: {e}: {out}"));
        assert!(v.as_array().is_some_and(|a| !a.is_empty()), "{cmd}: {out}");
    }
    let top: serde_json::Value =
        serde_json::from_str(&run("top --json -n 1", &mut env).unwrap()).unwrap();
    assert_eq!(top[0]["bytes"], 1048576);
    assert_eq!(top[0]["file"], "mm/page_alloc.c");
    assert_eq!(top[0]["module"], serde_json::Value::Null);
    let diff: serde_json::Value =
        serde_json::from_str(&run("diff a b --json", &mut env).unwrap()).unwrap();
    assert_eq!(diff.as_array().unwrap().len(), 1);
    assert_eq!(
        diff[0]["bytes_after"].as_i64().unwrap() - diff[0]["bytes_before"].as_i64().unwrap(),
        4096
    );
}

#[test]
fn diff_command() {
    let after = V1.replace("       16384        4", "       24576        6");
    let mut env = Fake::new(&[("a", V1), ("b", &after)]);
    let out = run("diff a b --bytes", &mut env).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[1].contains("+8192")
            && lines[1].contains("+2")
            && lines[1].contains("24576")
            && lines[1].contains("[alloc_demo] func:demo_init"),
        "{out}"
    );
    assert_eq!(
        lines[2],
        "1 call sites changed: +8192 grew, 0 shrank, +8192 in all"
    );
}

#[test]
fn tree_command() {
    let mut env = Fake::new(&[("/proc/allocinfo", V1)]);
    let out = run("tree --depth 2 --bytes", &mut env).unwrap();
    assert!(out.lines().nth(1).unwrap().ends_with("  mm/"), "{out}");
    assert!(
        out.lines().nth(2).unwrap().ends_with("    mm/page_alloc.c"),
        "{out}"
    );
    assert!(
        out.lines()
            .nth(1)
            .unwrap()
            .contains(&(1048576 - 128).to_string()),
        "{out}"
    );
}

#[test]
fn watch_reports_rates_and_records() {
    let mut env = Fake::new(&[]);
    let grow = |n: i64| {
        V1.replace(
            "        4096        1 kernel/fork.c",
            &format!("{:>12} {:>8} kernel/fork.c", 4096 * n, n),
        )
    };
    env.sequence = vec![grow(1), grow(3), grow(6)];
    let out = run(
        "watch --interval 2 --count 3 --record rec --bytes",
        &mut env,
    )
    .unwrap();
    assert_eq!(out, "");
    let blocks: Vec<&str> = env
        .emitted
        .split("after ")
        .filter(|b| !b.is_empty())
        .collect();
    assert_eq!(blocks.len(), 2, "{}", env.emitted);
    // 2 more threads in 2 s: 4096 bytes and 1 call per second.
    assert!(blocks[0].starts_with("2.0 s:"), "{}", blocks[0]);
    assert!(
        blocks[0].contains("+4096/s")
            && blocks[0].contains("+1/s")
            && blocks[0].contains("kernel/fork.c:311"),
        "{}",
        blocks[0]
    );
    assert!(blocks[1].contains("+6144/s"), "{}", blocks[1]);
    // The record holds every snapshot, with its time, and diffs like files.
    let rec = cli::read_record(&env.files["rec"]).unwrap();
    assert_eq!(rec.len(), 3);
    assert_eq!((rec[0].0, rec[2].0), (100.0, 104.0));
    let d = report::diff(&rec[0].1, &rec[2].1, &Filter::default(), 0);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].bytes_delta(), 5 * 4096);
    assert!(cli::read_record("junk\n")
        .unwrap_err()
        .starts_with("line 1:"));
    let bad = format!("# allocinfo-record time:1\n{V1}x y\n");
    assert_eq!(
        cli::read_record(&bad).unwrap_err(),
        "line 9: 'x' is not a byte count"
    );
}

#[test]
fn bad_command_lines_say_why() {
    let mut env = Fake::new(&[("/proc/allocinfo", V1), ("bad", "1 1 a.c:1 func:f\noops\n")]);
    for (args, want) in [
        ("top --frobnicate", "unknown option --frobnicate"),
        ("diff a", "diff takes two snapshots: BEFORE AFTER"),
        ("top a b", "top takes at most one file"),
        ("top -n many", "-n: 'many' is not a number"),
        (
            "top --sort size2",
            "unknown sort key 'size2': bytes, calls or name",
        ),
        (
            "tree --by planet",
            "unknown grouping 'planet': dir, file or module",
        ),
        ("top --min 5X", "'5X': unknown unit 'X'"),
        (
            "watch --interval 0",
            "--interval must be a positive number of seconds",
        ),
        ("top -n", "-n needs a value"),
        ("top missing", "missing: No such file or directory"),
        ("top bad", "bad: line 2: 'oops' is not a byte count"),
    ] {
        assert_eq!(run(args, &mut env).unwrap_err(), want, "{args}");
    }
    assert!(run("--help", &mut env)
        .unwrap()
        .starts_with("usage: allocinfo"));
}

/// A snapshot the size of a defconfig kernel's (about 4000 tags), for
/// the figure README gives (`cargo test --release -- --ignored --nocapture`).
#[test]
#[ignore]
fn top_of_a_defconfig_sized_snapshot() {
    let mut text = String::from("allocinfo - version: 1.0\n#     <size>  <calls> <tag info>\n");
    for i in 0..4000u32 {
        text.push_str(&format!(
            "{:>12} {:>8} {}/file{}.c:{} func:f{} \n",
            (i as i64 * 7919) % 1000003,
            i % 97,
            ["mm", "fs/ext4", "net/core", "drivers/gpu/drm"][i as usize % 4],
            i % 300,
            i,
            i
        ));
    }
    let mut env = Fake::new(&[("/proc/allocinfo", &text)]);
    let start = std::time::Instant::now();
    let out = run("top -n 20", &mut env).unwrap();
    let took = start.elapsed();
    assert_eq!(out.lines().count(), 22);
    println!("top of 4000 rows: {took:?}");
}

fn record(
    modname: &str,
    function: &str,
    filename: &str,
    line: u64,
    bytes: u64,
    accurate: u8,
) -> uapi::TagData {
    let mut d = uapi::TagData::ZERO;
    let put = |f: &mut [u8; uapi::STR_SIZE], s: &str| {
        let b = s.as_bytes();
        let b = &b[b.len().saturating_sub(uapi::STR_SIZE - 1)..];
        f[..b.len()].copy_from_slice(b);
    };
    put(&mut d.tag.modname, modname);
    put(&mut d.tag.function, function);
    put(&mut d.tag.filename, filename);
    d.tag.lineno = line;
    d.counter.bytes = bytes;
    d.counter.calls = 3;
    d.counter.accurate = accurate;
    d
}

#[test]
fn ioctl_records_become_rows() {
    let r = uapi::row_of(&record("", "kstrdup", "mm/util.c", 64, 4096, 1));
    assert_eq!(r.site, site("mm/util.c", 64, None, "kstrdup"));
    assert_eq!((r.bytes, r.calls, r.accurate), (4096, 3, true));
    let m = uapi::row_of(&record("alloc_demo", "f", "a.c", 1, 0, 0));
    assert_eq!(m.site.module.as_deref(), Some("alloc_demo"));
    assert!(!m.accurate);
    // A path the field could not hold whole: its end, marked.
    let long = format!(
        "/work/main/build/out-rust-default/extmod/{}/alloc_demo.c",
        "x".repeat(40)
    );
    let t = uapi::row_of(&record("m", "f", &long, 20, 1, 1));
    assert!(t.site.file.starts_with("..."), "{}", t.site.file);
    assert!(long.ends_with(&t.site.file[3..]));
    assert_eq!(t.site.file.len(), 3 + 63);
    // The numbers of upstream's uapi.
    assert_eq!(uapi::IOC_CONTENT_ID, 0x8008_a600);
    assert_eq!(uapi::IOC_GET_AT, 0xc1d0_a601);
    assert_eq!(uapi::IOC_GET_NEXT, 0x80e0_a602);
}

#[test]
fn the_ioctls_are_used_where_the_file_takes_them() {
    let mut env = Fake::new(&[("/proc/allocinfo", V1)]);
    let mut by_ioctl = parse::Snapshot::default();
    by_ioctl
        .rows
        .push(uapi::row_of(&record("", "only_by_ioctl", "x.c", 1, 5, 1)));
    env.ioctl.insert("/proc/allocinfo".into(), by_ioctl);
    let out = run("top", &mut env).unwrap();
    assert!(
        out.contains("only_by_ioctl") && !out.contains("page_alloc"),
        "{out}"
    );
    let text = run("top --text", &mut env).unwrap();
    assert!(
        !text.contains("only_by_ioctl") && text.contains("page_alloc"),
        "{text}"
    );
}

fn session() -> String {
    let grow = |n: i64| {
        V1.replace(
            "        4096        1 kernel/fork.c",
            &format!("{:>12} {:>8} kernel/fork.c", 4096 * n, n),
        )
    };
    let mut rec = String::new();
    for (i, n) in [1, 40, 400].iter().enumerate() {
        rec.push_str(&format!(
            "# allocinfo-record time:{}\n{}",
            10.0 + 2.0 * i as f64,
            grow(*n)
        ));
    }
    rec
}

#[test]
fn series_follow_the_top_sites_over_time() {
    let recs = cli::read_record(&session()).unwrap();
    let s = report::series(&recs, &Filter::default(), 2);
    assert_eq!(s.len(), 2);
    // fork.c peaks at 400 pages, above page_alloc.c's constant 1 MiB.
    assert_eq!(s[0].0.file, "kernel/fork.c");
    assert_eq!(s[0].1, [(0.0, 4096), (2.0, 4096 * 40), (4.0, 4096 * 400)]);
    assert_eq!(s[1].0.file, "mm/page_alloc.c");
    assert!(s[1].1.iter().all(|&(_, b)| b == 1048576));
    // Sites with no bytes are left out; filters apply.
    let all = report::series(&recs, &Filter::default(), 100);
    assert_eq!(all.len(), 3);
    let demo = Filter {
        module: Some("alloc_demo".into()),
        ..Filter::default()
    };
    assert_eq!(report::series(&recs, &demo, 8).len(), 1);
    assert!(report::series(&[], &Filter::default(), 8).is_empty());
}

#[test]
fn plot_draws_an_svg_chart() {
    let rec = session();
    let mut env = Fake::new(&[("rec", &rec), ("empty", "# allocinfo-record time:1\n")]);
    let svg = run("plot rec -n 2", &mut env).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("kernel/fork.c:311 alloc_thread_stack_node"));
    assert!(svg.contains("mm/page_alloc.c:4732 __alloc_pages_noprof"));
    assert!(!svg.contains("alloc_demo_init"), "only the top 2");
    assert!(svg.contains("3 snapshots over 4 s"));
    assert!(svg.contains("<polyline"));
    assert_eq!(
        run("plot empty", &mut env).unwrap_err(),
        "empty: no call site with bytes to plot"
    );
    assert_eq!(
        run("plot", &mut env).unwrap_err(),
        "plot takes a record of allocinfo watch --record"
    );
    assert!(run("plot missing", &mut env)
        .unwrap_err()
        .contains("No such file"));
}
