//! The format-independent result of reading a sheet, and the rules both readers share.

use crate::SheetError;

/// Bounds on what a reader accepts, so that an upload cannot exhaust memory or time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Size of the uploaded file.
    pub max_bytes: usize,
    /// Data rows, not counting the header row and blank rows.
    pub max_rows: usize,
    /// Columns up to the last non-blank cell of any row.
    pub max_columns: usize,
    /// Characters (not bytes) in one cell's value or formula.
    pub max_cell_chars: usize,
    /// Total unpacked size of an .xlsx's parts, as declared in the zip directory.
    pub max_unpacked_bytes: usize,
    /// Unpacked size of the workbook's shared strings, which the reader holds in memory whole before it
    /// reads a row: a small zip can declare millions of them.
    pub max_shared_strings_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 20 << 20,
            max_rows: 50_000,
            max_columns: 100,
            max_cell_chars: 4096,
            // 50,000 rows × 100 columns of XML fit with room to spare; a zip bomb does not.
            max_unpacked_bytes: 256 << 20,
            // 50,000 rows × 100 columns of distinct short texts fit; a zip bomb of strings does not.
            max_shared_strings_bytes: 32 << 20,
        }
    }
}

/// One cell as the user sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cell {
    /// The text shown in the cell: for an .xlsx formula the value Excel last computed (empty if
    /// none was saved); for a CSV formula, which nothing has computed, the formula text itself.
    pub value: String,
    /// The formula, starting with `=`, when the cell holds one. Importers refuse these rather than
    /// trust a value the user may never have seen.
    pub formula: Option<String>,
}

impl Cell {
    pub fn text(value: impl Into<String>) -> Cell {
        Cell {
            value: value.into(),
            formula: None,
        }
    }

    /// Blank means nothing to import: whitespace counts as blank, a formula never does.
    pub fn is_blank(&self) -> bool {
        self.formula.is_none() && self.value.trim().is_empty()
    }
}

/// A non-blank row below the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// 1-based row number as Excel shows it, so messages can point at the right row even after
    /// blank rows were skipped.
    pub line: usize,
    /// At least as many cells as there are headers; more when the row has data further right.
    pub cells: Vec<Cell>,
}

impl Row {
    /// The value in a column, empty when the row has no such cell.
    pub fn value(&self, column: usize) -> &str {
        self.cells.get(column).map_or("", |c| c.value.as_str())
    }
}

/// A sheet's header row and the non-blank rows below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// The first non-blank row, up to its last non-blank cell.
    pub headers: Vec<String>,
    /// Where the header row is (1 unless the sheet starts with blank rows).
    pub header_line: usize,
    pub rows: Vec<Row>,
}

/// The A1-style reference of a cell: `cell_ref(2, 7)` is `"C7"`.
///
/// `column` is 0-based (as in [`Row::cells`]), `line` 1-based (as in [`Row::line`]).
pub fn cell_ref(column: usize, line: usize) -> String {
    let mut letters = Vec::new();
    let mut n = column + 1;
    while n > 0 {
        // The remainder is below 26, so this is always an ASCII capital.
        letters.push(b'A' + ((n - 1) % 26) as u8);
        n = (n - 1) / 26;
    }
    let mut out: String = letters.into_iter().rev().map(char::from).collect();
    out.push_str(&line.to_string());
    out
}

/// Turns the rows a reader produces into a [`Table`], applying the rules that must not differ
/// between CSV and .xlsx: blank rows, padding, limits.
pub(crate) struct TableBuilder<'a> {
    limits: &'a Limits,
    header: Option<(usize, Vec<String>)>,
    rows: Vec<Row>,
}

impl<'a> TableBuilder<'a> {
    pub(crate) fn new(limits: &'a Limits) -> Self {
        TableBuilder {
            limits,
            header: None,
            rows: Vec::new(),
        }
    }

    /// Width the caller must not exceed with non-blank cells; readers check this before they
    /// allocate a row, since one stray cell in column XFD would otherwise cost 16,384 cells per row.
    pub(crate) fn max_columns(&self) -> usize {
        self.limits.max_columns
    }

    /// Adds a row read at `line`; rows must come in increasing line order.
    pub(crate) fn push(&mut self, line: usize, mut cells: Vec<Cell>) -> Result<(), SheetError> {
        for (column, cell) in cells.iter().enumerate() {
            if too_long(&cell.value, self.limits.max_cell_chars)
                || cell
                    .formula
                    .as_deref()
                    .is_some_and(|f| too_long(f, self.limits.max_cell_chars))
            {
                return Err(SheetError::CellTooLong {
                    cell: cell_ref(column, line),
                    max: self.limits.max_cell_chars,
                });
            }
        }
        let width = self.header.as_ref().map_or(0, |(_, h)| h.len());
        let used = cells
            .iter()
            .rposition(|c| !c.is_blank())
            .map_or(0, |i| i + 1);
        if used == 0 {
            return Ok(());
        }
        if used > self.limits.max_columns {
            return Err(SheetError::TooManyColumns {
                max: self.limits.max_columns,
            });
        }
        match &self.header {
            None => {
                cells.truncate(used);
                let headers = cells.into_iter().map(|c| c.value).collect();
                self.header = Some((line, headers));
            }
            Some(_) => {
                if self.rows.len() >= self.limits.max_rows {
                    return Err(SheetError::TooManyRows {
                        max: self.limits.max_rows,
                    });
                }
                cells.resize_with(used.max(width), Cell::default);
                self.rows.push(Row { line, cells });
            }
        }
        Ok(())
    }

    pub(crate) fn finish(self) -> Result<Table, SheetError> {
        let (header_line, headers) = self.header.ok_or(SheetError::Empty)?;
        Ok(Table {
            headers,
            header_line,
            rows: self.rows,
        })
    }
}

/// Counting characters is linear, so skip it when the byte length already settles the question.
fn too_long(s: &str, max_chars: usize) -> bool {
    s.len() > max_chars && s.chars().count() > max_chars
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_refs_follow_excel() {
        assert_eq!(cell_ref(0, 1), "A1");
        assert_eq!(cell_ref(2, 7), "C7");
        assert_eq!(cell_ref(25, 2), "Z2");
        assert_eq!(cell_ref(26, 2), "AA2");
        assert_eq!(cell_ref(51, 3), "AZ3");
        assert_eq!(cell_ref(52, 3), "BA3");
        assert_eq!(cell_ref(701, 4), "ZZ4");
        assert_eq!(cell_ref(702, 4), "AAA4");
        assert_eq!(cell_ref(16_383, 1_048_576), "XFD1048576");
    }

    #[test]
    fn blank_means_whitespace_without_formula() {
        assert!(Cell::text("").is_blank());
        assert!(Cell::text(" \t").is_blank());
        assert!(!Cell::text("x").is_blank());
        let formula = Cell {
            value: String::new(),
            formula: Some("=A1".into()),
        };
        assert!(!formula.is_blank());
    }

    #[test]
    fn too_long_counts_characters_not_bytes() {
        assert!(!too_long("éé", 2));
        assert!(too_long("ééé", 2));
        assert!(!too_long("abc", 3));
    }
}
