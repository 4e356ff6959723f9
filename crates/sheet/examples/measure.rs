//! Parse time and peak memory of the users import, for `docs/performance.md`-style figures.
//!
//! ```text
//! cargo run --release -p skybridge-sheet --example measure -- generate 50000 /tmp/users-50k.xlsx
//! cargo run --release -p skybridge-sheet --example measure -- parse /tmp/users-50k.xlsx
//! ```
//!
//! Generating and parsing are separate runs so that the peak RSS printed by `parse` is the
//! reader's alone (Linux only: it comes from `/proc/self/status`).

use std::error::Error;
use std::time::Instant;

use skybridge_sheet::users::{HEADERS, read_users};
use skybridge_sheet::{Limits, read_table, write_csv, write_xlsx};

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["generate", rows, path] => generate(rows.parse()?, path),
        ["parse", path] => parse(path),
        _ => Err("usage: measure generate ROWS FILE.xlsx|FILE.csv | measure parse FILE".into()),
    }
}

fn generate(rows: usize, path: &str) -> Result<(), Box<dyn Error>> {
    let data = (0..rows).map(|i| {
        vec![
            format!("First{i}"),
            format!("Last{i}"),
            format!("First{i} Last{i}"),
            format!("user{i}@example.com"),
            if i % 10 == 0 { "Account Admin" } else { "User" }.to_owned(),
        ]
    });
    let bytes = if path.ends_with(".csv") {
        write_csv(&HEADERS, data)
    } else {
        write_xlsx("Users", &HEADERS, data)?
    };
    std::fs::write(path, &bytes)?;
    println!("wrote {path}: {rows} rows, {} bytes", bytes.len());
    Ok(())
}

fn parse(path: &str) -> Result<(), Box<dyn Error>> {
    let bytes = std::fs::read(path)?;
    let limits = Limits::default();
    let baseline = peak_rss_kib()?;
    let start = Instant::now();
    let table = read_table(&bytes, &limits)?;
    let table_time = start.elapsed();
    drop(table);
    let start = Instant::now();
    let users = read_users(&bytes, &limits)?;
    let users_time = start.elapsed();
    println!(
        "{path}: {} bytes, {} users; read_table {:.1} ms, read_users {:.1} ms; peak RSS {} KiB (before parsing {} KiB)",
        bytes.len(),
        users.len(),
        table_time.as_secs_f64() * 1000.0,
        users_time.as_secs_f64() * 1000.0,
        peak_rss_kib()?,
        baseline,
    );
    Ok(())
}

fn peak_rss_kib() -> Result<u64, Box<dyn Error>> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .ok_or("no VmHWM in /proc/self/status")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .ok_or("malformed VmHWM")?
        .parse()?)
}
