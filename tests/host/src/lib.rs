// SPDX-License-Identifier: GPL-2.0

//! Host build of the logic in `lib/alloc_tag_rs/` that needs no kernel types.
//!
//! The modules are the kernel's own files, included by path, so `cargo test`
//! checks the code the kernel compiles. `no_std` keeps them to `core`, and the
//! lints below are the ones the kernel build turns on for them.

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub, rust_2018_idioms, warnings)]
#![deny(clippy::all, clippy::undocumented_unsafe_blocks)]
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
#![deny(clippy::panic, clippy::unreachable, clippy::todo)]

#[path = "../../../lib/alloc_tag_rs/filter.rs"]
pub mod filter;
#[path = "../../../lib/alloc_tag_rs/format.rs"]
pub mod format;
#[path = "../../../lib/alloc_tag_rs/param.rs"]
pub mod param;
#[path = "../../../mm/pgtag/layout.rs"]
pub mod pgtag;
#[path = "../../../lib/alloc_tag_rs/top.rs"]
pub mod top;
