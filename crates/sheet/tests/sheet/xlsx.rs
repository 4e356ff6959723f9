//! Reading real .xlsx workbooks: what rust_xlsxwriter writes, and hand-made parts for what it
//! cannot write (shared formulas, odd row order).

use crate::{unzip, zip_parts};
use rust_xlsxwriter::{ExcelDateTime, Format, Formula, Workbook};
use skybridge_sheet::users::{self, EXAMPLE, HEADERS, UserRow};
use skybridge_sheet::{Cell, Limits, SheetError, Table, read_table, write_xlsx};

fn read(bytes: &[u8]) -> Result<Table, SheetError> {
    read_table(bytes, &Limits::default())
}

fn values(table: &Table) -> Vec<(usize, Vec<&str>)> {
    table
        .rows
        .iter()
        .map(|r| (r.line, r.cells.iter().map(|c| c.value.as_str()).collect()))
        .collect()
}

fn part<'a>(parts: &'a [(String, Vec<u8>)], name: &str) -> &'a str {
    let (_, data) = parts.iter().find(|(n, _)| n == name).unwrap();
    std::str::from_utf8(data).unwrap()
}

/// A one-sheet workbook whose sheet XML is `sheet_data` (the rows inside `<sheetData>`).
fn workbook_with_sheet_data(sheet_data: &str) -> Vec<u8> {
    let base = write_xlsx("S", &["x"], []).unwrap();
    let mut parts = unzip(&base);
    let sheet = parts
        .iter_mut()
        .find(|(n, _)| n == "xl/worksheets/sheet1.xml")
        .unwrap();
    let xml = String::from_utf8(sheet.1.clone()).unwrap();
    let start = xml.find("<sheetData>").unwrap();
    let end = xml.find("</sheetData>").unwrap() + "</sheetData>".len();
    let new = format!(
        "{}<sheetData>{sheet_data}</sheetData>{}",
        &xml[..start],
        &xml[end..]
    );
    sheet.1 = new.into_bytes();
    zip_parts(&parts)
}

#[test]
fn write_xlsx_round_trips_strings() {
    let rows = vec![
        vec![
            "00123".to_owned(),
            "=1+1".into(),
            "-5".into(),
            "+44 20".into(),
        ],
        vec![
            "  spaced  ".into(),
            "line\nbreak".into(),
            "TRUE".into(),
            "1.50".into(),
        ],
        vec![String::new(), String::new(), String::new(), String::new()],
        vec![
            "Zoë".into(),
            "中文".into(),
            "😀".into(),
            "2024-01-31".into(),
        ],
        vec![
            "@x".into(),
            "a,b;c\"d".into(),
            "'quoted".into(),
            "\tlead".into(),
        ],
        vec!["only".into()],
    ];
    let bytes = write_xlsx("Users", &["A", "B", "C", "D"], rows).unwrap();
    let table = read(&bytes).unwrap();
    assert_eq!(table.headers, ["A", "B", "C", "D"]);
    assert_eq!(table.header_line, 1);
    assert_eq!(
        values(&table),
        [
            (2, vec!["00123", "'=1+1", "'-5", "'+44 20"]),
            (3, vec!["  spaced  ", "line\nbreak", "TRUE", "1.50"]),
            (5, vec!["Zoë", "中文", "😀", "2024-01-31"]),
            (6, vec!["'@x", "a,b;c\"d", "'quoted", "'\tlead"]),
            (7, vec!["only", "", "", ""]),
        ]
    );
    assert!(
        table
            .rows
            .iter()
            .flat_map(|r| &r.cells)
            .all(|c| c.formula.is_none())
    );
}

#[test]
fn template_reads_back_as_the_example() {
    let bytes = users::template_xlsx().unwrap();
    let rows = users::read_users(&bytes, &Limits::default()).unwrap();
    assert_eq!(
        rows,
        [UserRow {
            line: 2,
            first_name: EXAMPLE[0].into(),
            last_name: EXAMPLE[1].into(),
            name: EXAMPLE[2].into(),
            email: EXAMPLE[3].into(),
            role: EXAMPLE[4].into(),
            formulas: vec![],
        }]
    );
    assert_eq!(read(&bytes).unwrap().headers, HEADERS);
}

