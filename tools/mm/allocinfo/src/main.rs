// SPDX-License-Identifier: GPL-2.0

//! `allocinfo`: see `allocinfo --help`.

use allocinfo::cli::{self, Env};
use std::io::{Read, Write};

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
