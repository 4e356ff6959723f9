//! Writing sheets that are safe to open: no cell a spreadsheet program would run as a formula.

use std::borrow::Cow;

use rust_xlsxwriter::{ColNum, Format, RowNum, Workbook, Worksheet, XlsxError};

use crate::SheetError;

/// Prefixes `'` to a cell that a spreadsheet program would treat as a formula (OWASP's advice
/// on CSV injection). The quote stays part of the text, visibly: the price of never running what
/// someone typed into a profile on an administrator's machine.
///
/// `-` and `+` are included although they also start numbers, because `-2+3+cmd|' /C calc'!A0`
/// starts that way too; a phone number such as `+44 20 7946 0000` therefore gets a quote.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// CSV for Excel: UTF-8 with a byte-order mark (without it Excel reads UTF-8 as the local
/// code page), CRLF line ends, commas, every cell [`neutralise`]d.
///
/// Cells holding `;` or a tab are quoted as well as those with commas, quotes and line breaks,
/// so that a reader guessing the delimiter from the header row (as ours and LibreOffice do)
/// cannot guess wrong.
pub fn write_csv(headers: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> Vec<u8> {
    let mut out = b"\xEF\xBB\xBF".to_vec();
    write_csv_line(&mut out, headers.iter().copied());
    for row in rows {
        write_csv_line(&mut out, row.iter().map(String::as_str));
    }
    out
}

fn write_csv_line<'a>(out: &mut Vec<u8>, cells: impl Iterator<Item = &'a str>) {
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let cell = neutralise(cell);
        if cell.contains([',', ';', '\t', '"', '\r', '\n']) {
            out.push(b'"');
            out.extend_from_slice(cell.replace('"', "\"\"").as_bytes());
            out.push(b'"');
        } else {
            out.extend_from_slice(cell.as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// An .xlsx workbook with one sheet: a bold, frozen header row, then the rows. Every cell is
/// written as a [`neutralise`]d string, never as a number or formula, so `00123` keeps its zeros.
pub fn write_xlsx(
    sheet: &str,
    headers: &[&str],
    rows: impl IntoIterator<Item = Vec<String>>,
) -> Result<Vec<u8>, SheetError> {
    let mut workbook = Workbook::new();
    let worksheet = workbook.add_worksheet();
    worksheet.set_name(sheet).map_err(write_error)?;
    write_header(worksheet, headers)?;
    for (i, row) in rows.into_iter().enumerate() {
        let r = row_number(i + 1)?;
        for (c, value) in row.iter().enumerate() {
            if !value.is_empty() {
                worksheet
                    .write_string(r, column_number(c)?, neutralise(value))
                    .map_err(write_error)?;
            }
        }
    }
    worksheet.autofit();
    workbook.save_to_buffer().map_err(write_error)
}

/// Bold and frozen, so it stays in view while the user scrolls down the rows.
pub(crate) fn write_header(worksheet: &mut Worksheet, headers: &[&str]) -> Result<(), SheetError> {
    let bold = Format::new().set_bold();
    for (c, header) in headers.iter().enumerate() {
        worksheet
            .write_string_with_format(0, column_number(c)?, neutralise(header), &bold)
            .map_err(write_error)?;
    }
    worksheet.set_freeze_panes(1, 0).map_err(write_error)?;
    Ok(())
}

fn row_number(i: usize) -> Result<RowNum, SheetError> {
    RowNum::try_from(i).map_err(|_| write_error(XlsxError::RowColumnLimitError))
}

fn column_number(i: usize) -> Result<ColNum, SheetError> {
    ColNum::try_from(i).map_err(|_| write_error(XlsxError::RowColumnLimitError))
}

pub(crate) fn write_error(e: XlsxError) -> SheetError {
    SheetError::Write(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutralise_quotes_formula_starts_only() {
        for risky in [
            "=1+1",
            "+1",
            "-1",
            "@SUM(A1)",
            "\tx",
            "\rx",
            "=HYPERLINK(\"x\")",
        ] {
            assert_eq!(neutralise(risky), format!("'{risky}"));
        }
        for safe in [
            "",
            "Jane",
            "a=b",
            " =1",
            "'=1",
            "jane.doe@example.com",
            "00123",
        ] {
            assert!(matches!(neutralise(safe), Cow::Borrowed(s) if s == safe));
        }
    }

    #[test]
    fn csv_has_bom_crlf_and_quotes_where_needed() {
        let csv = write_csv(
            &["A", "B"],
            [
                vec!["x".into(), "a,b".into()],
                vec!["say \"hi\"".into(), "semi;colon".into()],
                vec!["line\nbreak".into(), "tab\there".into()],
                vec!["=1+1".into(), String::new()],
            ],
        );
        assert_eq!(
            String::from_utf8(csv).unwrap(),
            "\u{FEFF}A,B\r\nx,\"a,b\"\r\n\"say \"\"hi\"\"\",\"semi;colon\"\r\n\"line\nbreak\",\"tab\there\"\r\n'=1+1,\r\n"
        );
    }

    #[test]
    fn bad_sheet_names_are_write_errors() {
        let err = write_xlsx("a/b", &["A"], []).unwrap_err();
        assert_eq!(err.code(), "write_failed");
    }

    #[test]
    fn cells_longer_than_excel_allows_are_write_errors() {
        let err = write_xlsx("S", &["A"], [vec!["x".repeat(40_000)]]).unwrap_err();
        assert_eq!(err.code(), "write_failed");
    }
}
