use harness::kmsg::{find, REPORTS};

const CLEAN: &str = "\
[    1.020000] alloc_tag: compressed: tag references in 42 bits of page->flags
[    3.500000] alloc_tag: module alloc_tag_test unloaded with 2 tags in use; keeping its tags
[    3.600000] alloc_tag: module alloc_tag_align: alloc_tags section alignment 8192 is larger than the module tag area supports (4096)
[    3.700000] alloc_tag: cannot reserve 0 bytes for the module tag area; disabling memory allocation profiling
";

#[test]
fn a_clean_log_has_no_report() {
    assert_eq!(find(CLEAN), None);
    assert_eq!(find(""), None);
}

#[test]
fn a_warn_splat_is_found_at_its_first_line() {
    let log = format!(
        "{CLEAN}\
[    4.100000] ------------[ cut here ]------------
[    4.100100] planted warning
[    4.100200] WARNING: CPU: 1 PID: 97 at warn_on_request.c:17 warn_set+0x10/0x20 [warn_on_request]
[    4.100300] Call Trace:
"
    );
    let r = find(&log).expect("the splat");
    assert_eq!(
        (r.line, r.text),
        (5, "[    4.100000] ------------[ cut here ]------------")
    );
    // The summary names what the warning is about.
    assert_eq!(
        r.summary(),
        "[    4.100000] ------------[ cut here ]------------ | \
         [    4.100100] planted warning | \
         [    4.100200] WARNING: CPU: 1 PID: 97 at warn_on_request.c:17 \
         warn_set+0x10/0x20 [warn_on_request]"
    );
}

#[test]
fn each_kind_of_report_is_found() {
    let lines = [
        "[    2.0] BUG: KASAN: slab-use-after-free in __pgalloc_tag_sub+0x40/0x90",
        "[    2.0] Oops: general protection fault, probably for non-canonical address",
        "[    2.0] UBSAN: shift-out-of-bounds in mm/page_alloc.c:1000:5",
        "[    2.0] WARNING: possible circular locking dependency detected",
        "[    2.0] WARNING: possible recursive locking detected",
        "[    2.0] WARNING: inconsistent lock state",
        "[    2.0] WARNING: suspicious RCU usage",
        "[    2.0] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:",
        "[    2.0] INFO: task insmod:90 blocked for more than 122 seconds.",
        "[    2.0] kmemleak: 2 new suspected memory leaks (see /sys/kernel/debug/kmemleak)",
        "[    2.0] alloc_tag: page tag reference was not set when the page was freed",
        "[    2.0] Kernel panic - not syncing: Fatal exception",
        "[    2.0] Call Trace:",
        "[    2.0] ------------[ cut here ]------------",
    ];
    for l in lines {
        let log = format!("{CLEAN}{l}\n");
        let r = find(&log);
        assert_eq!(r.as_ref().map(|r| r.line), Some(5), "not found: {l}");
        // A report at the end of the log has only the lines there are.
        assert_eq!(r.map(|r| r.lines.len()), Some(1));
    }
    // Every pattern is reached by some line above or the splat test.
    for p in REPORTS {
        assert!(
            lines.iter().any(|l| l.contains(p)),
            "pattern {p} is not tested"
        );
    }
}
