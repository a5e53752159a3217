//! Tests of the ioctl filters of `/proc/allocinfo` (`lib/alloc_tag_rs/filter.rs`)
//! against upstream's semantics: names compared by their last 63 bytes,
//! the kernel image asked for with an empty module name, sizes inclusive.

use alloc_tag_logic::filter::*;
use proptest::prelude::*;

fn field(s: &[u8]) -> [u8; STR_SIZE] {
    let mut f = [0u8; STR_SIZE];
    copy_name(&mut f, s);
    f
}

fn none() -> Filter {
    Filter {
        mask: 0,
        modname: [0; STR_SIZE],
        function: [0; STR_SIZE],
        filename: [0; STR_SIZE],
        lineno: 0,
        inaccurate: 0,
        min_size: 0,
        max_size: 0,
    }
}

const SITE: Site<'static> = Site {
    modname: Some(b"alloc_demo"),
    function: b"alloc_demo_init",
    filename: b"drivers/demo/alloc_demo.c",
    lineno: 20,
    accurate: true,
};

const KERNEL: Site<'static> = Site {
    modname: None,
    function: b"kstrdup",
    filename: b"mm/util.c",
    lineno: 64,
    accurate: true,
};

#[test]
fn names_are_given_and_compared_by_suffix() {
    let long: Vec<u8> = (0..100u8).map(|i| b'a' + i % 26).collect();
    assert_eq!(suffix(&long), &long[37..]);
    assert_eq!(suffix(&long).len(), STR_SIZE - 1);
    assert_eq!(suffix(b"short"), b"short");
    let f = field(&long);
    assert_eq!(&f[..63], &long[37..]);
    assert_eq!(f[63], 0);
    assert!(name_matches(&f, &long));
    // Another name with the same last 63 bytes matches too (upstream's
    // trade-off); one byte different in the suffix does not.
    let mut other = long.clone();
    other[0] = b'Z';
    assert!(name_matches(&f, &other));
    let mut last = long.clone();
    last[99] = b'Z';
    assert!(!name_matches(&f, &last));
    // A field without a NUL matches nothing.
    assert!(!name_matches(&[b'x'; STR_SIZE], &[b'x'; STR_SIZE]));
    // Exactly 63 bytes fit whole.
    let n63 = [b'q'; 63];
    assert_eq!(suffix(&n63), &n63[..]);
}

#[test]
fn each_criterion() {
    let zero = || 0u64;
    assert!(none().matches(&SITE, zero));
    let by = |mask: u64, edit: &dyn Fn(&mut Filter)| {
        let mut f = none();
        f.mask = mask;
        edit(&mut f);
        f
    };
    let m = by(MASK_MODNAME, &|f| f.modname = field(b"alloc_demo"));
    assert!(m.matches(&SITE, zero) && !m.matches(&KERNEL, zero));
    let k = by(MASK_MODNAME, &|_| {});
    assert!(k.matches(&KERNEL, zero) && !k.matches(&SITE, zero));
    let func = by(MASK_FUNCTION, &|f| f.function = field(b"kstrdup"));
    assert!(func.matches(&KERNEL, zero) && !func.matches(&SITE, zero));
    let file = by(MASK_FILENAME, &|f| {
        f.filename = field(b"drivers/demo/alloc_demo.c")
    });
    assert!(file.matches(&SITE, zero) && !file.matches(&KERNEL, zero));
    let line = by(MASK_LINENO, &|f| f.lineno = 64);
    assert!(line.matches(&KERNEL, zero) && !line.matches(&SITE, zero));
    let inacc = by(MASK_INACCURATE, &|f| f.inaccurate = 1);
    let acc = by(MASK_INACCURATE, &|f| f.inaccurate = 0);
    let inaccurate = Site {
        accurate: false,
        ..KERNEL
    };
    assert!(inacc.matches(&inaccurate, zero) && !inacc.matches(&KERNEL, zero));
    assert!(acc.matches(&KERNEL, zero) && !acc.matches(&inaccurate, zero));
    let sizes = by(MASK_MIN_SIZE | MASK_MAX_SIZE, &|f| {
        f.min_size = 4096;
        f.max_size = 8192;
    });
    for (b, want) in [(4095, false), (4096, true), (8192, true), (8193, false)] {
        assert_eq!(sizes.matches(&SITE, || b), want, "{b}");
    }
    // Every criterion at once.
    let all = by(
        MASK_MODNAME | MASK_FUNCTION | MASK_FILENAME | MASK_LINENO | MASK_MIN_SIZE,
        &|f| {
            f.modname = field(b"alloc_demo");
            f.function = field(b"alloc_demo_init");
            f.filename = field(b"drivers/demo/alloc_demo.c");
            f.lineno = 20;
            f.min_size = 1;
        },
    );
    assert!(all.matches(&SITE, || 16384));
    assert!(!all.matches(&SITE, || 0));
}

#[test]
fn sizes_are_read_only_when_asked_for() {
    let mut f = none();
    f.mask = MASK_LINENO;
    f.lineno = 20;
    assert!(f.matches(&SITE, || panic!("bytes read for a line filter")));
}

#[test]
fn validation() {
    let mut f = none();
    assert_eq!(f.validate(), Ok(()));
    f.mask = MASKS;
    f.max_size = u64::MAX;
    assert_eq!(f.validate(), Ok(()));
    f.mask = 1 << 7;
    assert_eq!(f.validate(), Err(Invalid::UnknownCriterion));
    f.mask = MASK_MIN_SIZE | MASK_MAX_SIZE;
    f.min_size = 2;
    f.max_size = 1;
    assert_eq!(f.validate(), Err(Invalid::EmptySizeRange));
    // One bound alone is never an empty range.
    f.mask = MASK_MIN_SIZE;
    assert_eq!(f.validate(), Ok(()));
}

proptest! {
    #[test]
    fn a_name_always_matches_its_own_field(name in proptest::collection::vec(1u8..=255, 0..200)) {
        prop_assert!(name_matches(&field(&name), &name));
    }
}
