// SPDX-License-Identifier: GPL-2.0

//! The ioctl interface of `/proc/allocinfo` (`include/uapi/linux/alloc_tag.h`):
//! its structures and command numbers, and a tag record as a row. The
//! system calls themselves are `main.rs`'s.

use crate::parse::{Row, Site};

/// `ALLOCINFO_STR_SIZE`.
pub const STR_SIZE: usize = 64;

/// `struct allocinfo_tag`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Tag {
    /// Empty for the kernel image.
    pub modname: [u8; STR_SIZE],
    /// The function.
    pub function: [u8; STR_SIZE],
    /// The file.
    pub filename: [u8; STR_SIZE],
    /// The line.
    pub lineno: u64,
}

/// `struct allocinfo_counter`.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug)]
pub struct Counter {
    /// Bytes allocated.
    pub bytes: u64,
    /// Live allocations.
    pub calls: u64,
    /// 0 if the counters missed allocations.
    pub accurate: u8,
    /// Padding of the uapi.
    pub pad: [u8; 7],
}

/// `struct allocinfo_tag_data`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct TagData {
    /// The call site.
    pub tag: Tag,
    /// Its counters.
    pub counter: Counter,
}

/// `struct allocinfo_filter`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Filter {
    /// Which criteria apply; 0: none.
    pub mask: u64,
    /// The names and line asked for.
    pub fields: Tag,
    /// The least bytes.
    pub min_size: u64,
    /// The most bytes.
    pub max_size: u64,
    /// Only inaccurate (nonzero) or accurate (zero) tags.
    pub inaccurate: u64,
}

/// `struct allocinfo_get_at`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct GetAt {
    /// The position asked for, from 0.
    pub pos: u64,
    /// The filter.
    pub filter: Filter,
    /// The tag found.
    pub data: TagData,
}

impl TagData {
    /// All zeroes.
    pub const ZERO: TagData = TagData {
        tag: Tag::ZERO,
        counter: Counter {
            bytes: 0,
            calls: 0,
            accurate: 0,
            pad: [0; 7],
        },
    };
}

impl Tag {
    /// All zeroes.
    pub const ZERO: Tag = Tag {
        modname: [0; STR_SIZE],
        function: [0; STR_SIZE],
        filename: [0; STR_SIZE],
        lineno: 0,
    };
}

impl GetAt {
    /// The first tag, no filter.
    pub const FIRST: GetAt = GetAt {
        pos: 0,
        filter: Filter {
            mask: 0,
            fields: Tag::ZERO,
            min_size: 0,
            max_size: 0,
            inaccurate: 0,
        },
        data: TagData::ZERO,
    };
}

const _: () = {
    assert!(std::mem::size_of::<Tag>() == 200);
    assert!(std::mem::size_of::<Counter>() == 24);
    assert!(std::mem::size_of::<TagData>() == 224);
    assert!(std::mem::size_of::<Filter>() == 232);
    assert!(std::mem::size_of::<GetAt>() == 464);
};

/// `_IOC(dir, 0xA6, nr, size)` of the generic ioctl encoding (x86, arm,
/// riscv...; not the few architectures with their own).
const fn ioc(dir: u64, nr: u64, size: usize) -> u64 {
    (dir << 30) | ((size as u64) << 16) | (0xA6 << 8) | nr
}

/// `ALLOCINFO_IOC_CONTENT_ID`.
pub const IOC_CONTENT_ID: u64 = ioc(2, 0, 8);
/// `ALLOCINFO_IOC_GET_AT`.
pub const IOC_GET_AT: u64 = ioc(3, 1, std::mem::size_of::<GetAt>());
/// `ALLOCINFO_IOC_GET_NEXT`.
pub const IOC_GET_NEXT: u64 = ioc(2, 2, std::mem::size_of::<TagData>());

/// A name field as text: up to its NUL. A name that fills the field may be
/// the end of a longer one: it is shown with `...` in front.
fn name(field: &[u8; STR_SIZE]) -> String {
    let len = field.iter().position(|&c| c == 0).unwrap_or(STR_SIZE);
    let text = String::from_utf8_lossy(&field[..len]);
    if len >= STR_SIZE - 1 {
        format!("...{text}")
    } else {
        text.into_owned()
    }
}

/// A tag record as a row.
pub fn row_of(d: &TagData) -> Row {
    let module = name(&d.tag.modname);
    Row {
        bytes: d.counter.bytes as i64,
        calls: d.counter.calls,
        site: Site {
            file: name(&d.tag.filename),
            line: d.tag.lineno as u32,
            module: (!module.is_empty()).then_some(module),
            function: name(&d.tag.function),
        },
        accurate: d.counter.accurate != 0,
    }
}
