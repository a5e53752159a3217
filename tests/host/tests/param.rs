//! Tests of the `sysctl.vm.mem_profiling=` parser against the upstream grammar.

use alloc_tag_logic::param::{ignored_after_never, kstrtobool, parse, Mode, ParamError, Setting};
use proptest::prelude::*;

fn ok(mode: Mode, compressed: bool) -> Result<Setting, ParamError> {
    Ok(Setting { mode, compressed })
}

#[test]
fn plain_modes() {
    assert_eq!(parse(b"0"), ok(Mode::Off, false));
    assert_eq!(parse(b"1"), ok(Mode::On, false));
    assert_eq!(parse(b"never"), ok(Mode::Never, false));
}

#[test]
fn kstrtobool_spellings() {
    for s in ["1", "y", "Y", "t", "T", "on", "ON", "On", "oN"] {
        assert_eq!(parse(s.as_bytes()), ok(Mode::On, false), "{s}");
    }
    for s in ["0", "n", "N", "f", "F", "off", "OFF", "of", "oF", "Of"] {
        assert_eq!(parse(s.as_bytes()), ok(Mode::Off, false), "{s}");
    }
}

#[test]
fn kstrtobool_reads_only_the_first_bytes() {
    // kstrtobool() accepts these: only one or two bytes decide.
    for s in ["yes", "true", "1abc", "10", "onward", "t?"] {
        assert_eq!(parse(s.as_bytes()), ok(Mode::On, false), "{s}");
    }
    for s in ["no", "false", "0x1", "offset", "nope"] {
        assert_eq!(parse(s.as_bytes()), ok(Mode::Off, false), "{s}");
    }
    // `never` is only these five lower-case bytes, as strncmp() reads them;
    // other spellings are a kstrtobool() 'n', and "neve" is not never.
    assert_eq!(parse(b"NEVER"), ok(Mode::Off, false));
    assert_eq!(parse(b"Never"), ok(Mode::Off, false));
    assert_eq!(parse(b"neve"), ok(Mode::Off, false));
    assert_eq!(parse(b"neve,compressed"), ok(Mode::Off, true));
}

#[test]
fn compressed() {
    assert_eq!(parse(b"1,compressed"), ok(Mode::On, true));
    assert_eq!(parse(b"on,compressed"), ok(Mode::On, true));
    assert_eq!(parse(b"y,compressed"), ok(Mode::On, true));
    assert_eq!(parse(b"0,compressed"), ok(Mode::Off, true));
    assert_eq!(parse(b"off,compressed"), ok(Mode::Off, true));
}

#[test]
fn empty() {
    assert_eq!(parse(b""), Err(ParamError::Empty));
}

#[test]
fn bad_mode() {
    for s in [
        "2",
        "-1",
        " 1",
        "o",
        "O",
        "ox",
        "o,compressed",
        ",",
        ",compressed",
        "\0",
        "\0\x31",
        "x",
        "compressed",
    ] {
        assert_eq!(parse(s.as_bytes()), Err(ParamError::BadMode), "{s:?}");
    }
    assert_eq!(parse(&[0xff]), Err(ParamError::BadMode));
}

#[test]
fn bad_option() {
    for s in [
        "1,",
        "1,,",
        "1,bogus",
        "1,Compressed",
        "1,COMPRESSED",
        "1,compress",
        "1,compressedx",
        "1,compressed ",
        "1, compressed",
        "1,compressed,",
        "1,compressed,compressed",
        "1,compressed\0",
        "0,never",
        "1,never",
    ] {
        assert_eq!(parse(s.as_bytes()), Err(ParamError::BadOption), "{s:?}");
    }
}

#[test]
fn whatever_follows_never_is_never() {
    // Fails closed: 6.12 and upstream read never from the first five bytes.
    for s in [
        "never,",
        "never,compressed",
        "never,bogus",
        "never,,",
        "nevermore",
        "nevermore,compressed",
        "never0",
        "never1",
        "never\0",
    ] {
        assert_eq!(parse(s.as_bytes()), ok(Mode::Never, false), "{s:?}");
        assert_eq!(
            ignored_after_never(s.as_bytes()),
            Some(&s.as_bytes()[5..]),
            "{s:?}"
        );
    }
    assert_eq!(parse(b"never"), ok(Mode::Never, false));
    assert_eq!(ignored_after_never(b"never"), None);
    assert_eq!(ignored_after_never(b"nevre"), None);
    assert_eq!(ignored_after_never(b""), None);
}

