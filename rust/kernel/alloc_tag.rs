// SPDX-License-Identifier: GPL-2.0

//! Memory allocation profiling: code tags, allocation tags and their counters.
//!
//! C headers: [`include/linux/codetag.h`](srctree/include/linux/codetag.h) and
//! [`include/linux/alloc_tag.h`](srctree/include/linux/alloc_tag.h).

pub mod codetag;
pub mod rwsem;
pub mod static_key;
mod tag;

pub use tag::{Counters, Tag};

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
