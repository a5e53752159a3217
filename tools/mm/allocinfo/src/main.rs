// SPDX-License-Identifier: GPL-2.0

//! `allocinfo`: see `allocinfo --help`.

use allocinfo::cli::{self, Env};
use allocinfo::parse::Snapshot;
use allocinfo::uapi;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;

extern "C" {
    /// libc's `ioctl()` (std links libc).
    fn ioctl(fd: i32, request: u64, ...) -> i32;
}

/// `ioctl(file, request, value)` on a structure of the uapi: whether it
/// succeeded, or the error.
///
/// # Safety
///
/// `T` is the structure `request` reads and writes (its size is encoded in
/// `request`).
unsafe fn ioctl_on<T>(file: &std::fs::File, request: u64, value: &mut T) -> std::io::Result<()> {
    // SAFETY: `value` is a valid, writable `T`, which is what `request`
    // copies in and out, per the safety requirements.
    if unsafe {
        ioctl(
            file.as_raw_fd(),
            request,
            std::ptr::from_mut(value).cast::<u8>(),
        )
    } == 0
    {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Every tag of `/proc/allocinfo` through its ioctls, `None` if the file
/// does not take them. Walks again if a module came or went meanwhile.
fn ioctl_walk(path: &str) -> Result<Option<Snapshot>, String> {
    let err = |e: std::io::Error| format!("{path}: {e}");
    let Ok(file) = std::fs::File::open(path) else {
        return Ok(None);
    };
    let content_id = |file: &std::fs::File| {
        let mut id = 0u64;
        // SAFETY: CONTENT_ID writes one `__u64`.
        unsafe { ioctl_on(file, uapi::IOC_CONTENT_ID, &mut id) }.map(|()| id)
    };
    let Ok(mut id) = content_id(&file) else {
        return Ok(None);
    };
    for _ in 0..10 {
        let mut snap = Snapshot::default();
        let mut at = uapi::GetAt::FIRST;
        // SAFETY: GET_AT reads and writes a `struct allocinfo_get_at`.
        match unsafe { ioctl_on(&file, uapi::IOC_GET_AT, &mut at) } {
            Ok(()) => snap.rows.push(uapi::row_of(&at.data)),
            Err(e) if e.raw_os_error() == Some(2) => {}
            Err(e) => return Err(err(e)),
        }
        if !snap.rows.is_empty() {
            let mut d = uapi::TagData::ZERO;
            loop {
                // SAFETY: GET_NEXT writes a `struct allocinfo_tag_data`.
                match unsafe { ioctl_on(&file, uapi::IOC_GET_NEXT, &mut d) } {
                    Ok(()) => snap.rows.push(uapi::row_of(&d)),
                    // ENOENT: the end.
                    Err(e) if e.raw_os_error() == Some(2) => break,
                    Err(e) => return Err(err(e)),
                }
            }
        }
        let now = content_id(&file).map_err(err)?;
        if now == id {
            return Ok(Some(snap));
        }
        id = now;
    }
    Err(format!(
        "{path}: modules kept coming and going during 10 walks"
    ))
}

/// The real files, clock and terminal.
struct System;

impl Env for System {
    fn read(&mut self, path: &str) -> Result<String, String> {
        let mut text = String::new();
        let r = if path == "-" {
            std::io::stdin().read_to_string(&mut text).map(|_| ())
        } else {
            std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut text).map(|_| ()))
        };
        r.map_err(|e| format!("{path}: {e}"))?;
        Ok(text)
    }

    fn ioctl_snapshot(&mut self, path: &str) -> Result<Option<Snapshot>, String> {
        if path == "-" {
            return Ok(None);
        }
        ioctl_walk(path)
    }

    fn sleep(&mut self, seconds: f64) {
        std::thread::sleep(std::time::Duration::from_secs_f64(seconds));
    }

    fn now(&mut self) -> f64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    }

    fn append(&mut self, path: &str, text: &str) -> Result<(), String> {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|e| format!("{path}: {e}"))
    }

    fn emit(&mut self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    match cli::run(&argv, &mut System) {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error of ours.
            let _ = stdout.write_all(out.as_bytes());
        }
        Err(e) => {
            eprintln!("allocinfo: {e}");
            if e.contains("unknown option") || e.contains("takes") || e.contains("needs a value") {
                eprint!("{}", cli::USAGE);
            }
            std::process::exit(2);
        }
    }
}
