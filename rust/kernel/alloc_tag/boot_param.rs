// SPDX-License-Identifier: GPL-2.0

//! Boot parameters handled while the command line is parsed: C's
//! `early_param()` and `__setup()`.
//!
//! An entry is a static [`Param`] in the `.init.setup` section, naming a
//! type that implements [`Setup`]:
//!
//! ```ignore
//! struct Verbose;
//!
//! impl Setup for Verbose {
//!     #[link_section = ".init.text"]
//!     fn setup(value: Option<&CStr>, _boot: &Boot) -> c_int {
//!         // ...
//!         0
//!     }
//! }
//!
//! #[link_section = ".init.setup"]
//! #[used]
//! static VERBOSE: Param = Param::early::<Verbose>(c_str!("verbose"));
//! ```
//!
//! C header: [`include/linux/init.h`](srctree/include/linux/init.h).

use crate::{ffi::c_char, str::CStr};
use core::ffi::c_int;

/// Proof that the code holding it runs as a boot parameter's handler:
/// single-threaded, in `start_kernel()` before `mm_core_init()`, so before
/// the page allocator has given out a page. Only [`Param`]'s C handler makes
/// one.
pub struct Boot(());

/// The handler of a boot parameter; it runs at boot, single-threaded, and
/// may be `.init.text`.
pub trait Setup {
    /// Takes the parameter's value: `None` for an early parameter given
    /// without `=`. Returns what C's handler would: for `early_param()`, 0
    /// or a negative errno; for `__setup()`, 1 once handled (0 hands the
    /// parameter on to init's environment).
    fn setup(value: Option<&CStr>, boot: &Boot) -> c_int;
}

/// An entry of the `.init.setup` table: C's `struct obs_kernel_param`, which
/// bindgen does not see (`include/linux/init.h` hides it from modules, and
/// the bindings are generated as for a module).
///
/// # Invariants
///
/// `name` is a static NUL-terminated string and `setup` is `call_setup()`
/// for some [`Setup`] type.
#[repr(C)]
pub struct Param {
    name: *const c_char,
    setup: unsafe extern "C" fn(*mut c_char) -> c_int,
    early: c_int,
}

// SAFETY: Never written after it is built; by the type invariant it only
// points to a static string and a function.
unsafe impl Sync for Param {}

impl Param {
    /// `early_param(name, T::setup)`: `name` without the `=`; parsed before
    /// the rest of the command line, in command line order.
    pub const fn early<T: Setup>(name: &'static CStr) -> Self {
        // INVARIANT: A static name and `call_setup::<T>`.
        Self {
            name: name.as_char_ptr(),
            setup: call_setup::<T>,
            early: 1,
        }
    }

    /// `__setup(name, T::setup)`: `name` with its `=`.
    pub const fn late<T: Setup>(name: &'static CStr) -> Self {
        // INVARIANT: A static name and `call_setup::<T>`.
        Self {
            name: name.as_char_ptr(),
            setup: call_setup::<T>,
            early: 0,
        }
    }
}

/// The C handler of a [`Param`]: hands `T` the value as a `CStr`.
///
/// # Safety
///
/// `value` is NULL or a NUL-terminated string that outlives the call (the
/// boot command line; `init/main.c` is the only caller).
#[link_section = ".init.text"]
unsafe extern "C" fn call_setup<T: Setup>(value: *mut c_char) -> c_int {
    // SAFETY: Per the safety requirements, a non-NULL `value` is a
    // NUL-terminated string valid for the call.
    let value = (!value.is_null()).then(|| unsafe { CStr::from_char_ptr(value) });
    // `init/main.c` calls the handlers from `parse_early_param()` and
    // `parse_args()` in `start_kernel()`, both before `mm_core_init()`.
    T::setup(value, &Boot(()))
}
