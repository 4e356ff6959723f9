//! .xlsx workbooks, streamed cell by cell so that memory follows the data, not the sheet's extent.

use std::collections::HashMap;
use std::io::Cursor;

use calamine::{
    DataRef, ExcelDateTime, Reader, SheetType, SheetVisible, Xlsx, XlsxError, XlsxFormulaMetadata,
};

use crate::table::TableBuilder;
use crate::{Cell, Limits, SheetError, Table};

pub(crate) fn read(bytes: &[u8], limits: &Limits) -> Result<Table, SheetError> {
    check_container(bytes, limits)?;
    // calamine 0.38 can panic on damaged input (an overflowing row number in a cell reference,
    // found by the bit-flip tests); an upload must get an answer, not a failed request.
    std::panic::catch_unwind(|| read_workbook(bytes, limits)).unwrap_or_else(|_| {
        Err(SheetError::Corrupt(
            "its contents could not be understood".into(),
        ))
    })
}

fn read_workbook(bytes: &[u8], limits: &Limits) -> Result<Table, SheetError> {
    let mut workbook = Xlsx::new(Cursor::new(bytes)).map_err(error)?;
    let Some(sheet) = first_worksheet(workbook.sheets_metadata()) else {
        return Err(SheetError::Empty);
    };
    let mut reader = workbook.worksheet_cells_reader(&sheet).map_err(error)?;

    let mut builder = TableBuilder::new(limits);
    let max_columns = builder.max_columns();
    let mut shared = SharedFormulas::default();
    // The row being assembled: its 0-based index and its cells so far.
    let mut current: Option<(u32, Vec<Cell>)> = None;
    while let Some(record) = reader.next_cell_with_formula_metadata().map_err(error)? {
        let (row, column) = record.pos;
        let formula = record
            .formula
            .map(|meta| shared.text(meta, record.pos))
            .transpose()?;
        let cell = Cell {
            value: text(record.value),
            formula,
        };
        let column = column as usize;
        if column >= max_columns {
            if cell.is_blank() {
                continue;
            }
            return Err(SheetError::TooManyColumns { max: max_columns });
        }
        match &mut current {
            Some((r, cells)) if *r == row => place(cells, column, cell),
            Some((r, _)) if *r > row => {
                // Every program we know writes rows top to bottom; merging would need the whole
                // sheet in memory.
                return Err(SheetError::Corrupt("its rows are out of order".into()));
            }
            _ => {
                if let Some((r, cells)) = current.take() {
                    builder.push(r as usize + 1, cells)?;
                }
                let mut cells = Vec::new();
                place(&mut cells, column, cell);
                current = Some((row, cells));
            }
        }
    }
    if let Some((r, cells)) = current {
        builder.push(r as usize + 1, cells)?;
    }
    builder.finish()
}

fn place(cells: &mut Vec<Cell>, column: usize, cell: Cell) {
    if cells.len() <= column {
        cells.resize_with(column + 1, Cell::default);
    }
    cells[column] = cell;
}

/// Looks inside the zip before calamine does: it must hold a workbook, and its parts must not
/// unpack to more than the limit. The zip reader stops at each part's declared size, so the
/// declared sizes bound what inflating can cost.
fn check_container(bytes: &[u8], limits: &Limits) -> Result<(), SheetError> {
    let archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| SheetError::Corrupt(format!("the zip container is damaged: {e}")))?;
    let mut archive = archive;
    let mut unpacked: u64 = 0;
    let mut has_workbook = false;
    let mut shared_strings = None;
    for i in 0..archive.len() {
        let entry = archive
            .by_index_data(i)
            .map_err(|e| SheetError::Corrupt(format!("the zip container is damaged: {e}")))?;
        unpacked = unpacked.saturating_add(entry.size());
        let name = entry
            .name()
            .map(|n| n.to_ascii_lowercase())
            .unwrap_or_default();
        has_workbook |= name.ends_with("workbook.xml");
        if name.ends_with("sharedstrings.xml") {
            if entry.size() > limits.max_shared_strings_bytes as u64 {
                return Err(SheetError::TooLargeUnpacked {
                    max_bytes: limits.max_shared_strings_bytes,
                });
            }
            shared_strings = Some(i);
        }
    }
    if let Some(i) = shared_strings {
        check_shared_strings_count(&mut archive, i, limits)?;
    }
    if !has_workbook {
        // A .docx, an .ods, an .xlsb or any other zip.
        return Err(SheetError::NotASpreadsheet);
    }
    if unpacked > limits.max_unpacked_bytes as u64 {
        return Err(SheetError::TooLargeUnpacked {
            max_bytes: limits.max_unpacked_bytes,
        });
    }
    Ok(())
}

