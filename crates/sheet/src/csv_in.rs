//! CSV as Excel, LibreOffice and Google Sheets write it.
//!
//! The tokenizer is our own rather than the `csv` crate's because that one skips empty lines
//! without a trace, and Excel shows each of them as a row: counting them is what makes
//! "row 7" in an error message the row the user sees.

use crate::table::TableBuilder;
use crate::{Cell, Limits, SheetError, Table};

const BOM: &[u8] = b"\xEF\xBB\xBF";
/// In order of preference when the header row has as many of one as of another.
const DELIMITERS: [u8; 3] = [b',', b';', b'\t'];

pub(crate) fn read(bytes: &[u8], limits: &Limits) -> Result<Table, SheetError> {
    let text = bytes.strip_prefix(BOM).unwrap_or(bytes);
    let mut tokenizer = Tokenizer {
        input: text,
        pos: 0,
        delimiter: sniff_delimiter(text),
    };
    let mut builder = TableBuilder::new(limits);
    let mut record = Record::default();
    let mut line = 0;
    while tokenizer.next_record(&mut record, builder.max_columns()) {
        line += 1;
        if record.overflow {
            return Err(SheetError::TooManyColumns {
                max: builder.max_columns(),
            });
        }
        let mut cells = Vec::with_capacity(record.ends.len());
        for field in record.fields() {
            let value = std::str::from_utf8(field).map_err(|_| SheetError::NotUtf8 { line })?;
            cells.push(cell(value));
        }
        builder.push(line, cells)?;
    }
    builder.finish()
}

/// Excel evaluates a CSV cell that starts with `=`, so report it the way an .xlsx formula is.
fn cell(value: &str) -> Cell {
    let formula = (value.len() > 1 && value.starts_with('=')).then(|| value.to_owned());
    Cell {
        value: value.to_owned(),
        formula,
    }
}

/// Picks the delimiter that occurs most often, outside quotes, in the first non-empty line:
/// European Excel writes `;`, "Text (Tab delimited)" writes tabs, everyone else commas.
fn sniff_delimiter(text: &[u8]) -> u8 {
    let mut counts = [0usize; DELIMITERS.len()];
    let mut quoted = false;
    let start = text
        .iter()
        .position(|b| *b != b'\r' && *b != b'\n')
        .unwrap_or(text.len());
    for &b in &text[start..] {
        match b {
            b'"' => quoted = !quoted,
            b'\r' | b'\n' if !quoted => break,
            _ if !quoted => {
                if let Some(i) = DELIMITERS.iter().position(|d| *d == b) {
                    counts[i] += 1;
                }
            }
            _ => {}
        }
    }
    let mut best = 0;
    for i in 1..DELIMITERS.len() {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    DELIMITERS[best]
}

/// One record's fields, stored back to back so a file of many rows costs few allocations.
#[derive(Default)]
struct Record {
    buf: Vec<u8>,
    ends: Vec<usize>,
    /// A non-blank field lay beyond the column limit; it was not stored.
    overflow: bool,
}

impl Record {
    fn fields(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(self.ends.iter().copied())
            .map(|(s, e)| &self.buf[s..e])
    }
}

/// RFC 4180 plus the leniency of spreadsheet programs: a record ends at CRLF, LF or a lone CR;
/// a stray quote inside an unquoted field is text; text after a closing quote is appended; an
/// unterminated quote runs to the end of the file. Nothing is an error.
struct Tokenizer<'a> {
    input: &'a [u8],
    pos: usize,
    delimiter: u8,
}

