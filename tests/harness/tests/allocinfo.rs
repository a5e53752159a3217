use harness::allocinfo::{parse, parse_row};

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
