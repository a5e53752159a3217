use harness::allocinfo::{human, parse, parse_row, top};

const SAMPLE: &str = "\
allocinfo - version: 1.0
#     <size>  <calls> <tag info>
           0        0 arch/x86/kernel/setup.c:1 func:a 
     1048576      256 mm/page_ext.c:2 func:b 
        4096        1 /tmp/probe/probe.c:27 [probe] func:probe_init 
";

#[test]
fn parses_rows_with_and_without_module() {
    let rows = parse(SAMPLE).unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[2].module.as_deref(), Some("probe"));
    assert_eq!(rows[2].line, 27);
    assert_eq!(rows[1].bytes, 1048576);
    assert_eq!(rows[0].tag(), "arch/x86/kernel/setup.c:1 func:a");
    assert_eq!(
        rows[2].tag(),
        "/tmp/probe/probe.c:27 [probe] func:probe_init"
    );
}

#[test]
fn rejects_bad_header_and_rows() {
    assert!(parse("allocinfo - version: 2.0\n").is_err());
    assert!(parse_row("12 x a.c:1 func:f").is_none());
    assert!(parse_row("12 1 a.c func:f").is_none());
    assert!(parse_row("12 1 a.c:1 [m] f").is_none());
    assert!(parse_row("12 1 a.c:1 func:f extra").is_none());
    assert!(parse_row("-12 1 a.c:1 func:f").is_some());
}

#[test]
fn top_orders_by_bytes() {
    let rows = parse(SAMPLE).unwrap();
    let t: Vec<i64> = top(&rows, 2).iter().map(|r| r.bytes).collect();
    assert_eq!(t, [1048576, 4096]);
    assert_eq!(top(&rows, 10).len(), 3);
}

#[test]
fn human_sizes() {
    assert_eq!(human(0), "0 B");
    assert_eq!(human(1023), "1023 B");
    assert_eq!(human(1024), "1.0 KiB");
    assert_eq!(human(1536 * 1024), "1.5 MiB");
    assert_eq!(human(-4096), "-4.0 KiB");
}