impl Tokenizer<'_> {
    /// Reads the next record into `record`, storing at most `max_fields` fields so a line of a
    /// million commas costs no memory. Returns false at the end of the input.
    fn next_record(&mut self, record: &mut Record, max_fields: usize) -> bool {
        record.buf.clear();
        record.ends.clear();
        record.overflow = false;
        if self.pos >= self.input.len() {
            return false;
        }
        loop {
            let start = record.buf.len();
            self.field(&mut record.buf);
            if record.ends.len() < max_fields {
                record.ends.push(record.buf.len());
            } else {
                if !record.buf[start..].iter().all(u8::is_ascii_whitespace) {
                    record.overflow = true;
                }
                record.buf.truncate(start);
            }
            match self.input.get(self.pos) {
                Some(&b) if b == self.delimiter => self.pos += 1,
                Some(b'\r') => {
                    self.pos += 1;
                    if self.input.get(self.pos) == Some(&b'\n') {
                        self.pos += 1;
                    }
                    return true;
                }
                Some(b'\n') => {
                    self.pos += 1;
                    return true;
                }
                _ => return true,
            }
        }
    }

    /// Appends one field's content to `out`, leaving `pos` on the delimiter, terminator or end.
    fn field(&mut self, out: &mut Vec<u8>) {
        if self.input.get(self.pos) == Some(&b'"') {
            self.pos += 1;
            loop {
                let rest = &self.input[self.pos..];
                match rest.iter().position(|b| *b == b'"') {
                    None => {
                        out.extend_from_slice(rest);
                        self.pos = self.input.len();
                        return;
                    }
                    Some(i) => {
                        out.extend_from_slice(&rest[..i]);
                        self.pos += i + 1;
                        if self.input.get(self.pos) == Some(&b'"') {
                            out.push(b'"');
                            self.pos += 1;
                        } else {
                            break;
                        }
                    }
                }
            }
        }
        let rest = &self.input[self.pos..];
        let len = rest
            .iter()
            .position(|b| *b == self.delimiter || *b == b'\r' || *b == b'\n')
            .unwrap_or(rest.len());
        out.extend_from_slice(&rest[..len]);
        self.pos += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(bytes: &[u8]) -> Table {
        match read(bytes, &Limits::default()) {
            Ok(table) => table,
            Err(e) => panic!("{e}"),
        }
    }

    fn values(table: &Table) -> Vec<(usize, Vec<&str>)> {
        table
            .rows
            .iter()
            .map(|r| (r.line, r.cells.iter().map(|c| c.value.as_str()).collect()))
            .collect()
    }

    fn records(text: &[u8], delimiter: u8) -> Vec<Vec<String>> {
        let mut tokenizer = Tokenizer {
            input: text,
            pos: 0,
            delimiter,
        };
        let mut record = Record::default();
        let mut out = Vec::new();
        while tokenizer.next_record(&mut record, 1000) {
            out.push(
                record
                    .fields()
                    .map(|f| String::from_utf8_lossy(f).into_owned())
                    .collect(),
            );
        }
        out
    }

    #[test]
    fn plain_lf_and_crlf_and_cr() {
        for text in [
            &b"a,b\n1,2\n"[..],
            b"a,b\r\n1,2\r\n",
            b"a,b\r1,2",
            b"a,b\n1,2",
        ] {
            let t = table(text);
            assert_eq!(t.headers, ["a", "b"]);
            assert_eq!(values(&t), [(2, vec!["1", "2"])]);
        }
    }

    #[test]
    fn bom_is_dropped() {
        let t = table(b"\xEF\xBB\xBFFIRST NAME,EMAIL\r\nJane,j@example.com\r\n");
        assert_eq!(t.headers, ["FIRST NAME", "EMAIL"]);
        assert_eq!(values(&t), [(2, vec!["Jane", "j@example.com"])]);
    }

    #[test]
    fn semicolon_and_tab_are_detected_from_the_header() {
        let t = table(b"a;b;c\r\n1,5;2;3\r\n");
        assert_eq!(t.headers, ["a", "b", "c"]);
        assert_eq!(values(&t), [(2, vec!["1,5", "2", "3"])]);
        let t = table(b"a\tb\n1, 2\t3\n");
        assert_eq!(t.headers, ["a", "b"]);
        assert_eq!(values(&t), [(2, vec!["1, 2", "3"])]);
    }

    #[test]
    fn delimiters_inside_quotes_do_not_vote() {
        assert_eq!(sniff_delimiter(b"\"a;b;c\",d\n"), b',');
        assert_eq!(sniff_delimiter(b"\"a,b,c\";d\n"), b';');
        assert_eq!(sniff_delimiter(b"\r\n\na;b\n"), b';');
        assert_eq!(sniff_delimiter(b"single\n1,2,3\n"), b',');
    }

    #[test]
    fn quoted_fields_hold_delimiters_quotes_and_newlines() {
        let t = table(b"name,note\r\n\"Doe, Jane\",\"say \"\"hi\"\"\r\nsecond line\"\r\nx,y\r\n");
        assert_eq!(
            values(&t),
            [
                (2, vec!["Doe, Jane", "say \"hi\"\r\nsecond line"]),
                (3, vec!["x", "y"]),
            ]
        );
    }

    #[test]
    fn lenient_quotes() {
        assert_eq!(records(b"a\"b,c", b','), [["a\"b", "c"]]);
        assert_eq!(records(b"\"ab\"cd,e", b','), [["abcd", "e"]]);
        assert_eq!(records(b"\"open,x\ny", b','), [["open,x\ny"]]);
        assert_eq!(records(b"\"\"", b','), [[""]]);
    }

    #[test]
    fn empty_fields_and_lines() {
        assert_eq!(records(b"a,,b,\n", b','), [["a", "", "b", ""]]);
        assert_eq!(records(b"\n\n", b','), [[""], [""]]);
        assert_eq!(records(b",", b','), [["", ""]]);
        assert!(records(b"", b',').is_empty());
    }

    #[test]
    fn short_rows_are_padded_and_long_rows_kept() {
        let t = table(b"a,b,c\n1\n1,2,3,4\n1,2,3,,\n");
        assert_eq!(
            values(&t),
            [
                (2, vec!["1", "", ""]),
                (3, vec!["1", "2", "3", "4"]),
                (4, vec!["1", "2", "3"]),
            ]
        );
    }

    #[test]
    fn blank_rows_are_skipped_but_counted() {
        let t = table(b"\r\n a , b \r\n\r\n,,\r\n1,2\r\n  ,\t\r\n\"\",\"\"\r\n3,4\r\n\r\n\r\n");
        assert_eq!(t.header_line, 2);
        assert_eq!(t.headers, [" a ", " b "]);
        assert_eq!(values(&t), [(5, vec!["1", "2"]), (8, vec!["3", "4"])]);
    }

    #[test]
    fn line_numbers_count_records_not_physical_lines() {
        let t = table(b"a,b\n\"x\ny\nz\",1\n2,3\n");
        assert_eq!(values(&t), [(2, vec!["x\ny\nz", "1"]), (3, vec!["2", "3"])]);
    }

    #[test]
    fn formulas_are_reported() {
        let t = table(b"a,b\n=1+1,'=text\n=,x\n");
        assert_eq!(t.rows[0].cells[0].formula.as_deref(), Some("=1+1"));
        assert_eq!(t.rows[0].cells[0].value, "=1+1");
        assert_eq!(t.rows[0].cells[1].formula, None);
        assert_eq!(t.rows[1].cells[0].formula, None);
    }

    #[test]
    fn latin1_is_not_utf8() {
        // "Né" in Latin-1.
        assert_eq!(
            read(b"name\nN\xE9\n", &Limits::default()),
            Err(SheetError::NotUtf8 { line: 2 })
        );
    }

    #[test]
    fn one_latin1_line_in_a_utf8_file_is_named() {
        let mut text = "name,city\nZoë,Zürich\n".as_bytes().to_vec();
        text.extend_from_slice(b"\n\"Ren\xE9\",Paris\n");
        assert_eq!(
            read(&text, &Limits::default()),
            Err(SheetError::NotUtf8 { line: 4 })
        );
    }

    #[test]
    fn a_character_split_by_a_delimiter_is_invalid() {
        // 0xC3 0xA9 is é; with a comma between them neither field is valid UTF-8.
        assert_eq!(
            read(b"a,b\n\xC3,\xA9\n", &Limits::default()),
            Err(SheetError::NotUtf8 { line: 2 })
        );
    }

    #[test]
    fn bom_only_is_empty() {
        assert_eq!(
            read(b"\xEF\xBB\xBF", &Limits::default()),
            Err(SheetError::Empty)
        );
        assert_eq!(
            read(b"\xEF\xBB\xBF,,\r\n", &Limits::default()),
            Err(SheetError::Empty)
        );
    }

    #[test]
    fn row_limit_counts_data_rows_only() {
        let limits = Limits {
            max_rows: 2,
            ..Limits::default()
        };
        assert!(read(b"h\n1\n\n2\n\n", &limits).is_ok());
        assert_eq!(
            read(b"h\n1\n2\n3\n", &limits),
            Err(SheetError::TooManyRows { max: 2 })
        );
    }

    #[test]
    fn long_cells_are_named() {
        let limits = Limits {
            max_cell_chars: 3,
            ..Limits::default()
        };
        assert!(read("a,b\nééé,x\n".as_bytes(), &limits).is_ok());
        assert_eq!(
            read(b"a,b,c\nx,y,z\n1,2,3\n1,2,abcd\n", &limits),
            Err(SheetError::CellTooLong {
                cell: "C4".into(),
                max: 3
            })
        );
    }

    #[test]
    fn columns_beyond_the_limit_must_be_blank() {
        let limits = Limits {
            max_columns: 2,
            ..Limits::default()
        };
        let t = match read(b"a,b,,,,\n1,2, , ,,\n", &limits) {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(values(&t), [(2, vec!["1", "2"])]);
        assert_eq!(
            read(b"a,b\n1,2,,3\n", &limits),
            Err(SheetError::TooManyColumns { max: 2 })
        );
    }

    #[test]
    fn a_million_commas_cost_nothing() {
        let mut text = b"a,b\n".to_vec();
        text.extend(std::iter::repeat_n(b',', 1_000_000));
        text.extend_from_slice(b"\n1,2\n");
        let t = table(&text);
        assert_eq!(values(&t), [(3, vec!["1", "2"])]);
    }
}