/// calamine reserves memory for as many shared strings as the part's `count`/`uniqueCount` attributes
/// declare, before reading one: `uniqueCount="50000000000"` in a 2 kB file asked for a terabyte and aborted
/// the process (an allocation failure is not a panic that can be caught). A sheet within the limits has at
/// most one string per cell.
fn check_shared_strings_count(
    archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
    index: usize,
    limits: &Limits,
) -> Result<(), SheetError> {
    use std::io::Read;
    let entry = archive
        .by_index(index)
        .map_err(|e| SheetError::Corrupt(format!("the zip container is damaged: {e}")))?;
    let mut head = Vec::with_capacity(4096);
    entry
        .take(4096)
        .read_to_end(&mut head)
        .map_err(|e| SheetError::Corrupt(format!("the shared strings cannot be read: {e}")))?;
    let head = String::from_utf8_lossy(&head);
    let Some(start) = head.find("<sst") else {
        return Ok(());
    };
    let tag = &head[start..head[start..].find('>').map_or(head.len(), |e| start + e)];
    let most = (limits.max_rows.saturating_add(1)).saturating_mul(limits.max_columns) as u64;
    for attr in ["count=\"", "uniqueCount=\""] {
        for (at, _) in tag.match_indices(attr) {
            // `count="` also matches the end of `uniqueCount="`; both are checked either way.
            let digits: String = tag[at + attr.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            let declared = digits.parse::<u64>().unwrap_or(u64::MAX);
            if declared > most {
                return Err(SheetError::Corrupt(format!(
                    "it declares {digits} shared strings, more than a sheet within the limits can hold"
                )));
            }
        }
    }
    Ok(())
}

/// The sheet a user thinks of as the first: the leftmost visible worksheet (Excel keeps hidden
/// sheets and chart sheets in the same list).
fn first_worksheet(sheets: &[calamine::Sheet]) -> Option<String> {
    let worksheets = || sheets.iter().filter(|s| s.typ == SheetType::WorkSheet);
    worksheets()
        .find(|s| s.visible == SheetVisible::Visible)
        .or_else(|| worksheets().next())
        .map(|s| s.name.clone())
}

fn error(e: XlsxError) -> SheetError {
    match e {
        XlsxError::Password => SheetError::Encrypted,
        XlsxError::FileNotFound(path) if path.to_ascii_lowercase().contains("workbook") => {
            SheetError::NotASpreadsheet
        }
        other => SheetError::Corrupt(other.to_string()),
    }
}

/// Shared formulas are stored once on their top-left cell; the other cells of the range only
/// point at it. Keeping the templates lets every cell report its own formula text.
#[derive(Default)]
struct SharedFormulas {
    templates: HashMap<usize, (String, (u32, u32))>,
}

impl SharedFormulas {
    fn text(&mut self, meta: XlsxFormulaMetadata, pos: (u32, u32)) -> Result<String, SheetError> {
        let formula = match meta {
            XlsxFormulaMetadata::Normal { formula } => formula,
            XlsxFormulaMetadata::Shared {
                shared_index,
                range,
                formula,
            } => {
                let start = range.map_or(pos, |r| r.start);
                self.templates
                    .insert(shared_index, (formula.clone(), start));
                formula
            }
            XlsxFormulaMetadata::SharedDerived { shared_index } => {
                match self.templates.get(&shared_index) {
                    Some((template, start)) => {
                        calamine::expand_shared_formula(template, *start, pos).map_err(error)?
                    }
                    // Still a formula, even if a malformed file hides which one.
                    None => String::new(),
                }
            }
            // Newer calamine versions may add kinds; they are formulas all the same.
            _ => String::new(),
        };
        Ok(format!("={formula}"))
    }
}

/// The cell as Excel would show it in the General format.
fn text(value: DataRef<'_>) -> String {
    match value {
        DataRef::Empty => String::new(),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s,
        DataRef::SharedString(s) => s.to_owned(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => number(f),
        DataRef::Bool(true) => "TRUE".to_owned(),
        DataRef::Bool(false) => "FALSE".to_owned(),
        DataRef::DateTime(dt) => datetime(&dt),
        DataRef::Error(e) => e.to_string(),
    }
}

/// Excel keeps 15 significant digits, so `0.1 + 0.2` shows as `0.3`; integral values such as
/// phone numbers typed as numbers show without a decimal point.
fn number(f: f64) -> String {
    if !f.is_finite() {
        return f.to_string();
    }
    let rounded = format!("{f:.14e}").parse::<f64>().unwrap_or(f);
    if rounded == 0.0 {
        // Also turns -0 into 0.
        return "0".to_owned();
    }
    rounded.to_string()
}

/// ISO 8601, the one date format that means the same to every reader.
fn datetime(dt: &ExcelDateTime) -> String {
    if dt.is_duration() {
        // Whole seconds; the value is in days.
        let total = (dt.as_f64() * 86_400.0).round() as i64;
        let (sign, total) = if total < 0 {
            ("-", -total)
        } else {
            ("", total)
        };
        return format!(
            "{sign}{}:{:02}:{:02}",
            total / 3600,
            total / 60 % 60,
            total % 60
        );
    }
    let (year, month, day, hour, minute, second, milli) = dt.to_ymd_hms_milli();
    let time = (hour, minute, second, milli) != (0, 0, 0, 0);
    if dt.as_f64().trunc() == 0.0 && time {
        // A time of day without a date.
        format!("{hour:02}:{minute:02}:{second:02}")
    } else if time {
        format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}")
    } else {
        format!("{year:04}-{month:02}-{day:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::ExcelDateTimeType;

    #[test]
    fn numbers_read_as_excel_shows_them() {
        assert_eq!(number(42.0), "42");
        assert_eq!(number(4412345678.0), "4412345678");
        assert_eq!(number(-3.0), "-3");
        assert_eq!(number(-0.0), "0");
        assert_eq!(number(0.1 + 0.2), "0.3");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(1e20), "100000000000000000000");
    }

    #[test]
    fn dates_are_iso() {
        let date = |v| ExcelDateTime::new(v, ExcelDateTimeType::DateTime, false);
        assert_eq!(datetime(&date(45943.0)), "2025-10-13");
        assert_eq!(datetime(&date(45943.5)), "2025-10-13 12:00:00");
        assert_eq!(datetime(&date(0.75)), "18:00:00");
        let duration = ExcelDateTime::new(1.5, ExcelDateTimeType::TimeDelta, false);
        assert_eq!(datetime(&duration), "36:00:00");
    }

    #[test]
    fn first_worksheet_skips_hidden_and_chart_sheets() {
        let sheet = |name: &str, typ, visible| calamine::Sheet {
            name: name.into(),
            typ,
            visible,
        };
        let sheets = [
            sheet("Chart", SheetType::ChartSheet, SheetVisible::Visible),
            sheet("Hidden", SheetType::WorkSheet, SheetVisible::Hidden),
            sheet("Users", SheetType::WorkSheet, SheetVisible::Visible),
        ];
        assert_eq!(first_worksheet(&sheets).as_deref(), Some("Users"));
        assert_eq!(first_worksheet(&sheets[..2]).as_deref(), Some("Hidden"));
        assert_eq!(first_worksheet(&sheets[..1]), None);
    }
}
