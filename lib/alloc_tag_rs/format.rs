// SPDX-License-Identifier: GPL-2.0

//! Text of `/proc/allocinfo` and of a code tag.
//!
//! Mirrors `print_allocinfo_header()` and `alloc_tag_to_text()` in
//! `srctree/lib/alloc_tag.c` and `codetag_to_text()` in `srctree/lib/codetag.c`,
//! byte for byte, including the space that ends every row.

use core::fmt::{self, Write};

/// The error returned when a [`Buf`] runs out of space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overflow;

impl fmt::Display for Overflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("buffer too small")
    }
}

/// A writer that fills a byte buffer and remembers when it ran out of space.
///
/// Like `struct seq_buf`, a write that does not fit stores the bytes that fit,
/// marks the buffer as overflowed and fails; once overflowed, every later write
/// fails too, so the caller checks once at the end and retries with a bigger
/// buffer. The text is not NUL-terminated.
///
/// # Invariants
///
/// `len <= bytes.len()`, and `bytes[..len]` holds everything written so far.
pub struct Buf<'a> {
    bytes: &'a mut [u8],
    len: usize,
    overflowed: bool,
}

impl<'a> Buf<'a> {
    /// Creates an empty writer over `bytes`.
    pub fn new(bytes: &'a mut [u8]) -> Self {
        // INVARIANT: Nothing is written yet.
        Self {
            bytes,
            len: 0,
            overflowed: false,
        }
    }

    /// Returns the number of bytes written.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Returns whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Returns whether a write did not fit.
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// Returns the bytes written.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }

    /// Appends `data`, or as much of it as fits.
    pub fn put(&mut self, data: &[u8]) -> Result<(), Overflow> {
        if self.overflowed {
            return Err(Overflow);
        }
        let free = self.bytes.get_mut(self.len..).unwrap_or_default();
        let n = data.len().min(free.len());
        free.iter_mut().zip(data).for_each(|(dst, src)| *dst = *src);
        // INVARIANT: The `n` bytes after the old `len` were just filled.
        self.len += n;
        if n < data.len() {
            self.overflowed = true;
            return Err(Overflow);
        }
        Ok(())
    }
}

impl Write for Buf<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.put(s.as_bytes()).map_err(|_| fmt::Error)
    }
}

/// The location a code tag names, with strings as the C side stores them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tag<'a> {
    /// Source file of the allocation site.
    pub file: &'a [u8],
    /// Line of the allocation site.
    pub line: u32,
    /// Name of the module the site belongs to, [`None`] for built-in code.
    pub modname: Option<&'a [u8]>,
    /// Function that contains the allocation site.
    pub function: &'a [u8],
}

/// One row of `/proc/allocinfo`: a tag and its counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row<'a> {
    /// Bytes currently allocated; negative if frees were over-counted.
    pub bytes: i64,
    /// Allocations currently live.
    pub calls: u64,
    /// The allocation site.
    pub tag: Tag<'a>,
}

/// Writes the two header lines that start `/proc/allocinfo`.
pub fn write_header(buf: &mut Buf<'_>) -> Result<(), Overflow> {
    buf.put(b"allocinfo - version: 1.0\n#     <size>  <calls> <tag info>\n")
}

/// Writes `file:line [modname] func:function`, as `codetag_to_text()` does.
///
/// The ` [modname]` part is left out for built-in code.
pub fn write_tag(buf: &mut Buf<'_>, tag: &Tag<'_>) -> Result<(), Overflow> {
    buf.put(tag.file)?;
    write!(buf, ":{}", tag.line).map_err(|_| Overflow)?;
    if let Some(modname) = tag.modname {
        buf.put(b" [")?;
        buf.put(modname)?;
        buf.put(b"]")?;
    }
    buf.put(b" func:")?;
    buf.put(tag.function)
}

/// Writes one row of `/proc/allocinfo`, ending with a space and a newline.
///
/// # Examples
///
/// ```
/// # use alloc_tag_logic::format::{write_row, Buf, Row, Tag};
/// let mut out = [0u8; 64];
/// let mut buf = Buf::new(&mut out);
/// let tag = Tag { file: b"mm/slub.c", line: 7, modname: None, function: b"f" };
/// write_row(&mut buf, &Row { bytes: 4096, calls: 1, tag }).unwrap();
/// assert_eq!(buf.as_bytes(), b"        4096        1 mm/slub.c:7 func:f \n");
/// ```
pub fn write_row(buf: &mut Buf<'_>, row: &Row<'_>) -> Result<(), Overflow> {
    write!(buf, "{:12} {:8} ", row.bytes, row.calls).map_err(|_| Overflow)?;
    write_tag(buf, &row.tag)?;
    buf.put(b" \n")
}
