use harness::oracle::{compare, glob, report, Dump, Ignore};
use std::path::PathBuf;
use std::process::Command;

/// /proc/allocinfo of the C reference kernel (6.12.117, configs/base.config)
/// right after boot, as scripts/test saves it.
const REF: &str = include_str!("data/allocinfo-ref.txt");
/// The repository's ignore list.
const IGNORE: &str = include_str!("../../oracle-ignore.txt");

fn dump(text: &str, ignore: &Ignore) -> Dump {
    Dump::parse(text, ignore).unwrap()
}

fn none() -> Ignore {
    Ignore::default()
}

/// The text with every line for which `drop` is true removed.
fn without(text: &str, drop: impl Fn(&str) -> bool) -> String {
    text.lines()
        .filter(|l| !drop(l))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The same dump as from another boot: every counter changed.
fn other_boot(text: &str) -> String {
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            if i < 2 {
                return format!("{l}\n");
            }
            let mut w = l.split_whitespace();
            let bytes: i64 = w.next().unwrap().parse().unwrap();
            let calls: u64 = w.next().unwrap().parse().unwrap();
            let rest: Vec<&str> = w.collect();
            format!(
                "{:12} {:8} {} \n",
                bytes * 3 + 4096,
                calls * 3 + 1,
                rest.join(" ")
            )
        })
        .collect()
}

#[test]
fn fixture_is_a_real_dump() {
    let d = dump(REF, &none());
    assert_eq!(d.header[0], "allocinfo - version: 1.0");
    assert_eq!(d.header[1], "#     <size>  <calls> <tag info>");
    assert!(d.kept > 500, "{} rows", d.kept);
    assert_eq!(d.ignored, 0);
}

#[test]
fn a_dump_agrees_with_itself() {
    let d = dump(REF, &none());
    let diff = compare(&d, &d);
    assert!(diff.is_empty(), "{diff:?}");
    let text = report("a", &d, "b", &d, &diff);
    assert!(
        text.starts_with("PASS header: identical\nPASS rows:"),
        "{text}"
    );
}

#[test]
fn counters_are_not_compared() {
    let other = other_boot(REF);
    assert_ne!(other, REF);
    assert!(compare(&dump(REF, &none()), &dump(&other, &none())).is_empty());
}

#[test]
fn a_missing_row_is_caught() {
    let gone = "mm/page_ext.c:271 func:alloc_page_ext";
    let doctored = without(REF, |l| l.ends_with(&format!("{gone} ")));
    assert_eq!(doctored.lines().count() + 1, REF.lines().count());
    let (a, b) = (dump(REF, &none()), dump(&doctored, &none()));
    let diff = compare(&a, &b);
    assert!(diff.header.is_empty());
    assert_eq!(diff.only_a, vec![(gone.to_string(), 1)]);
    assert!(diff.only_b.is_empty());
    let text = report("rust", &a, "ref", &b, &diff);
    assert!(
        text.contains("FAIL rows: 1 only in rust, 0 only in ref"),
        "{text}"
    );
    assert!(
        text.contains(&format!("  only in rust: {gone}\n")),
        "{text}"
    );
    // The other way round it is only in the second.
    let diff = compare(&b, &a);
    assert_eq!(diff.only_b, vec![(gone.to_string(), 1)]);
}

#[test]
fn a_changed_header_is_caught() {
    let doctored = REF.replacen("version: 1.0", "version: 2.0", 1);
    let diff = compare(&dump(REF, &none()), &dump(&doctored, &none()));
    assert_eq!(diff.header.len(), 1);
    assert_eq!(diff.header[0].0, 1);
    assert!(diff.only_a.is_empty() && diff.only_b.is_empty());
    assert!(!diff.is_empty());

    // Byte-identical: a trailing space is a difference too.
    let doctored = REF.replacen("<tag info>\n", "<tag info> \n", 1);
    let (a, b) = (dump(REF, &none()), dump(&doctored, &none()));
    let diff = compare(&a, &b);
    assert_eq!(diff.header.len(), 1);
    assert_eq!(diff.header[0].0, 2);
    let text = report("rust", &a, "ref", &b, &diff);
    assert!(text.starts_with("FAIL header: differs\n"), "{text}");
    assert!(text.contains("PASS rows"), "{text}");
}

#[test]
fn a_missing_header_is_caught() {
    let doctored = without(REF, |l| l.starts_with("allocinfo"));
    // The second header line and the first row are then read as the header.
    let diff = compare(&dump(REF, &none()), &dump(&doctored, &none()));
    assert_eq!(diff.header.len(), 2, "{diff:?}");
}

#[test]
fn one_copy_of_a_duplicated_row_missing_is_caught() {
    // Several tags share this identity (an inline function in a header).
    let dup = "include/kunit/resource.h:288 func:kunit_alloc_resource";
    let copies = REF.matches(dup).count();
    assert!(copies >= 2, "{copies}");
    let mut lines: Vec<&str> = REF.lines().collect();
    let first = lines
        .iter()
        .position(|l| l.ends_with(&format!("{dup} ")))
        .unwrap();
    lines.remove(first);
    let doctored: String = lines.iter().map(|l| format!("{l}\n")).collect();
    assert_eq!(doctored.matches(dup).count(), copies - 1);
    let diff = compare(&dump(REF, &none()), &dump(&doctored, &none()));
    assert_eq!(diff.only_a, vec![(dup.to_string(), 1)]);
}

