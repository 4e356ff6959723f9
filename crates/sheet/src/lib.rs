//! Spreadsheets for the user bulk import and export (`spec/accounts.md` §9).
//!
//! Reading takes the uploaded bytes, whatever the file was called: the format is recognised by
//! content (an .xlsx workbook or CSV text), so a renamed file or a browser's guessed MIME type
//! cannot send it down the wrong parser. Every way a file can be unusable is a [`SheetError`]
//! with a sentence an administrator can act on and a stable [`SheetError::code`].
//!
//! Writing neutralises formula injection ([`neutralise`]): exported cells come from user input
//! (names typed by anyone who can edit a profile), and a spreadsheet program must never run them.
//!
//! The library does no IO of its own: callers hand in bytes and get bytes back.

mod csv_in;
mod detect;
mod error;
mod read;
mod table;
pub mod users;
mod write;
mod xlsx_in;

pub use error::SheetError;
pub use read::read_table;
pub use table::{Cell, Limits, Row, Table, cell_ref};
pub use write::{neutralise, write_csv, write_xlsx};
