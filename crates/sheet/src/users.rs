//! The users import sheet of `spec/accounts.md` §9: its template and its reader.
//!
//! Only the sheet's shape is checked here. Whether an e-mail is valid, repeated or taken, and
//! whether a role exists, is for the import's validation, which reports per cell in the preview.

use rust_xlsxwriter::{DataValidation, Workbook};

use crate::write::{write_error, write_header};
use crate::{Limits, SheetError, Table, cell_ref, read_table, write_csv};

/// The template's columns, in the template's order.
pub const HEADERS: [&str; 5] = ["FIRST NAME", "LAST NAME", "NAME", "EMAIL", "ROLE"];
/// What the template's ROLE drop-down offers; blank means `User`.
pub const ROLES: [&str; 2] = ["User", "Account Admin"];
/// The template's example row.
pub const EXAMPLE: [&str; 5] = ["Jane", "Doe", "Jane Doe", "jane.doe@example.com", "User"];
/// Rows the ROLE drop-down covers: as many as the default [`Limits::max_rows`] admits.
const TEMPLATE_ROWS: u32 = 50_000;

/// One row of the sheet, values trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// The row number Excel shows.
    pub line: usize,
    pub first_name: String,
    pub last_name: String,
    pub name: String,
    pub email: String,
    pub role: String,
    /// The columns of this row that hold a formula, as (header, cell reference), e.g.
    /// `("EMAIL", "D7")`. Their values above are what the formula last computed.
    pub formulas: Vec<(&'static str, String)>,
}

/// Reads a filled-in template (.xlsx or CSV).
///
/// Headers are matched ignoring case, surrounding and repeated spaces, and order; columns the
/// template does not have are ignored, and of two columns with the same header the leftmost
/// counts. Rows whose five template columns are all blank are skipped, since they hold nothing
/// to import even if other columns have notes in them.
pub fn read_users(bytes: &[u8], limits: &Limits) -> Result<Vec<UserRow>, SheetError> {
    let table = read_table(bytes, limits)?;
    let columns = columns(&table)?;
    let mut users = Vec::with_capacity(table.rows.len());
    for mut row in table.rows {
        let mut values: [String; 5] = Default::default();
        let mut formulas = Vec::new();
        for (field, (&header, &column)) in HEADERS.iter().zip(&columns).enumerate() {
            // Moved, not cloned: the table is not needed afterwards, and the columns differ.
            if let Some(cell) = row.cells.get_mut(column) {
                values[field] = trimmed(std::mem::take(&mut cell.value));
                if cell.formula.is_some() {
                    formulas.push((header, cell_ref(column, row.line)));
                }
            }
        }
        if formulas.is_empty() && values.iter().all(String::is_empty) {
            continue;
        }
        let [first_name, last_name, name, email, role] = values;
        users.push(UserRow {
            line: row.line,
            first_name,
            last_name,
            name,
            email,
            role,
            formulas,
        });
    }
    Ok(users)
}

fn trimmed(value: String) -> String {
    match value.trim() {
        t if t.len() == value.len() => value,
        t => t.to_owned(),
    }
}

/// Where each of [`HEADERS`] is in the sheet; distinct, since the headers differ.
fn columns(table: &Table) -> Result<[usize; 5], SheetError> {
    let found: Vec<String> = table.headers.iter().map(|h| normalise(h)).collect();
    let mut columns = [0; 5];
    for (slot, header) in columns.iter_mut().zip(HEADERS) {
        *slot = found
            .iter()
            .position(|h| h == header)
            .ok_or(SheetError::MissingHeader {
                header,
                expected: &HEADERS,
            })?;
    }
    Ok(columns)
}

/// `" first   Name "` → `"FIRST NAME"`.
fn normalise(header: &str) -> String {
    header
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase()
}

