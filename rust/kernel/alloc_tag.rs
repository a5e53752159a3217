// SPDX-License-Identifier: GPL-2.0

//! Memory allocation profiling: code tags, allocation tags and their counters.
//!
//! C headers: [`include/linux/codetag.h`](srctree/include/linux/codetag.h) and
//! [`include/linux/alloc_tag.h`](srctree/include/linux/alloc_tag.h).
//!
//! # Examples
//!
//! The C ABI that `lib/alloc_tag_rs/` exports, seen from Rust: the largest
//! users first, ties in tag order, as many as asked and no more than exist.
//!
//! ```
//! use kernel::{alloc::{flags::GFP_KERNEL, KVec}, bindings};
//!
//! let empty = bindings::codetag_bytes { ct: core::ptr::null_mut(), bytes: 0 };
//! let mut top = KVec::from_elem(empty, 4096, GFP_KERNEL)?;
//! // SAFETY: `top` has room for the count given.
//! let n = unsafe { bindings::alloc_tag_top_users(top.as_mut_ptr(), top.len(), true) };
//! // All the tags, fewer than asked for.
//! assert!(n > 100 && n < top.len());
//! let top = &top[..n];
//! assert!(top.windows(2).all(|w| w[0].bytes >= w[1].bytes));
//! assert!(top[0].bytes > 0 && top[n - 1].bytes == 0);
//!
//! // Asking for fewer gives the same head; asking for none gives nothing.
//! let mut three = [empty; 3];
//! // SAFETY: `three` has room for 3 entries.
//! assert_eq!(unsafe { bindings::alloc_tag_top_users(three.as_mut_ptr(), 3, false) }, 3);
//! assert!(three.iter().zip(top).all(|(a, b)| a.bytes >= b.bytes || a.ct == b.ct));
//! // SAFETY: A zero count writes nothing.
//! assert_eq!(unsafe { bindings::alloc_tag_top_users(three.as_mut_ptr(), 0, true) }, 0);
//!
//! // Among equal counts the earlier tag comes first: no module is loaded
//! // yet, so tag order is address order in the kernel's section.
//! let zeros = top.iter().filter(|t| t.bytes == 0).map(|t| t.ct as usize);
//! assert!(zeros.clone().count() > 1);
//! assert!(zeros.clone().zip(zeros.skip(1)).all(|(a, b)| a < b));
//!
//! // codetag_to_text() writes `file:line func:name`, NUL-terminated, and
//! // marks a buffer that is too small as overflowed.
//! // SAFETY: `top[0].ct` is a live allocation tag's code tag.
//! let ct = unsafe { codetag::CodeTag::from_raw(top[0].ct) };
//! let mut text = [0u8; 256];
//! let mut sb = bindings::seq_buf { buffer: text.as_mut_ptr().cast(), size: 256, len: 0 };
//! // SAFETY: `sb` describes `text`; the tag is valid.
//! unsafe { bindings::codetag_to_text(&mut sb, top[0].ct) };
//! let want = kernel::str::CString::try_from_fmt(kernel::fmt!(
//!     "{}:{} func:{}",
//!     ct.filename(),
//!     ct.lineno(),
//!     ct.function()
//! ))?;
//! assert_eq!(&text[..sb.len], want.as_bytes());
//! assert_eq!(text[sb.len], 0);
//! let mut small = bindings::seq_buf { buffer: text.as_mut_ptr().cast(), size: 8, len: 0 };
//! // SAFETY: As above, with 8 bytes.
//! unsafe { bindings::codetag_to_text(&mut small, top[0].ct) };
//! assert_eq!(small.len, small.size);
//! # use kernel::alloc_tag::codetag;
//! # Ok::<(), Error>(())
//! ```

pub mod area;
pub mod boot_param;
pub mod codetag;
pub mod maple_tree;
pub mod pgtag;
pub mod published;
pub mod rwsem;
pub mod seq_file;
pub mod site;
pub mod static_key;
pub mod sysctl;
mod tag;
pub mod uapi;

pub use tag::{Counters, SizeText, Tag};

/// A C object that Rust defines (a `#[no_mangle]` static) and only C code
/// reads or writes after it is built: a `page_ext_operations` whose
/// `offset` page_ext fills in, a per-CPU counter pair.
#[repr(transparent)]
pub struct Shared<T>(crate::types::Opaque<T>);

// SAFETY: Rust never reads or writes the inner object after building it
// (there is no accessor); only C does, with its own synchronisation.
unsafe impl<T> Sync for Shared<T> {}

impl<T> Shared<T> {
    /// The object, for C.
    pub const fn new(value: T) -> Self {
        Self(crate::types::Opaque::new(value))
    }
}

/// Prints a line at `KERN_NOTICE` with no prefix, like C's `pr_notice()`
/// in a file without `pr_fmt()` (`show_mem()`'s rows); `pr_notice!` would
/// put the object's name in front.
pub fn notice_unprefixed(args: core::fmt::Arguments<'_>) {
    // SAFETY: The format is NUL-terminated and takes one `%pA`, which
    // `vsprintf` reads as a `core::fmt::Arguments`.
    unsafe {
        bindings::_printk(
            crate::c_str!("\x015%pA").as_char_ptr(),
            core::ptr::from_ref(&args).cast::<core::ffi::c_void>(),
        )
    };
}

/// Exports a symbol of this object to modules, like C's `EXPORT_SYMBOL()`.
///
/// It emits the `.export_symbol` record that `modpost` turns into a
/// `__ksymtab` entry: the licence (empty: any module), the namespace (empty)
/// and the symbol's address.
#[macro_export]
macro_rules! export_symbol {
    ($sym:ident) => {
        ::core::arch::global_asm!(
            ".section \".export_symbol\",\"a\"",
            ::core::concat!("__export_symbol_", ::core::stringify!($sym), ":"),
            ".asciz \"\"",
            ".asciz \"\"",
            ".balign 8",
            ::core::concat!(".quad ", ::core::stringify!($sym)),
            ".previous",
        );
    };
}
