//! Property tests and abuse: round trips through both writers, and inputs that must never panic.

use crate::{unzip, zip_parts};
use proptest::prelude::*;
use skybridge_sheet::{Limits, Table, neutralise, read_table, users, write_csv, write_xlsx};

/// Strings heavy in what breaks CSV and XML: delimiters, quotes, line breaks, formula starts,
/// non-ASCII. NUL is left out: no spreadsheet program writes it, and the reader takes it for a
/// binary file.
fn cell() -> impl Strategy<Value = String> {
    let tricky = prop::collection::vec(
        prop::sample::select(vec![
            'a', 'Z', '0', ' ', ',', ';', '\t', '"', '\'', '\n', '\r', '=', '+', '-', '@', 'é',
            '中', '😀', '\u{FEFF}', '\u{A0}', '_', 'x',
        ]),
        0..8,
    )
    .prop_map(String::from_iter);
    let any = any::<String>().prop_map(|s| s.replace('\0', ""));
    prop_oneof![3 => tricky, 1 => any]
}

/// A header row whose first cell is not blank, so the header is row 1 and the table not empty.
fn headers() -> impl Strategy<Value = Vec<String>> {
    (cell(), prop::collection::vec(cell(), 0..5)).prop_map(|(first, rest)| {
        let mut headers = vec![format!("H{first}")];
        headers.extend(rest);
        headers
    })
}

fn rows() -> impl Strategy<Value = Vec<Vec<String>>> {
    prop::collection::vec(prop::collection::vec(cell(), 0..7), 0..12)
}

fn blank(s: &str) -> bool {
    s.trim().is_empty()
}

/// What `read_table` should give back for what a writer was given: the cells neutralised,
/// trailing blank headers dropped, blank rows skipped but counted, rows padded to the header
/// width and cut after their last non-blank cell beyond it.
fn model(headers: &[String], rows: &[Vec<String>]) -> (Vec<String>, Vec<(usize, Vec<String>)>) {
    let mut headers: Vec<String> = headers.iter().map(|h| neutralise(h).into_owned()).collect();
    while headers.last().is_some_and(|h| blank(h)) {
        headers.pop();
    }
    let expected = rows
        .iter()
        .enumerate()
        .filter_map(|(i, row)| {
            let mut cells: Vec<String> = row.iter().map(|c| neutralise(c).into_owned()).collect();
            let used = cells.iter().rposition(|c| !blank(c)).map(|p| p + 1)?;
            cells.truncate(used.max(headers.len()));
            cells.resize(used.max(headers.len()), String::new());
            Some((i + 2, cells))
        })
        .collect();
    (headers, expected)
}

fn actual(table: &Table) -> (Vec<String>, Vec<(usize, Vec<String>)>) {
    assert!(
        table
            .rows
            .iter()
            .flat_map(|r| &r.cells)
            .all(|c| c.formula.is_none())
    );
    let rows = table
        .rows
        .iter()
        .map(|r| (r.line, r.cells.iter().map(|c| c.value.clone()).collect()))
        .collect();
    (table.headers.clone(), rows)
}

fn refs(headers: &[String]) -> Vec<&str> {
    headers.iter().map(String::as_str).collect()
}

/// Invariants of any table the reader returns.
fn check_table(table: &Table) {
    let mut last = table.header_line;
    for row in &table.rows {
        assert!(row.line > last, "lines must increase");
        last = row.line;
        assert!(row.cells.len() >= table.headers.len());
        assert!(
            row.cells.iter().any(|c| !c.is_blank()),
            "blank rows are skipped"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn csv_round_trips(headers in headers(), rows in rows()) {
        let bytes = write_csv(&refs(&headers), rows.clone());
        let table = read_table(&bytes, &Limits::default()).unwrap();
        prop_assert_eq!(table.header_line, 1);
        prop_assert_eq!(actual(&table), model(&headers, &rows));
    }

    #[test]
    fn csv_reader_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        if let Ok(table) = read_table(&bytes, &Limits::default()) {
            check_table(&table);
        }
    }

    #[test]
    fn csv_reader_never_panics_on_csv_like_bytes(
        bytes in prop::collection::vec(
            prop::sample::select(b",;\t\"\r\n a=\xE9\xC3\xA9\xEF\xBB\xBF".to_vec()),
            0..400,
        )
    ) {
        let limits = Limits { max_rows: 20, max_columns: 6, max_cell_chars: 12, ..Limits::default() };
        if let Ok(table) = read_table(&bytes, &limits) {
            check_table(&table);
            prop_assert!(table.rows.len() <= 20);
        }
    }
}

proptest! {
    // Each case builds and parses a workbook; fewer cases keep the suite quick.
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn xlsx_round_trips(headers in headers(), rows in rows()) {
        let bytes = write_xlsx("Sheet", &refs(&headers), rows.clone()).unwrap();
        let table = read_table(&bytes, &Limits::default()).unwrap();
        prop_assert_eq!(actual(&table), model(&headers, &rows));
    }
}

/// A deterministic generator, so a failure names the case that reproduces it.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % bound.max(1)
    }
}

fn sample_workbooks() -> Vec<Vec<u8>> {
    let rows = (0..40).map(|i| {
        vec![
            format!("First {i}"),
            format!("Last {i}"),
            String::new(),
            format!("user{i}@example.com"),
            "User".to_owned(),
        ]
    });
    vec![
        users::template_xlsx().unwrap(),
        write_xlsx("Users", &users::HEADERS, rows).unwrap(),
    ]
}

#[test]
fn truncated_workbooks_never_panic() {
    for bytes in sample_workbooks() {
        for len in (0..bytes.len()).step_by(7) {
            let _ = read_table(&bytes[..len], &Limits::default());
        }
        // The tail holds the zip directory: cut it byte by byte.
        for len in bytes.len().saturating_sub(300)..bytes.len() {
            let result = read_table(&bytes[..len], &Limits::default());
            assert!(result.is_err(), "cut at {len} of {}", bytes.len());
        }
    }
}

#[test]
fn bit_flipped_workbooks_never_panic() {
    let mut rng = Lcg(7);
    for bytes in sample_workbooks() {
        for _ in 0..3000 {
            let mut damaged = bytes.clone();
            for _ in 0..1 + rng.next(3) {
                let at = rng.next(damaged.len());
                damaged[at] ^= 1 << rng.next(8);
            }
            if let Ok(table) = read_table(&damaged, &Limits::default()) {
                check_table(&table);
            }
        }
    }
}

/// Flipping compressed bytes mostly trips the zip checksum; damaging the XML before zipping
/// reaches the workbook parser itself.
#[test]
fn damaged_xml_parts_never_panic() {
    let mut rng = Lcg(11);
    for bytes in sample_workbooks() {
        let parts = unzip(&bytes);
        for _ in 0..3000 {
            let mut parts = parts.clone();
            let which = rng.next(parts.len());
            let (_, data) = &mut parts[which];
            for _ in 0..1 + rng.next(4) {
                if data.is_empty() {
                    break;
                }
                let at = rng.next(data.len());
                match rng.next(4) {
                    0 => data[at] ^= 1 << rng.next(8),
                    1 => {
                        data.remove(at);
                    }
                    2 => data.insert(at, b"<>\"&/=0123456789ABCxrcfvsit"[rng.next(27)]),
                    _ => data.truncate(at),
                }
            }
            if let Ok(table) = read_table(&zip_parts(&parts), &Limits::default()) {
                check_table(&table);
            }
        }
    }
}
