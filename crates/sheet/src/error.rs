//! Why a sheet could not be read or written, in words an administrator can act on.

/// Everything that can go wrong reading or writing a sheet.
///
/// `Display` is a complete English sentence meant to be shown as is on the import page;
/// [`SheetError::code`] is the stable identifier for API clients and tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SheetError {
    #[error("The file is larger than {}; split it into smaller files.", size(*max_bytes))]
    TooLarge { max_bytes: usize },
    /// A small .xlsx whose compressed parts unpack to far more than any real sheet (a zip bomb).
    #[error(
        "The workbook holds more than {} of data once unpacked; split it into smaller files.",
        size(*max_bytes)
    )]
    TooLargeUnpacked { max_bytes: usize },
    #[error("The file has more than {} rows; split it into smaller files.", thousands(*max))]
    TooManyRows { max: usize },
    #[error(
        "The file has more than {} columns; remove the columns that are not in the template.",
        thousands(*max)
    )]
    TooManyColumns { max: usize },
    #[error("Cell {cell} holds more than {} characters; shorten it.", thousands(*max))]
    CellTooLong { cell: String, max: usize },
    #[error(
        "The file is password-protected or an old .xls workbook; save it as an unprotected .xlsx or .csv file."
    )]
    Encrypted,
    #[error("The file is not a spreadsheet; upload an .xlsx workbook or a .csv file.")]
    NotASpreadsheet,
    #[error("The file is empty; fill in the template and upload it again.")]
    Empty,
    #[error(
        "Row {line} of the file is not UTF-8 text; save the file as \"CSV UTF-8 (Comma delimited)\" and upload it again."
    )]
    NotUtf8 { line: usize },
    #[error(
        "The workbook is damaged and cannot be read ({0}); open it, save it again as .xlsx and upload it again."
    )]
    Corrupt(String),
    #[error(
        "The header row has no {header} column; the template's columns are {}.",
        expected.join(", ")
    )]
    MissingHeader {
        header: &'static str,
        expected: &'static [&'static str],
    },
    #[error("The spreadsheet could not be written: {0}.")]
    Write(String),
}

impl SheetError {
    /// A stable machine-readable code, safe to match on and to put in problem JSON.
    pub fn code(&self) -> &'static str {
        match self {
            // Both have the same remedy, so clients need not tell them apart.
            SheetError::TooLarge { .. } | SheetError::TooLargeUnpacked { .. } => "too_large",
            SheetError::TooManyRows { .. } => "too_many_rows",
            SheetError::TooManyColumns { .. } => "too_many_columns",
            SheetError::CellTooLong { .. } => "cell_too_long",
            SheetError::Encrypted => "encrypted",
            SheetError::NotASpreadsheet => "not_a_spreadsheet",
            SheetError::Empty => "empty",
            SheetError::NotUtf8 { .. } => "not_utf8",
            SheetError::Corrupt(_) => "corrupt",
            SheetError::MissingHeader { .. } => "missing_header",
            SheetError::Write(_) => "write_failed",
        }
    }
}

/// `50000` → `50,000`: the figures in messages are read by people.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Sizes in the units a file manager shows (Windows calls MiB "MB").
fn size(bytes: usize) -> String {
    const MIB: usize = 1 << 20;
    const KIB: usize = 1 << 10;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MB", thousands(bytes / MIB))
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KB", thousands(bytes / KIB))
    } else {
        format!("{} bytes", thousands(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(50_000), "50,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn sizes_use_the_largest_exact_unit() {
        assert_eq!(size(20 << 20), "20 MB");
        assert_eq!(size(4096), "4 KB");
        assert_eq!(size(1500), "1,500 bytes");
    }

    #[test]
    fn every_error_has_a_sentence_and_a_code() {
        let all = [
            (
                SheetError::TooLarge {
                    max_bytes: 20 << 20,
                },
                "too_large",
            ),
            (
                SheetError::TooLargeUnpacked {
                    max_bytes: 256 << 20,
                },
                "too_large",
            ),
            (SheetError::TooManyRows { max: 50_000 }, "too_many_rows"),
            (SheetError::TooManyColumns { max: 100 }, "too_many_columns"),
            (
                SheetError::CellTooLong {
                    cell: "C7".into(),
                    max: 4096,
                },
                "cell_too_long",
            ),
            (SheetError::Encrypted, "encrypted"),
            (SheetError::NotASpreadsheet, "not_a_spreadsheet"),
            (SheetError::Empty, "empty"),
            (SheetError::NotUtf8 { line: 3 }, "not_utf8"),
            (SheetError::Corrupt("bad zip".into()), "corrupt"),
            (
                SheetError::MissingHeader {
                    header: "EMAIL",
                    expected: &["NAME", "EMAIL"],
                },
                "missing_header",
            ),
            (SheetError::Write("too long".into()), "write_failed"),
        ];
        for (error, code) in all {
            assert_eq!(error.code(), code);
            let message = error.to_string();
            assert!(message.starts_with(char::is_uppercase), "{message}");
            assert!(message.ends_with('.'), "{message}");
        }
    }

    #[test]
    fn messages_name_the_figures() {
        assert_eq!(
            SheetError::TooManyRows { max: 50_000 }.to_string(),
            "The file has more than 50,000 rows; split it into smaller files."
        );
        assert_eq!(
            SheetError::TooLarge {
                max_bytes: 20 << 20
            }
            .to_string(),
            "The file is larger than 20 MB; split it into smaller files."
        );
        assert_eq!(
            SheetError::CellTooLong {
                cell: "C7".into(),
                max: 4096
            }
            .to_string(),
            "Cell C7 holds more than 4,096 characters; shorten it."
        );
        assert!(
            SheetError::NotUtf8 { line: 12 }
                .to_string()
                .contains("Row 12")
        );
        assert!(
            SheetError::NotUtf8 { line: 12 }
                .to_string()
                .contains("CSV UTF-8")
        );
    }
}
