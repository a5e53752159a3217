// SPDX-License-Identifier: GPL-2.0

//! `allocinfo`: reads memory allocation profiling's `/proc/allocinfo` (or
//! saved copies of it) and answers what people ask of it: the largest call
//! sites (`top`), totals per directory, file or module (`tree`), what
//! grew or shrank between two snapshots (`diff`) and while something runs
//! (`watch`).
//!
//! The parsing and the reports are here, free of I/O, so that they are
//! tested on any host; `main.rs` is the command line.

pub mod cli;
pub mod parse;
pub mod plot;
pub mod report;
pub mod uapi;
