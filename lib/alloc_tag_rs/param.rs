// SPDX-License-Identifier: GPL-2.0

//! Parsing of the `sysctl.vm.mem_profiling=` boot parameter.
//!
//! Mirrors `setup_early_mem_profiling()` in `srctree/lib/alloc_tag.c`, with the
//! grammar later kernels accept: `{0|1|never}[,compressed]`.
//!
//! - A value that starts with `never` means never, whatever follows (6.12 and
//!   upstream compare only those five bytes): `nevermore` and
//!   `never,compressed` disable profiling for good. A user who says never
//!   must never get profiling, so this reading fails closed; what follows is
//!   reported as ignored ([`Setting::ignored`]).
//! - Otherwise the first token (up to the first comma) is read like
//!   `kstrtobool()` in `srctree/lib/kstrtox.c`, which only looks at its first
//!   one or two bytes, and after a comma only `compressed` is accepted.

use core::fmt;

/// Whether allocation profiling runs, and whether it can ever run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Profiling is disabled for good: no `page_ext` space, read-only sysctl.
    Never,
    /// Profiling is supported but starts disabled.
    Off,
    /// Profiling is supported and starts enabled.
    On,
}

/// The setting requested by a valid `sysctl.vm.mem_profiling=` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setting {
    /// Whether profiling runs and whether it can be turned on later.
    pub mode: Mode,
    /// Whether `,compressed` asked for tag references in page flags.
    pub compressed: bool,
}

/// The prefix that means [`Mode::Never`].
const NEVER: &[u8] = b"never";

/// What comes after `never` in a value that starts with it, to report as
/// ignored: `None` for other values, and for `never` itself.
///
/// ```
/// # use alloc_tag_logic::param::ignored_after_never;
/// assert_eq!(ignored_after_never(b"never,compressed"), Some(&b",compressed"[..]));
/// assert_eq!(ignored_after_never(b"nevermore"), Some(&b"more"[..]));
/// assert_eq!(ignored_after_never(b"never"), None);
/// assert_eq!(ignored_after_never(b"1,compressed"), None);
/// ```
pub fn ignored_after_never(value: &[u8]) -> Option<&[u8]> {
    value.strip_prefix(NEVER).filter(|rest| !rest.is_empty())
}

impl Setting {
    /// Returns whether profiling starts enabled.
    pub fn enabled(&self) -> bool {
        self.mode == Mode::On
    }

    /// Returns whether profiling can never be enabled (`never`).
    pub fn permanently_disabled(&self) -> bool {
        self.mode == Mode::Never
    }
}

/// Why a `sysctl.vm.mem_profiling=` value was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamError {
    /// The value is empty.
    Empty,
    /// The first token is neither `never` nor a boolean.
    BadMode,
    /// Something other than exactly `compressed` follows the comma.
    BadOption,
}

impl ParamError {
    /// Returns a message that explains the error to the user.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Empty => "empty value",
            Self::BadMode => "expected 0, 1 or never",
            Self::BadOption => "unknown option after ',': only 'compressed' is accepted",
        }
    }
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Reads a boolean the way `kstrtobool()` does.
///
/// Only the first byte matters (`y`, `t`, `1` for true, `n`, `f`, `0` for
/// false, in either case), or the first two for `on` and `of[f]`, so `yes`,
/// `1x` and `offset` are all accepted. Returns [`None`] for anything else.
pub fn kstrtobool(s: &[u8]) -> Option<bool> {
    match s {
        [b'y' | b'Y' | b't' | b'T' | b'1', ..] => Some(true),
        [b'n' | b'N' | b'f' | b'F' | b'0', ..] => Some(false),
        [b'o' | b'O', b'n' | b'N', ..] => Some(true),
        [b'o' | b'O', b'f' | b'F', ..] => Some(false),
        _ => None,
    }
}

/// Parses the value of `sysctl.vm.mem_profiling=`, given without its NUL.
///
/// # Examples
///
/// ```
/// # use alloc_tag_logic::param::{parse, Mode, ParamError, Setting};
/// let on = parse(b"1,compressed");
/// assert_eq!(on, Ok(Setting { mode: Mode::On, compressed: true }));
/// let never = Ok(Setting { mode: Mode::Never, compressed: false });
/// assert_eq!(parse(b"never,compressed"), never);
/// assert_eq!(parse(b"1,bogus"), Err(ParamError::BadOption));
/// ```
pub fn parse(value: &[u8]) -> Result<Setting, ParamError> {
    if value.is_empty() {
        return Err(ParamError::Empty);
    }
    // Nothing stored for never: `,compressed` after it means nothing.
    if value.starts_with(NEVER) {
        return Ok(Setting {
            mode: Mode::Never,
            compressed: false,
        });
    }

    // Only the first comma separates; a second one is part of the option.
    let mut tokens = value.splitn(2, |&b| b == b',');
    let first = tokens.next().unwrap_or_default();
    let option = tokens.next();

    let mode = match kstrtobool(first) {
        Some(true) => Mode::On,
        Some(false) => Mode::Off,
        None => return Err(ParamError::BadMode),
    };

    let compressed = match option {
        None => false,
        Some(b"compressed") => true,
        Some(_) => return Err(ParamError::BadOption),
    };

    Ok(Setting { mode, compressed })
}

/// Most tags `alloc_tag.module_tags=` may ask for: 40 MB of module address
/// space on 64-bit.
pub const MAX_MODULE_TAGS: usize = 1_000_000;

/// Parses `alloc_tag.module_tags=`: the capacity of the module tag area, in
/// tags, a decimal number from 0 (no area) to [`MAX_MODULE_TAGS`].
///
/// ```
/// # use alloc_tag_logic::param::{parse_module_tags, MAX_MODULE_TAGS};
/// assert_eq!(parse_module_tags(b"100000"), Some(100_000));
/// assert_eq!(parse_module_tags(b"0"), Some(0));
/// assert_eq!(parse_module_tags(b"1000001"), None);
/// assert_eq!(parse_module_tags(b"-1"), None);
/// assert_eq!(parse_module_tags(b""), None);
/// ```
pub fn parse_module_tags(value: &[u8]) -> Option<usize> {
    parse_number(value, MAX_MODULE_TAGS)
}

/// Parses `alloc_tag.compressed_bits=` (debugging kernels only): how many of
/// the free bits of `page->flags` compressed mode may use, from 1 to 64.
///
/// ```
/// # use alloc_tag_logic::param::parse_compressed_bits;
/// assert_eq!(parse_compressed_bits(b"4"), Some(4));
/// assert_eq!(parse_compressed_bits(b"64"), Some(64));
/// assert_eq!(parse_compressed_bits(b"0"), None);
/// assert_eq!(parse_compressed_bits(b"65"), None);
/// assert_eq!(parse_compressed_bits(b"4k"), None);
/// ```
pub fn parse_compressed_bits(value: &[u8]) -> Option<u32> {
    parse_number(value, 64).filter(|&n| n > 0).map(|n| n as u32)
}

/// A decimal number from 0 to `max`, digits only.
fn parse_number(value: &[u8], max: usize) -> Option<usize> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    value
        .iter()
        .try_fold(0usize, |n, &d| {
            n.checked_mul(10)?.checked_add(usize::from(d - b'0'))
        })
        .filter(|&n| n <= max)
}