#[test]
fn template_has_the_role_drop_down() {
    let parts = unzip(&users::template_xlsx().unwrap());
    let sheet = part(&parts, "xl/worksheets/sheet1.xml");
    let start = sheet.find("<dataValidation ").unwrap();
    let validation = &sheet[start..start + sheet[start..].find("</dataValidation>").unwrap()];
    assert!(validation.contains(r#"type="list""#), "{validation}");
    assert!(validation.contains(r#"allowBlank="1""#), "{validation}");
    assert!(validation.contains(r#"sqref="E2:E50001""#), "{validation}");
    assert!(
        validation.contains("<formula1>\"User,Account Admin\"</formula1>"),
        "{validation}"
    );
    assert!(part(&parts, "xl/workbook.xml").contains(r#"name="Users""#));
    // The header is bold and frozen.
    assert!(part(&parts, "xl/styles.xml").contains("<b/>"));
    assert!(sheet.contains(r#"state="frozen""#));
}

#[test]
fn numbers_booleans_dates_errors_and_formulas() {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let datetime = Format::new().set_num_format("dd/mm/yyyy hh:mm");
    for (c, h) in ["n", "f", "b", "d", "dt", "formula", "uncached"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    sheet.write_number(1, 0, 4412345678.0).unwrap();
    sheet.write_number(1, 1, 2.5).unwrap();
    sheet.write_boolean(1, 2, true).unwrap();
    let day = ExcelDateTime::from_ymd(2024, 2, 29).unwrap();
    sheet.write_datetime_with_format(1, 3, &day, &date).unwrap();
    let moment = ExcelDateTime::from_ymd(2024, 2, 29)
        .unwrap()
        .and_hms(13, 45, 0)
        .unwrap();
    sheet
        .write_datetime_with_format(1, 4, &moment, &datetime)
        .unwrap();
    sheet
        .write_formula(
            1,
            5,
            Formula::new("=A2&\"@example.com\"").set_result("4412345678@example.com"),
        )
        .unwrap();
    sheet.write_formula(1, 6, "=1/0").unwrap();
    let bytes = workbook.save_to_buffer().unwrap();

    let table = read(&bytes).unwrap();
    let row = &table.rows[0];
    let value = |c: usize| row.cells[c].value.as_str();
    assert_eq!(value(0), "4412345678");
    assert_eq!(value(1), "2.5");
    assert_eq!(value(2), "TRUE");
    assert_eq!(value(3), "2024-02-29");
    assert_eq!(value(4), "2024-02-29 13:45:00");
    assert_eq!(
        row.cells[5],
        Cell {
            value: "4412345678@example.com".into(),
            formula: Some("=A2&\"@example.com\"".into()),
        }
    );
    assert_eq!(row.cells[6].formula.as_deref(), Some("=1/0"));
    assert!(row.cells[0..5].iter().all(|c| c.formula.is_none()));
}

#[test]
fn shared_formulas_are_reported_on_every_cell() {
    let bytes = workbook_with_sheet_data(
        r#"<row r="1"><c r="A1" t="inlineStr"><is><t>EMAIL</t></is></c><c r="B1" t="inlineStr"><is><t>N</t></is></c></row>
           <row r="2"><c r="A2" t="str"><f t="shared" ref="A2:A3" si="0">B2&amp;"@x.com"</f><v>1@x.com</v></c><c r="B2"><v>1</v></c></row>
           <row r="3"><c r="A3" t="str"><f t="shared" si="0"/><v>2@x.com</v></c><c r="B3"><v>2</v></c></row>
           <row r="4"><c r="A4"><f t="shared" si="7"/></c></row>"#,
    );
    let table = read(&bytes).unwrap();
    let formulas: Vec<_> = table
        .rows
        .iter()
        .map(|r| {
            (
                r.line,
                r.cells[0].value.as_str(),
                r.cells[0].formula.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        formulas,
        [
            (2, "1@x.com", Some("=B2&\"@x.com\"")),
            (3, "2@x.com", Some("=B3&\"@x.com\"")),
            // Its anchor is missing: still a formula, text unknown.
            (4, "", Some("=")),
        ]
    );
}

#[test]
fn blank_rows_and_formatted_empty_cells() {
    let bytes = workbook_with_sheet_data(
        r#"<row r="2"><c r="B2" t="inlineStr"><is><t>H</t></is></c><c r="C2" s="0"/></row>
           <row r="3"><c r="B3" t="inlineStr"><is><t>  </t></is></c></row>
           <row r="5"><c r="C5"><v>7</v></c></row>
           <row r="9"><c r="B9" s="0"/><c r="Z9" s="0"/><c r="XFD9" s="0"/></row>
           <row r="1048576"><c r="A1048576" s="0"/></row>"#,
    );
    let table = read(&bytes).unwrap();
    assert_eq!(table.header_line, 2);
    assert_eq!(table.headers, ["", "H"]);
    assert_eq!(values(&table), [(5, vec!["", "", "7"])]);
}

#[test]
fn rows_out_of_order_are_corrupt() {
    let bytes = workbook_with_sheet_data(
        r#"<row r="3"><c r="A3"><v>1</v></c></row><row r="2"><c r="A2"><v>2</v></c></row>"#,
    );
    assert_eq!(read(&bytes).unwrap_err().code(), "corrupt");
}

#[test]
fn cells_beyond_the_column_limit() {
    let limits = Limits {
        max_columns: 3,
        ..Limits::default()
    };
    let ok = workbook_with_sheet_data(
        r#"<row r="1"><c r="A1"><v>1</v></c><c r="XFD1" t="inlineStr"><is><t> </t></is></c></row>"#,
    );
    assert_eq!(read_table(&ok, &limits).unwrap().headers, ["1"]);
    let bad = workbook_with_sheet_data(
        r#"<row r="1"><c r="A1"><v>1</v></c><c r="D1"><v>2</v></c></row>"#,
    );
    assert_eq!(
        read_table(&bad, &limits),
        Err(SheetError::TooManyColumns { max: 3 })
    );
}

#[test]
fn the_first_visible_worksheet_is_read() {
    let mut workbook = Workbook::new();
    let hidden = workbook.add_worksheet();
    hidden.write_string(0, 0, "hidden").unwrap();
    hidden.set_hidden(true);
    let shown = workbook.add_worksheet();
    shown.write_string(0, 0, "shown").unwrap();
    shown.set_active(true);
    let bytes = workbook.save_to_buffer().unwrap();
    assert_eq!(read(&bytes).unwrap().headers, ["shown"]);
}

#[test]
fn an_empty_workbook_is_empty() {
    let mut workbook = Workbook::new();
    workbook.add_worksheet();
    let bytes = workbook.save_to_buffer().unwrap();
    assert_eq!(read(&bytes), Err(SheetError::Empty));
}

#[test]
fn row_limit_stops_early() {
    let rows = (0..11).map(|i| vec![i.to_string()]);
    let bytes = write_xlsx("S", &["n"], rows).unwrap();
    let limits = Limits {
        max_rows: 10,
        ..Limits::default()
    };
    assert_eq!(
        read_table(&bytes, &limits),
        Err(SheetError::TooManyRows { max: 10 })
    );
    let limits = Limits {
        max_rows: 11,
        ..Limits::default()
    };
    assert_eq!(read_table(&bytes, &limits).unwrap().rows.len(), 11);
}

#[test]
fn long_cells_are_named_by_reference() {
    let bytes = write_xlsx(
        "S",
        &["a", "b", "c"],
        [vec![], vec!["".into(), "".into(), "x".repeat(11)]],
    )
    .unwrap();
    let limits = Limits {
        max_cell_chars: 10,
        ..Limits::default()
    };
    assert_eq!(
        read_table(&bytes, &limits),
        Err(SheetError::CellTooLong {
            cell: "C3".into(),
            max: 10
        })
    );
}

#[test]
fn too_large_before_and_after_unpacking() {
    let bytes = write_xlsx("S", &["a"], (0..1000).map(|i| vec![format!("row {i}")])).unwrap();
    let limits = Limits {
        max_bytes: bytes.len() - 1,
        ..Limits::default()
    };
    assert_eq!(
        read_table(&bytes, &limits),
        Err(SheetError::TooLarge {
            max_bytes: bytes.len() - 1
        })
    );
    let limits = Limits {
        max_unpacked_bytes: 10_000,
        ..Limits::default()
    };
    let err = read_table(&bytes, &limits).unwrap_err();
    assert_eq!(err, SheetError::TooLargeUnpacked { max_bytes: 10_000 });
    assert_eq!(err.code(), "too_large");
}

#[test]
fn encrypted_and_old_xls_files() {
    // What Excel writes for a password-protected workbook starts like any CFB file.
    let mut cfb = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    cfb.resize(4096, 0);
    let err = read(&cfb).unwrap_err();
    assert_eq!(err, SheetError::Encrypted);
    assert!(err.to_string().contains("password-protected"));
}

#[test]
fn zips_that_are_not_workbooks() {
    let docx = zip_parts(&[
        ("[Content_Types].xml".into(), b"<Types/>".to_vec()),
        ("word/document.xml".into(), b"<w:document/>".to_vec()),
    ]);
    assert_eq!(read(&docx), Err(SheetError::NotASpreadsheet));
    let ods = zip_parts(&[
        (
            "mimetype".into(),
            b"application/vnd.oasis.opendocument.spreadsheet".to_vec(),
        ),
        ("content.xml".into(), b"<office:document-content/>".to_vec()),
    ]);
    assert_eq!(read(&ods), Err(SheetError::NotASpreadsheet));
}

#[test]
fn truncated_workbooks_are_corrupt() {
    let bytes = users::template_xlsx().unwrap();
    let err = read(&bytes[..bytes.len() / 2]).unwrap_err();
    assert_eq!(err.code(), "corrupt");
    assert!(
        err.to_string().starts_with("The workbook is damaged"),
        "{err}"
    );
}

#[test]
fn a_workbook_missing_its_sheet_is_corrupt() {
    let mut parts = unzip(&users::template_xlsx().unwrap());
    parts.retain(|(n, _)| n != "xl/worksheets/sheet1.xml");
    let err = read(&zip_parts(&parts)).unwrap_err();
    assert_eq!(err.code(), "corrupt", "{err}");
}

/// A 2 kB workbook declaring fifty billion shared strings made calamine reserve a terabyte and abort the
/// process; it is refused before calamine sees it. An oversized shared-strings part is refused by size.
#[test]
fn declared_shared_strings_are_bounded() {
    let bytes = write_xlsx("Users", &["NAME"], [vec!["Ada".to_string()]]).unwrap();
    let parts = unzip(&bytes);
    let sst = part(&parts, "xl/sharedStrings.xml").to_string();
    assert!(sst.contains("uniqueCount=\""), "{sst}");
    let inflated = regex_free_replace(&sst, "uniqueCount=\"", "50000000000");
    let bombed: Vec<(String, Vec<u8>)> = parts
        .iter()
        .map(|(name, data)| {
            if name == "xl/sharedStrings.xml" {
                (name.clone(), inflated.clone().into_bytes())
            } else {
                (name.clone(), data.clone())
            }
        })
        .collect();
    let err = read(&zip_parts(&bombed)).unwrap_err();
    assert_eq!(err.code(), "corrupt", "{err}");
    assert!(err.to_string().contains("50000000000"), "{err}");

    // The same workbook as written reads; with a tiny shared-strings allowance it is too large.
    assert!(read(&bytes).is_ok());
    let limits = Limits {
        max_shared_strings_bytes: 10,
        ..Limits::default()
    };
    assert_eq!(
        read_table(&bytes, &limits).unwrap_err(),
        SheetError::TooLargeUnpacked { max_bytes: 10 }
    );
}

/// `s` with the digits after the first `attr` replaced by `digits`.
fn regex_free_replace(s: &str, attr: &str, digits: &str) -> String {
    let at = s.find(attr).expect("attribute present") + attr.len();
    let end = at + s[at..].find('"').expect("closing quote");
    format!("{}{digits}{}", &s[..at], &s[end..])
}
