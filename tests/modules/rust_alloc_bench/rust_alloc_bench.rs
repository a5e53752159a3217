// SPDX-License-Identifier: GPL-2.0

//! rust_alloc_bench: times Rust's allocation API at load, for
//! scripts/bench, beside alloc_tag_bench's C loops. Each loop runs
//! 100000 times (fixed: Rust modules of 6.12 take no parameters) after a
//! warm-up of a tenth of that:
//!   kbox   `KBox::new([0u8; 64])` and its drop
//!   kvec   `KVec::<u8>::with_capacity(size)` and its drop, the size
//!          cycling through alloc_tag_bench's 16 kmalloc sizes (8 to 233)
//!   grow   `KVec::<u64>::new()`, 64 pushes (7 allocations as it grows)
//!          and its drop
//! and logs one line, in nanoseconds per operation (two decimals):
//!   rust_alloc_bench: iterations=100000 kbox=<ns> kvec=<ns> grow=<ns>
//! Under QEMU's "-icount shift=0,sleep=off" one nanosecond of guest time is
//! one guest instruction.

use core::hint::black_box;
use kernel::{prelude::*, time::Ktime};

module! {
    type: RustAllocBench,
    name: "rust_alloc_bench",
    author: "alloc_tag_rs",
    description: "Times Rust's allocation API",
    license: "GPL",
}

const ITERATIONS: u32 = 100_000;

/// Runs `op` `n` times: hundredths of a nanosecond per run.
fn time(n: u32, mut op: impl FnMut(u32) -> Result) -> Result<i64> {
    let start = Ktime::ktime_get().to_ns();
    for i in 0..n {
        op(i)?;
    }
    let ns = Ktime::ktime_get().to_ns() - start;
    Ok((ns * 100 + i64::from(n) / 2) / i64::from(n))
}

/// `op` after a warm-up: hundredths of a nanosecond per run.
fn bench(mut op: impl FnMut(u32) -> Result) -> Result<i64> {
    time(ITERATIONS / 10, &mut op)?;
    time(ITERATIONS, op)
}

fn kbox(_: u32) -> Result {
    drop(black_box(KBox::new([0u8; 64], GFP_KERNEL)?));
    Ok(())
}

fn kvec(i: u32) -> Result {
    let size = 8 + 15 * (i % 16) as usize;
    drop(black_box(KVec::<u8>::with_capacity(size, GFP_KERNEL)?));
    Ok(())
}

fn grow(_: u32) -> Result {
    let mut v = KVec::<u64>::new();
    for i in 0..64 {
        v.push(i, GFP_KERNEL)?;
    }
    drop(black_box(v));
    Ok(())
}

struct RustAllocBench;

impl kernel::Module for RustAllocBench {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let [k, v, g] = [bench(kbox)?, bench(kvec)?, bench(grow)?];
        pr_info!(
            "iterations={ITERATIONS} kbox={}.{:02} kvec={}.{:02} grow={}.{:02}\n",
            k / 100,
            k % 100,
            v / 100,
            v % 100,
            g / 100,
            g % 100
        );
        Ok(Self)
    }
}