#[test]
fn long_values() {
    let mut v = b"1,".to_vec();
    v.extend(b"compressed".repeat(10_000));
    assert_eq!(parse(&v), Err(ParamError::BadOption));

    assert_eq!(parse(&vec![b'x'; 100_000]), Err(ParamError::BadMode));
    assert_eq!(parse(&vec![b','; 100_000]), Err(ParamError::BadMode));

    let mut v = b"1".to_vec();
    v.extend(vec![b'z'; 100_000]);
    assert_eq!(parse(&v), ok(Mode::On, false));
    v.extend(b",compressed");
    assert_eq!(parse(&v), ok(Mode::On, true));
}

#[test]
fn messages() {
    assert_eq!(ParamError::Empty.to_string(), "empty value");
    assert_eq!(ParamError::BadMode.to_string(), "expected 0, 1 or never");
    assert_eq!(
        ParamError::BadOption.to_string(),
        "unknown option after ',': only 'compressed' is accepted"
    );
    for e in [
        ParamError::Empty,
        ParamError::BadMode,
        ParamError::BadOption,
    ] {
        assert_eq!(e.as_str(), e.to_string());
    }
}

#[test]
fn setting_helpers() {
    let s = |mode| Setting {
        mode,
        compressed: false,
    };
    assert!(s(Mode::On).enabled());
    assert!(!s(Mode::Off).enabled());
    assert!(!s(Mode::Never).enabled());
    assert!(s(Mode::Never).permanently_disabled());
    assert!(!s(Mode::Off).permanently_disabled());
    assert!(!s(Mode::On).permanently_disabled());
}

#[test]
fn kstrtobool_matches_c_for_every_two_byte_prefix() {
    // Written from the table in the comment above kstrtobool().
    for a in 0..=255u8 {
        for b in 0..=255u8 {
            let expected = match (a, b) {
                (b'Y' | b'y' | b'T' | b't' | b'1', _) => Some(true),
                (b'N' | b'n' | b'F' | b'f' | b'0', _) => Some(false),
                (b'O' | b'o', b'N' | b'n') => Some(true),
                (b'O' | b'o', b'F' | b'f') => Some(false),
                _ => None,
            };
            assert_eq!(kstrtobool(&[a, b]), expected, "{a:#x} {b:#x}");
            assert_eq!(kstrtobool(&[a, b, b'x']), expected);
        }
        let alone = match a {
            b'Y' | b'y' | b'T' | b't' | b'1' => Some(true),
            b'N' | b'n' | b'F' | b'f' | b'0' => Some(false),
            _ => None,
        };
        assert_eq!(kstrtobool(&[a]), alone);
    }
    assert_eq!(kstrtobool(b""), None);
}

/// The grammar written a second way: every accepted value is one of these.
fn model(v: &[u8]) -> Result<Setting, ParamError> {
    let s = match std::str::from_utf8(v) {
        Ok(s) => s,
        // Any non-ASCII byte can only sit in the ignored tail of the mode.
        Err(_) => return model_bytes(v),
    };
    if s.is_empty() {
        return Err(ParamError::Empty);
    }
    if s.starts_with("never") {
        return ok(Mode::Never, false);
    }
    let (first, option) = match s.split_once(',') {
        Some((f, o)) => (f, Some(o)),
        None => (s, None),
    };
    let mode = match first {
        _ if first.starts_with(['y', 'Y', 't', 'T', '1']) => Mode::On,
        _ if first.starts_with(['n', 'N', 'f', 'F', '0']) => Mode::Off,
        _ if first.to_ascii_lowercase().starts_with("on") => Mode::On,
        _ if first.to_ascii_lowercase().starts_with("of") => Mode::Off,
        _ => return Err(ParamError::BadMode),
    };
    match option {
        None => ok(mode, false),
        Some("compressed") => ok(mode, true),
        Some(_) => Err(ParamError::BadOption),
    }
}

