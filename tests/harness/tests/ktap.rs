use harness::ktap::{parse, Counts, Outcome};

fn counts(log: &str) -> (usize, usize, usize) {
    let c = Counts::of(&parse(log));
    (c.passed, c.failed, c.skipped)
}

#[test]
fn kunit_boot_log_with_timestamps() {
    let log = "\
[    0.500000] Run /init
[    1.000000] KTAP version 1
[    1.000001] 1..2
[    1.000002]     KTAP version 1
[    1.000003]     # Subtest: rust_doctests_kernel
[    1.000004]     1..3
[    1.000005]     ok 1 rust_doctest_kernel_a
[    1.000006]     not ok 2 rust_doctest_kernel_b
[    1.000007]     ok 3 rust_doctest_kernel_c # SKIP no hardware
[    1.000008] not ok 1 rust_doctests_kernel
[    1.000009]     # Subtest: list
[    1.000010]     1..1
[    1.000011]     ok 1 list_add
[    1.000012] ok 2 list
";
    let r = parse(log);
    assert_eq!(counts(log), (2, 1, 1));
    assert_eq!(r[1].name, "rust_doctests_kernel.rust_doctest_kernel_b");
    assert_eq!(r[1].outcome, Outcome::Fail);
    assert_eq!(r[3].name, "list.list_add");
}

#[test]
fn kselftest_harness_output() {
    let log = "\
TAP version 13
1..3
# Starting 3 tests from 1 test cases.
#  RUN           global.header ...
#            OK  global.header
ok 1 global.header
#  RUN           global.toggle ...
# allocinfo.c:80:toggle:Expected 1 (1) == 0 (0)
not ok 2 global.toggle
ok 3 global.skipped # SKIP needs root
# Totals: pass:1 fail:1 xfail:0 xpass:0 skip:1 error:0
";
    assert_eq!(counts(log), (1, 1, 1));
}

#[test]
fn a_failure_carries_the_lines_it_printed() {
    let log = "\
TAP version 13
1..3
#  RUN           paths.swap_out_in ...
# page_paths_test.c:945:swap_out_in:Expected NPAGES (256) == out (250)
# page_paths_test.c:945:swap_out_in:250 of 256 pages swapped out
# swap_out_in: Test failed
#          FAIL  paths.swap_out_in
not ok 1 paths.swap_out_in
#  RUN           paths.memcg ...
# page_paths_test.c:1010:memcg:some note
#            OK  paths.memcg
ok 2 paths.memcg
#  RUN           paths.quiet ...
#          FAIL  paths.quiet
not ok 3 paths.quiet
";
    let r = parse(log);
    assert_eq!(r[0].outcome, Outcome::Fail);
    assert_eq!(
        r[0].reason.as_deref(),
        Some(
            "page_paths_test.c:945:swap_out_in:Expected NPAGES (256) == out (250) | \
             page_paths_test.c:945:swap_out_in:250 of 256 pages swapped out | \
             swap_out_in: Test failed"
        )
    );
    // What a passing test printed is not carried into the next failure.
    assert_eq!(r[1].reason, None);
    assert_eq!(r[2].outcome, Outcome::Fail);
    assert_eq!(r[2].reason, None);
}

#[test]
fn a_kunit_failure_carries_its_expectation() {
    let log = "\
KTAP version 1
1..1
    KTAP version 1
    # Subtest: suite
    1..2
    # case_a: EXPECTATION FAILED at lib/x.c:10
    Expected a == b, but a == 1, b == 2
    not ok 1 case_a
    ok 2 case_b
not ok 1 suite
";
    let r = parse(log);
    assert_eq!(r[0].name, "suite.case_a");
    assert_eq!(
        r[0].reason.as_deref(),
        Some("case_a: EXPECTATION FAILED at lib/x.c:10")
    );
}

#[test]
fn a_long_reason_is_cut() {
    let long = "x".repeat(1000);
    let log = format!("TAP version 13\n1..1\n# {long}\nnot ok 1 t\n");
    let why = parse(&log)[0].reason.clone().unwrap();
    assert!(why.len() < 420 && why.ends_with("..."), "{why}");
}

#[test]
fn two_documents_in_one_log() {
    let log = "KTAP version 1\n1..1\nok 1 a\nnoise\nTAP version 13\n1..1\nok 1 b\n";
    assert_eq!(counts(log), (2, 0, 0));
}

#[test]
fn cut_short_by_a_panic_counts_missing_tests_as_failed() {
    let log = "TAP version 13\n1..3\nok 1 a\nKernel panic - not syncing\n";
    let r = parse(log);
    assert_eq!(counts(log), (1, 2, 0));
    assert_eq!(r[1].name, "#2 (no result)");
}

#[test]
fn suite_failing_without_failing_leaf_is_one_failure() {
    let log = "KTAP version 1\n1..1\n    1..2\n    ok 1 a\n    ok 2 b\nnot ok 1 s\n";
    assert_eq!(counts(log), (2, 1, 0));
}

#[test]
fn nested_plan_shortfall_is_counted() {
    let log = "KTAP version 1\n1..1\n    # Subtest: s\n    1..3\n    ok 1 a\nnot ok 1 s\n";
    assert_eq!(counts(log), (1, 2, 0));
}

#[test]
fn no_document_no_results() {
    assert!(parse("ok 1 stray line before any version\n").is_empty());
}