#[test]
fn module_rows_compare_with_their_module() {
    let a = format!("{REF}        4096        1 /m/probe.c:27 [probe] func:probe_init \n");
    let b = format!("{REF}        4096        1 /m/probe.c:27 [other] func:probe_init \n");
    let diff = compare(&dump(&a, &none()), &dump(&b, &none()));
    assert_eq!(
        diff.only_a,
        vec![("/m/probe.c:27 [probe] func:probe_init".to_string(), 1)]
    );
    assert_eq!(
        diff.only_b,
        vec![("/m/probe.c:27 [other] func:probe_init".to_string(), 1)]
    );
}

#[test]
fn rows_of_ignored_files_are_left_out() {
    let ignore = Ignore::parse(IGNORE);
    // The Rust kernel has its own rows and lacks the C files' rows.
    let rust = format!(
        "{}           0        0 lib/alloc_tag_rs/tags.rs:10 func:tags_init \n\
         \x20         64        1 rust/helpers/alloc_tag.c:5 func:rust_helper_alloc \n",
        without(REF, |l| l.contains(" lib/codetag.c:")
            || l.contains(" lib/alloc_tag.c:"))
    );
    let (a, b) = (dump(&rust, &ignore), dump(REF, &ignore));
    let diff = compare(&a, &b);
    assert!(diff.is_empty(), "{diff:?}");
    assert!(
        a.ignored >= 2 && b.ignored >= 3,
        "{} {}",
        a.ignored,
        b.ignored
    );
    let text = report("rust", &a, "ref", &b, &diff);
    assert!(text.contains("PASS rows"), "{text}");

    // Without the list the same dumps differ, both ways.
    let diff = compare(&dump(&rust, &none()), &dump(REF, &none()));
    assert_eq!(diff.only_a.len(), 2, "{diff:?}");
    assert_eq!(diff.only_b.len(), 3, "{diff:?}");

    // A row of a file not on the list is still caught.
    let extra = format!("{REF}          64        1 mm/vmalloc.c:1 func:new_site \n");
    let diff = compare(&dump(&extra, &ignore), &dump(REF, &ignore));
    assert_eq!(
        diff.only_a,
        vec![("mm/vmalloc.c:1 func:new_site".to_string(), 1)]
    );
}

#[test]
fn ignore_list_syntax() {
    let i = Ignore::parse("# comment\n\n  lib/a.c  # trailing\nrust/*\nmm/?.c\n");
    assert_eq!(i.patterns(), ["lib/a.c", "rust/*", "mm/?.c"]);
    assert!(i.matches("lib/a.c"));
    assert!(!i.matches("lib/a.cc"));
    assert!(!i.matches("xlib/a.c"));
    assert!(i.matches("rust/helpers/slab.c"));
    assert!(i.matches("mm/x.c"));
    assert!(!i.matches("mm/xy.c"));
    let repo = Ignore::parse(IGNORE);
    assert!(repo.matches("lib/alloc_tag_rs/codetag.rs"));
    assert!(repo.matches("lib/codetag.c"));
    assert!(!repo.matches("lib/alloc_tag_rs.c"));
    assert!(!repo.matches("mm/vmalloc.c"));
    assert!(!repo.matches("fs/kernfs/dir.c"));
}

#[test]
fn glob_rules() {
    assert!(glob("*", ""));
    assert!(glob("*", "a/b/c"));
    assert!(glob("a*c", "abbbc"));
    assert!(glob("a*b*c", "a-b-b-c"));
    assert!(!glob("a*b*c", "a-c-b"));
    assert!(glob("*.c", "lib/x.c"));
    assert!(!glob("*.c", "lib/x.rs"));
    assert!(glob("a?c", "abc"));
    assert!(!glob("a?c", "ac"));
    assert!(!glob("", "a"));
    assert!(glob("", ""));
}

#[test]
fn a_line_that_is_no_row_is_an_error() {
    let broken = format!("{REF}garbage\n");
    let err = Dump::parse(&broken, &none()).unwrap_err();
    assert!(
        err.contains("not a row") && err.contains("garbage"),
        "{err}"
    );
}

/// A file in the temporary folder, removed when dropped.
struct Temp(PathBuf);

impl Temp {
    fn new(name: &str, text: &str) -> Temp {
        let path = std::env::temp_dir().join(format!("oracle-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        Temp(path)
    }
    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn command_passes_two_boots_and_fails_a_doctored_dump() {
    let ignore_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../oracle-ignore.txt");
    let a = Temp::new("a", REF);
    let b = Temp::new("b", &other_boot(REF));
    let (rc, out) = run(&["oracle", a.path(), b.path(), "--ignore-files", ignore_path]);
    assert_eq!(rc, 0, "{out}");
    assert!(
        out.contains("PASS header") && out.contains("PASS rows"),
        "{out}"
    );

    let gone = "fs/kernfs/dir.c:624 func:__kernfs_new_node";
    let c = Temp::new("c", &without(REF, |l| l.ends_with(&format!("{gone} "))));
    let (rc, out) = run(&["oracle", c.path(), a.path(), "--ignore-files", ignore_path]);
    assert_eq!(rc, 1, "{out}");
    assert!(
        out.contains(&format!("only in {}: {gone}", a.path())),
        "{out}"
    );

    let d = Temp::new("d", &REF.replacen("1.0", "1.1", 1));
    let (rc, out) = run(&["oracle", a.path(), d.path()]);
    assert_eq!(rc, 1, "{out}");
    assert!(out.contains("FAIL header"), "{out}");

    // A missing file or ignore list is an error (exit 2), not a pass.
    let (rc, _) = run(&["oracle", a.path(), "/nonexistent/allocinfo.txt"]);
    assert_eq!(rc, 2);
    let (rc, _) = run(&[
        "oracle",
        a.path(),
        b.path(),
        "--ignore-files",
        "/nonexistent",
    ]);
    assert_eq!(rc, 2);
}