fn model_bytes(v: &[u8]) -> Result<Setting, ParamError> {
    // Replace non-ASCII bytes by a byte that plays the same role ('?').
    let ascii: Vec<u8> = v
        .iter()
        .map(|&b| if b.is_ascii() { b } else { b'?' })
        .collect();
    model(&ascii)
}

/// Values built from pieces of the grammar, so near misses are common.
fn near_miss() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"0".to_vec()),
        Just(b"1".to_vec()),
        Just(b"never".to_vec()),
        Just(b"on".to_vec()),
        Just(b"off".to_vec()),
        Just(b"o".to_vec()),
        Just(b",".to_vec()),
        Just(b"compressed".to_vec()),
        Just(b"compresse".to_vec()),
        Just(b"d".to_vec()),
        Just(b"N".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\0".to_vec()),
        any::<u8>().prop_map(|b| vec![b]),
    ];
    prop::collection::vec(piece, 0..6).prop_map(|p| p.concat())
}

proptest! {
    #[test]
    fn agrees_with_model(v in near_miss()) {
        prop_assert_eq!(parse(&v), model(&v));
    }

    #[test]
    fn agrees_with_model_on_any_bytes(v in prop::collection::vec(any::<u8>(), 0..32)) {
        prop_assert_eq!(parse(&v), model(&v));
    }

    #[test]
    fn canonical_spelling_round_trips(mode in prop_oneof![
        Just(Mode::Never), Just(Mode::Off), Just(Mode::On)
    ], compressed: bool) {
        let word = match mode {
            Mode::Never => "never",
            Mode::Off => "0",
            Mode::On => "1",
        };
        let v = if compressed { format!("{word},compressed") } else { word.to_string() };
        let expected = ok(mode, compressed && mode != Mode::Never);
        prop_assert_eq!(parse(v.as_bytes()), expected);
    }

    #[test]
    fn accepted_values_have_an_accepted_shape(v in near_miss()) {
        // Whatever is accepted is never and anything, or a mode, then
        // nothing or exactly ",compressed".
        if let Ok(setting) = parse(&v) {
            if setting.mode == Mode::Never {
                prop_assert!(v.starts_with(b"never"));
                prop_assert!(!setting.compressed);
            } else {
                let option = v.iter().position(|&b| b == b',').map(|c| &v[c..]);
                prop_assert_eq!(option.is_some(), setting.compressed);
                if let Some(option) = option {
                    prop_assert_eq!(option, b",compressed");
                }
            }
        }
        // Never is never, whatever follows it.
        if v.starts_with(b"never") {
            prop_assert_eq!(parse(&v).map(|s| s.mode), Ok(Mode::Never));
        }
    }
}

mod module_tags {
    use alloc_tag_logic::param::{parse_module_tags, MAX_MODULE_TAGS};
    use proptest::prelude::*;

    #[test]
    fn bounds_and_junk() {
        assert_eq!(parse_module_tags(b"0"), Some(0));
        assert_eq!(parse_module_tags(b"007"), Some(7));
        assert_eq!(parse_module_tags(b"1000000"), Some(MAX_MODULE_TAGS));
        for bad in [
            &b""[..],
            b"1000001",
            b"+5",
            b"5k",
            b" 5",
            b"5 ",
            b"0x10",
            b"99999999999999999999999",
        ] {
            assert_eq!(
                parse_module_tags(bad),
                None,
                "{:?}",
                core::str::from_utf8(bad)
            );
        }
    }

    proptest! {
        #[test]
        fn decimal_round_trip(n in 0usize..=2 * MAX_MODULE_TAGS) {
            let text = n.to_string();
            let want = (n <= MAX_MODULE_TAGS).then_some(n);
            prop_assert_eq!(parse_module_tags(text.as_bytes()), want);
        }

        #[test]
        fn anything_not_decimal_is_refused(s in "[0-9]*[^0-9][ -~]*") {
            prop_assert_eq!(parse_module_tags(s.as_bytes()), None);
        }
    }
}