/// The .xlsx template: sheet "Users", bold frozen headers, the example row, and a ROLE
/// drop-down that Excel enforces as the user types.
pub fn template_xlsx() -> Result<Vec<u8>, SheetError> {
    let mut workbook = Workbook::new();
    let worksheet = workbook.add_worksheet();
    worksheet.set_name("Users").map_err(write_error)?;
    write_header(worksheet, &HEADERS)?;
    for (c, value) in (0..).zip(EXAMPLE) {
        worksheet.write_string(1, c, value).map_err(write_error)?;
    }
    for (c, width) in (0..).zip([16.0, 16.0, 24.0, 32.0, 16.0]) {
        worksheet.set_column_width(c, width).map_err(write_error)?;
    }
    let roles = DataValidation::new()
        .allow_list_strings(&ROLES)
        .and_then(|v| v.set_error_title("ROLE"))
        .and_then(|v| {
            v.set_error_message("Choose User or Account Admin, or leave the cell blank for User.")
        })
        .map_err(write_error)?
        .ignore_blank(true);
    worksheet
        .add_data_validation(1, 4, TEMPLATE_ROWS, 4, &roles)
        .map_err(write_error)?;
    workbook.save_to_buffer().map_err(write_error)
}

/// The CSV template: the header and the example row, for those who prefer a text editor.
pub fn template_csv() -> Vec<u8> {
    write_csv(&HEADERS, [EXAMPLE.map(String::from).to_vec()])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(text: &str) -> Result<Vec<UserRow>, SheetError> {
        read_users(text.as_bytes(), &Limits::default())
    }

    #[test]
    fn headers_are_normalised() {
        assert_eq!(normalise("  first \t  name "), "FIRST NAME");
        assert_eq!(normalise("Email"), "EMAIL");
        assert_eq!(normalise("rôle"), "RÔLE");
    }

    #[test]
    fn reads_the_template_order() {
        let rows = users("FIRST NAME,LAST NAME,NAME,EMAIL,ROLE\r\n Jane , Doe ,Jane Doe, jane@example.com ,Account Admin\r\n").unwrap();
        assert_eq!(
            rows,
            [UserRow {
                line: 2,
                first_name: "Jane".into(),
                last_name: "Doe".into(),
                name: "Jane Doe".into(),
                email: "jane@example.com".into(),
                role: "Account Admin".into(),
                formulas: vec![],
            }]
        );
    }

    #[test]
    fn reordered_headers_in_any_case_with_extra_columns() {
        let rows = users(
            "Notes;email; Role ;name;Last  Name;first name\n\
             vip;a@example.com;User;Ann B;B;Ann\n",
        )
        .unwrap();
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(
            (
                row.first_name.as_str(),
                row.last_name.as_str(),
                row.name.as_str(),
                row.email.as_str(),
                row.role.as_str()
            ),
            ("Ann", "B", "Ann B", "a@example.com", "User")
        );
    }

    #[test]
    fn missing_header_is_named() {
        let err = users("FIRST NAME,LAST NAME,NAME,E-MAIL,ROLE\n").unwrap_err();
        assert_eq!(
            err,
            SheetError::MissingHeader {
                header: "EMAIL",
                expected: &HEADERS
            }
        );
        assert_eq!(
            err.to_string(),
            "The header row has no EMAIL column; the template's columns are FIRST NAME, LAST NAME, NAME, EMAIL, ROLE."
        );
        assert_eq!(err.code(), "missing_header");
    }

    #[test]
    fn short_rows_and_blank_template_columns() {
        let rows = users(
            "FIRST NAME,LAST NAME,NAME,EMAIL,ROLE,NOTES\n\
             Bo\n\
             ,,,,,only a note\n\
             \n\
             ,,,c@example.com\n",
        )
        .unwrap();
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.line, r.first_name.as_str(), r.email.as_str()))
            .collect();
        assert_eq!(got, [(2, "Bo", ""), (5, "", "c@example.com")]);
    }

    #[test]
    fn formulas_are_reported_by_header_and_cell() {
        let rows =
            users("NAME,EMAIL,FIRST NAME,LAST NAME,ROLE\nx,=A2&\"@example.com\",y,z,=\"User\"\n")
                .unwrap();
        assert_eq!(
            rows[0].formulas,
            [("EMAIL", "B2".to_owned()), ("ROLE", "E2".to_owned())]
        );
    }

    #[test]
    fn header_only_gives_no_rows() {
        assert_eq!(
            users("FIRST NAME,LAST NAME,NAME,EMAIL,ROLE\r\n").unwrap(),
            []
        );
    }

    #[test]
    fn template_csv_reads_back_as_the_example() {
        let csv = template_csv();
        assert!(csv.starts_with(b"\xEF\xBB\xBFFIRST NAME,LAST NAME,NAME,EMAIL,ROLE\r\n"));
        let rows = read_users(&csv, &Limits::default()).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[0].email, "jane.doe@example.com");
    }
}
