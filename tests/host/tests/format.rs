//! Byte-for-byte tests of the `/proc/allocinfo` text and of `Buf`.

use alloc_tag_logic::format::{write_header, write_row, write_tag, Buf, Overflow, Row, Tag};
use core::fmt::Write;
use proptest::prelude::*;

const HEADER: &[u8] = b"allocinfo - version: 1.0\n#     <size>  <calls> <tag info>\n";

fn render(f: impl Fn(&mut Buf<'_>) -> Result<(), Overflow>) -> Vec<u8> {
    let mut out = vec![0u8; 4096];
    let mut buf = Buf::new(&mut out);
    f(&mut buf).unwrap();
    assert!(!buf.overflowed());
    buf.as_bytes().to_vec()
}

fn row<'a>(bytes: i64, calls: u64, modname: Option<&'a [u8]>) -> Row<'a> {
    Row {
        bytes,
        calls,
        tag: Tag {
            file: b"mm/slub.c",
            line: 4250,
            modname,
            function: b"kmalloc_node",
        },
    }
}

fn render_row(r: &Row<'_>) -> Vec<u8> {
    render(|b| write_row(b, r))
}

#[test]
fn header() {
    assert_eq!(render(write_header), HEADER);
}

#[test]
fn row_of_built_in_code() {
    assert_eq!(
        render_row(&row(4096, 1, None)),
        b"        4096        1 mm/slub.c:4250 func:kmalloc_node \n"
    );
}

#[test]
fn row_of_a_module() {
    assert_eq!(
        render_row(&row(12288, 3, Some(b"probe"))),
        b"       12288        3 mm/slub.c:4250 [probe] func:kmalloc_node \n"
    );
}

#[test]
fn zero_and_negative_bytes() {
    assert_eq!(
        render_row(&row(0, 0, None)),
        b"           0        0 mm/slub.c:4250 func:kmalloc_node \n"
    );
    assert_eq!(
        render_row(&row(-4096, 0, None)),
        b"       -4096        0 mm/slub.c:4250 func:kmalloc_node \n"
    );
}

#[test]
fn columns_exactly_full() {
    assert_eq!(
        render_row(&row(999_999_999_999, 99_999_999, None)),
        b"999999999999 99999999 mm/slub.c:4250 func:kmalloc_node \n"
    );
    assert_eq!(
        render_row(&row(-99_999_999_999, 0, None)),
        b"-99999999999        0 mm/slub.c:4250 func:kmalloc_node \n"
    );
}

#[test]
fn columns_overflowing_widen() {
    assert_eq!(
        render_row(&row(1_000_000_000_000, 100_000_000, None)),
        b"1000000000000 100000000 mm/slub.c:4250 func:kmalloc_node \n"
    );
    assert_eq!(
        render_row(&row(i64::MIN, u64::MAX, Some(b"m"))),
        b"-9223372036854775808 18446744073709551615 mm/slub.c:4250 [m] func:kmalloc_node \n"
    );
    assert_eq!(
        render_row(&row(i64::MAX, 0, None)),
        b"9223372036854775807        0 mm/slub.c:4250 func:kmalloc_node \n"
    );
}

#[test]
fn line_numbers() {
    let mut r = row(1, 1, None);
    r.tag.line = 0;
    assert_eq!(
        render_row(&r),
        b"           1        1 mm/slub.c:0 func:kmalloc_node \n"
    );
    r.tag.line = u32::MAX;
    assert_eq!(
        render_row(&r),
        b"           1        1 mm/slub.c:4294967295 func:kmalloc_node \n"
    );
}

#[test]
fn strings_are_copied_as_is() {
    // C strings need not be UTF-8, and an empty module name still gets "[]".
    let r = Row {
        bytes: 8,
        calls: 1,
        tag: Tag {
            file: b"dir/\xff\xfe.c",
            line: 1,
            modname: Some(b""),
            function: b"f\x80 g",
        },
    };
    assert_eq!(
        render_row(&r),
        b"           8        1 dir/\xff\xfe.c:1 [] func:f\x80 g \n"
    );
}

#[test]
fn tag_text_has_no_padding_or_newline() {
    let t = row(0, 0, None).tag;
    assert_eq!(
        render(|b| write_tag(b, &t)),
        b"mm/slub.c:4250 func:kmalloc_node"
    );
    let t = row(0, 0, Some(b"probe")).tag;
    assert_eq!(
        render(|b| write_tag(b, &t)),
        b"mm/slub.c:4250 [probe] func:kmalloc_node"
    );
}

#[test]
fn header_then_rows() {
    let a = row(4096, 1, None);
    let b = row(-1, 2, Some(b"m"));
    let text = render(|buf| {
        write_header(buf)?;
        write_row(buf, &a)?;
        write_row(buf, &b)
    });
    let mut expected = HEADER.to_vec();
    expected.extend_from_slice(b"        4096        1 mm/slub.c:4250 func:kmalloc_node \n");
    expected.extend_from_slice(b"          -1        2 mm/slub.c:4250 [m] func:kmalloc_node \n");
    assert_eq!(text, expected);
}

#[test]
fn buf_starts_empty() {
    let mut out = [0u8; 4];
    let buf = Buf::new(&mut out);
    assert!(buf.is_empty());
    assert_eq!(buf.len(), 0);
    assert_eq!(buf.as_bytes(), b"");
    assert!(!buf.overflowed());
}

