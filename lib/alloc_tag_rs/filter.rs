// SPDX-License-Identifier: GPL-2.0

//! Which tags a filter of `/proc/allocinfo`'s ioctls matches
//! (`struct allocinfo_filter`), and how names are given and compared there:
//! by their last [`STR_SIZE`] - 1 bytes, where file, function and module
//! names differ most.
//!
//! Free of kernel types, so that it is tested on the host.

/// `ALLOCINFO_STR_SIZE`: the size of a name field, with its NUL.
pub const STR_SIZE: usize = 64;

/// `ALLOCINFO_FILTER_MASK_MODNAME`.
pub const MASK_MODNAME: u64 = 1 << 0;
/// `ALLOCINFO_FILTER_MASK_FUNCTION`.
pub const MASK_FUNCTION: u64 = 1 << 1;
/// `ALLOCINFO_FILTER_MASK_FILENAME`.
pub const MASK_FILENAME: u64 = 1 << 2;
/// `ALLOCINFO_FILTER_MASK_LINENO`.
pub const MASK_LINENO: u64 = 1 << 3;
/// `ALLOCINFO_FILTER_MASK_INACCURATE`.
pub const MASK_INACCURATE: u64 = 1 << 4;
/// `ALLOCINFO_FILTER_MASK_MIN_SIZE`.
pub const MASK_MIN_SIZE: u64 = 1 << 5;
/// `ALLOCINFO_FILTER_MASK_MAX_SIZE`.
pub const MASK_MAX_SIZE: u64 = 1 << 6;
/// `ALLOCINFO_FILTER_MASKS`: every criterion there is.
pub const MASKS: u64 = (1 << 7) - 1;

/// The part of `name` the ioctls give and compare: all of it if it fits a
/// field with its NUL, else its last `STR_SIZE - 1` bytes.
pub fn suffix(name: &[u8]) -> &[u8] {
    name.get(name.len().saturating_sub(STR_SIZE - 1)..)
        .unwrap_or(name)
}

/// Writes `name` into a name field: its [`suffix`], NUL-padded.
pub fn copy_name(field: &mut [u8; STR_SIZE], name: &[u8]) {
    let s = suffix(name);
    field.fill(0);
    for (d, &c) in field.iter_mut().zip(s) {
        *d = c;
    }
}

/// Whether the name field `field` (from user space: NUL-terminated, or
/// not at all) asks for `name`, compared by suffix as `strncmp()` over
/// [`STR_SIZE`] bytes would.
pub fn name_matches(field: &[u8; STR_SIZE], name: &[u8]) -> bool {
    // Without a NUL in the field, no suffix (at most STR_SIZE - 1 bytes)
    // can equal it.
    match field.iter().position(|&c| c == 0) {
        Some(len) => field.get(..len) == Some(suffix(name)),
        None => false,
    }
}

/// Why a filter is refused (`EINVAL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invalid {
    /// A bit of the mask that names no criterion.
    UnknownCriterion,
    /// A minimum size above the maximum.
    EmptySizeRange,
}

/// A filter, as user space gave it.
#[derive(Clone, Copy, Debug)]
pub struct Filter {
    /// Which criteria apply (`MASK_*`); 0 matches every tag.
    pub mask: u64,
    /// The module name (empty: the kernel image).
    pub modname: [u8; STR_SIZE],
    /// The function name.
    pub function: [u8; STR_SIZE],
    /// The file name.
    pub filename: [u8; STR_SIZE],
    /// The line.
    pub lineno: u64,
    /// Nonzero: only inaccurate tags; zero: only accurate ones.
    pub inaccurate: u64,
    /// The least bytes a tag may have.
    pub min_size: u64,
    /// The most bytes a tag may have.
    pub max_size: u64,
}

/// What a filter looks at in a tag (its bytes are asked for only if a
/// size criterion needs them).
#[derive(Clone, Copy, Debug)]
pub struct Site<'a> {
    /// The module, `None` for the kernel image.
    pub modname: Option<&'a [u8]>,
    /// The function.
    pub function: &'a [u8],
    /// The file.
    pub filename: &'a [u8],
    /// The line.
    pub lineno: u32,
    /// Whether the tag's counters missed nothing.
    pub accurate: bool,
}

impl Filter {
    /// Checks the filter as `ALLOCINFO_IOC_GET_AT` does before using it.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.mask & !MASKS != 0 {
            return Err(Invalid::UnknownCriterion);
        }
        let sizes = MASK_MIN_SIZE | MASK_MAX_SIZE;
        if self.mask & sizes == sizes && self.min_size > self.max_size {
            return Err(Invalid::EmptySizeRange);
        }
        Ok(())
    }

    /// Whether the tag at `site`, with `bytes()` bytes, meets every
    /// criterion of the mask.
    pub fn matches(&self, site: &Site<'_>, bytes: impl FnOnce() -> u64) -> bool {
        let has = |bit: u64| self.mask & bit != 0;
        if has(MASK_MODNAME) {
            let ok = match site.modname {
                Some(m) => name_matches(&self.modname, m),
                // The kernel image: asked for with an empty name.
                None => self.modname[0] == 0,
            };
            if !ok {
                return false;
            }
        }
        if has(MASK_FUNCTION) && !name_matches(&self.function, site.function) {
            return false;
        }
        if has(MASK_FILENAME) && !name_matches(&self.filename, site.filename) {
            return false;
        }
        if has(MASK_LINENO) && self.lineno != u64::from(site.lineno) {
            return false;
        }
        if has(MASK_INACCURATE) && (self.inaccurate != 0) == site.accurate {
            return false;
        }
        if has(MASK_MIN_SIZE) || has(MASK_MAX_SIZE) {
            let b = bytes();
            if (has(MASK_MIN_SIZE) && b < self.min_size)
                || (has(MASK_MAX_SIZE) && b > self.max_size)
            {
                return false;
            }
        }
        true
    }
}
