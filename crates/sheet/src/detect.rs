//! Recognising what was uploaded from its first bytes, never from its name.

use crate::{Limits, SheetError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Csv,
    Xlsx,
}

const ZIP: &[u8] = b"PK\x03\x04";
/// Compound File Binary: old .xls, and also what Excel wraps a password-protected .xlsx in.
const CFB: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
/// How far to look for NUL bytes: text never has them, and every binary format has one early.
const SNIFF: usize = 8 << 10;

pub(crate) fn detect(bytes: &[u8], limits: &Limits) -> Result<Format, SheetError> {
    if bytes.len() > limits.max_bytes {
        return Err(SheetError::TooLarge {
            max_bytes: limits.max_bytes,
        });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(SheetError::Empty);
    }
    if bytes.starts_with(ZIP) {
        return Ok(Format::Xlsx);
    }
    if bytes.starts_with(CFB) {
        return Err(SheetError::Encrypted);
    }
    // Excel's "Unicode Text" and some exports are UTF-16; the remedy is the same as for Latin-1.
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(SheetError::NotUtf8 { line: 1 });
    }
    if bytes[..bytes.len().min(SNIFF)].contains(&0) {
        return Err(SheetError::NotASpreadsheet);
    }
    Ok(Format::Csv)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(bytes: &[u8]) -> Result<Format, SheetError> {
        detect(bytes, &Limits::default())
    }

    #[test]
    fn recognises_by_content() {
        assert_eq!(check(b"PK\x03\x04rest"), Ok(Format::Xlsx));
        assert_eq!(check(b"a,b\r\n1,2\r\n"), Ok(Format::Csv));
        assert_eq!(check(b"\xEF\xBB\xBFa,b"), Ok(Format::Csv));
        assert_eq!(
            check(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0]),
            Err(SheetError::Encrypted)
        );
        assert_eq!(
            check(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Err(SheetError::NotASpreadsheet)
        );
        assert_eq!(
            check(b"\xFF\xFEa\0,\0b\0"),
            Err(SheetError::NotUtf8 { line: 1 })
        );
    }

    #[test]
    fn empty_and_whitespace_are_empty() {
        assert_eq!(check(b""), Err(SheetError::Empty));
        assert_eq!(check(b" \r\n\t\n"), Err(SheetError::Empty));
    }

    #[test]
    fn size_is_checked_first() {
        let limits = Limits {
            max_bytes: 4,
            ..Limits::default()
        };
        assert_eq!(
            detect(b"a,b,c", &limits),
            Err(SheetError::TooLarge { max_bytes: 4 })
        );
        assert_eq!(detect(b"a,bc", &limits), Ok(Format::Csv));
    }

    #[test]
    fn nul_bytes_after_the_sniffed_prefix_are_left_to_the_csv_reader() {
        let mut bytes = vec![b'a'; SNIFF];
        bytes.push(0);
        assert_eq!(check(&bytes), Ok(Format::Csv));
    }
}