#[test]
fn buf_exact_fit_is_not_overflow() {
    let mut out = vec![0u8; HEADER.len()];
    let mut buf = Buf::new(&mut out);
    assert_eq!(write_header(&mut buf), Ok(()));
    assert!(!buf.overflowed());
    assert_eq!(buf.as_bytes(), HEADER);
    // Writing nothing into a full buffer is fine; writing one byte is not.
    assert_eq!(buf.put(b""), Ok(()));
    assert_eq!(buf.put(b"x"), Err(Overflow));
    assert!(buf.overflowed());
    assert_eq!(buf.as_bytes(), HEADER);
}

#[test]
fn buf_keeps_what_fits_and_stays_overflowed() {
    let mut out = [0u8; 8];
    let mut buf = Buf::new(&mut out);
    assert_eq!(buf.put(b"abc"), Ok(()));
    assert_eq!(buf.put(b"defghijk"), Err(Overflow));
    assert!(buf.overflowed());
    assert_eq!(buf.len(), 8);
    assert_eq!(buf.as_bytes(), b"abcdefgh");
    assert_eq!(buf.put(b""), Err(Overflow));
    assert_eq!(buf.put(b"z"), Err(Overflow));
    assert_eq!(buf.as_bytes(), b"abcdefgh");
}

#[test]
fn buf_of_zero_bytes() {
    let mut out = [0u8; 0];
    let mut buf = Buf::new(&mut out);
    assert_eq!(write_header(&mut buf), Err(Overflow));
    assert!(buf.overflowed());
    assert!(buf.is_empty());
}

#[test]
fn buf_reports_overflow_through_fmt_write() {
    let mut out = [0u8; 4];
    let mut buf = Buf::new(&mut out);
    assert!(write!(buf, "{}", 1234).is_ok());
    assert!(write!(buf, "{}", 5).is_err());
    assert!(buf.overflowed());
    assert_eq!(buf.as_bytes(), b"1234");
}

#[test]
fn every_short_buffer_overflows_with_a_prefix() {
    let r = row(-123_456, 789, Some(b"probe"));
    let full = render_row(&r);
    for size in 0..full.len() {
        let mut out = vec![0u8; size];
        let mut buf = Buf::new(&mut out);
        assert_eq!(write_row(&mut buf, &r), Err(Overflow), "size {size}");
        assert!(buf.overflowed());
        assert_eq!(buf.as_bytes(), &full[..size]);
    }
    let mut out = vec![0u8; full.len()];
    let mut buf = Buf::new(&mut out);
    assert_eq!(write_row(&mut buf, &r), Ok(()));
    assert_eq!(buf.as_bytes(), &full[..]);
}

#[test]
fn overflow_message() {
    assert_eq!(Overflow.to_string(), "buffer too small");
}

/// Parses a row back: `(bytes, calls, file, line, modname, function)`.
fn parse_row(text: &[u8]) -> (i64, u64, String, u32, Option<String>, String) {
    let text = std::str::from_utf8(text).unwrap();
    let text = text
        .strip_suffix(" \n")
        .expect("row ends with a space and a newline");
    let mut words = text.split(' ').filter(|w| !w.is_empty());
    let bytes = words.next().unwrap().parse().unwrap();
    let calls = words.next().unwrap().parse().unwrap();
    let (file, line) = words.next().unwrap().rsplit_once(':').unwrap();
    let mut next = words.next().unwrap();
    let modname = match next.strip_prefix('[').and_then(|m| m.strip_suffix(']')) {
        Some(m) => {
            next = words.next().unwrap();
            Some(m.to_string())
        }
        None => None,
    };
    let function = next.strip_prefix("func:").unwrap().to_string();
    assert_eq!(words.next(), None);
    (
        bytes,
        calls,
        file.to_string(),
        line.parse().unwrap(),
        modname,
        function,
    )
}

proptest! {
    #[test]
    fn row_parses_back(
        bytes: i64,
        calls: u64,
        file in "[a-z_/.-]{1,40}",
        line: u32,
        modname in proptest::option::of("[a-z0-9_]{1,20}"),
        function in "[a-z0-9_]{1,30}",
    ) {
        let r = Row {
            bytes,
            calls,
            tag: Tag {
                file: file.as_bytes(),
                line,
                modname: modname.as_deref().map(str::as_bytes),
                function: function.as_bytes(),
            },
        };
        let text = render_row(&r);
        prop_assert_eq!(parse_row(&text), (bytes, calls, file, line, modname, function));
    }

    #[test]
    fn counters_are_right_aligned_like_printf(bytes: i64, calls: u64) {
        let text = render_row(&row(bytes, calls, None));
        let (b, c) = (bytes.to_string(), calls.to_string());
        let mut expected = " ".repeat(12usize.saturating_sub(b.len())) + &b + " ";
        expected += &(" ".repeat(8usize.saturating_sub(c.len())) + &c + " ");
        prop_assert!(text.starts_with(expected.as_bytes()));
        prop_assert_eq!(&text[expected.len()..], b"mm/slub.c:4250 func:kmalloc_node \n");
    }

    #[test]
    fn small_buffers_hold_a_prefix(bytes: i64, calls: u64, size in 0usize..80) {
        let r = row(bytes, calls, Some(b"mod"));
        let full = render_row(&r);
        let mut out = vec![0u8; size];
        let mut buf = Buf::new(&mut out);
        let result = write_row(&mut buf, &r);
        prop_assert_eq!(result.is_err(), size < full.len());
        prop_assert_eq!(buf.overflowed(), size < full.len());
        prop_assert_eq!(buf.as_bytes(), &full[..size.min(full.len())]);
    }
}
