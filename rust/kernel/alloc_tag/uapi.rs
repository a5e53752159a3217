// SPDX-License-Identifier: GPL-2.0

//! The ioctl interface of `/proc/allocinfo`: its command numbers, and its
//! structures as plain bytes to copy from and to user space.
//!
//! C header: [`include/uapi/linux/alloc_tag.h`](srctree/include/uapi/linux/alloc_tag.h).

use crate::{
    bindings,
    ioctl::{_IOR, _IOWR},
    types::{AsBytes, FromBytes},
};

/// `ALLOCINFO_IOC_CONTENT_ID`: the id of the set of tags.
pub const ALLOCINFO_IOC_CONTENT_ID: u32 = _IOR::<bindings::allocinfo_content_id>(
    bindings::ALLOCINFO_IOC_BASE,
    bindings::_ALLOCINFO_IOC_CONTENT_ID,
);

/// `ALLOCINFO_IOC_GET_AT`: the n-th tag a filter matches.
pub const ALLOCINFO_IOC_GET_AT: u32 = _IOWR::<bindings::allocinfo_get_at>(
    bindings::ALLOCINFO_IOC_BASE,
    bindings::_ALLOCINFO_IOC_GET_AT,
);

/// `ALLOCINFO_IOC_GET_NEXT`: the next tag the last filter matches.
pub const ALLOCINFO_IOC_GET_NEXT: u32 = _IOR::<bindings::allocinfo_tag_data>(
    bindings::ALLOCINFO_IOC_BASE,
    bindings::_ALLOCINFO_IOC_GET_NEXT,
);

// The layouts are upstream's: sizes fixed by the uapi, 64-bit aligned.
const _: () = {
    assert!(core::mem::size_of::<bindings::allocinfo_tag>() == 200);
    assert!(core::mem::size_of::<bindings::allocinfo_counter>() == 24);
    assert!(core::mem::size_of::<bindings::allocinfo_tag_data>() == 224);
    assert!(core::mem::size_of::<bindings::allocinfo_filter>() == 232);
    assert!(core::mem::size_of::<bindings::allocinfo_get_at>() == 464);
};

// SAFETY: Integers and byte arrays only, with no padding (the sizes above
// are the sums of the fields); any bytes are a valid value.
unsafe impl FromBytes for bindings::allocinfo_content_id {}
// SAFETY: As above: no padding, so every byte is initialised.
unsafe impl AsBytes for bindings::allocinfo_content_id {}
// SAFETY: As above (`pad` is a field, not padding).
unsafe impl FromBytes for bindings::allocinfo_get_at {}
// SAFETY: As above.
unsafe impl AsBytes for bindings::allocinfo_get_at {}
// SAFETY: As above.
unsafe impl FromBytes for bindings::allocinfo_tag_data {}
// SAFETY: As above.
unsafe impl AsBytes for bindings::allocinfo_tag_data {}
