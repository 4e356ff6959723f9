//! The entry point that picks a reader for the uploaded bytes.

use crate::detect::{Format, detect};
use crate::{Limits, SheetError, Table, csv_in, xlsx_in};

/// Reads the first visible worksheet of an .xlsx workbook, or a CSV file, into a [`Table`].
///
/// The format is recognised from the content, so the file name and MIME type the browser sent
/// do not matter. The first non-blank row is the header row; fully blank rows below it are
/// skipped (Excel leaves them behind when rows are cleared) while [`crate::Row::line`] keeps the
/// row numbers the user sees.
pub fn read_table(bytes: &[u8], limits: &Limits) -> Result<Table, SheetError> {
    match detect(bytes, limits)? {
        Format::Csv => csv_in::read(bytes, limits),
        Format::Xlsx => xlsx_in::read(bytes, limits),
    }
}
