//! CSV as Swedish exports write it: any separator (`;` from Excel), quoting, CRLF, and
//! Windows-1252 or UTF-8 with or without a byte-order mark. Text is transcoded to UTF-8 while
//! reading; a file that starts with a UTF-8 byte-order mark is UTF-8 whatever the mapping says.

use super::lines::{LineCounter, NewlineReader, counted};
use super::{RowRead, Table};
use crate::import::cells::as_csv;
use crate::import::mapping::CsvLayout;
use anyhow::Context;
use csv::{ByteRecord, StringRecord};
use encoding_rs_io::{DecodeReaderBytes, DecodeReaderBytesBuilder};
use std::io::{BufRead, BufReader, Read};

pub struct CsvTable<R: Read> {
    reader: csv::Reader<NewlineReader<DecodeReaderBytes<BufReader<R>, Vec<u8>>>>,
    lines: LineCounter,
    header: Vec<String>,
    bytes: ByteRecord,
    decimal_mark: char,
    separator: u8,
}

impl<R: Read> CsvTable<R> {
    pub fn open(input: R, layout: &CsvLayout) -> anyhow::Result<CsvTable<R>> {
        // UTF-8 passes through untouched and is checked per row, so one bad row is refused
        // rather than silently repaired; other encodings always decode. The byte-order mark is
        // looked for here: encoding_rs_io 0.1.8 keeps an explicit decoder when a UTF-8 BOM and
        // passthrough meet.
        let mut input = BufReader::new(input);
        let has_bom = input.fill_buf().context("reading the file")?.starts_with(b"\xef\xbb\xbf");
        let explicit = (!has_bom && layout.encoding != encoding_rs::UTF_8).then_some(layout.encoding);
        let text = DecodeReaderBytesBuilder::new().encoding(explicit).utf8_passthru(true).strip_bom(true).build(input);
        let (text, lines) = counted(text);
        let mut reader =
            csv::ReaderBuilder::new().delimiter(layout.separator).quote(layout.quote).flexible(true).from_reader(text);
        let header = reader.headers().context("the header row is not text in the mapping's encoding")?;
        let header = header.iter().map(|h| h.trim().trim_start_matches('\u{feff}').to_string()).collect();
        Ok(CsvTable {
            reader,
            lines,
            header,
            bytes: ByteRecord::new(),
            decimal_mark: layout.decimal_mark,
            separator: layout.separator,
        })
    }
}

impl<R: Read + Send> Table for CsvTable<R> {
    fn header(&self) -> &[String] {
        &self.header
    }

    fn next_row(&mut self, row: &mut StringRecord) -> anyhow::Result<Option<RowRead>> {
        if !self.reader.read_byte_record(&mut self.bytes).context("CSV cannot be read past this point")? {
            return Ok(None);
        }
        let line = self.lines.line_of(self.bytes.position().map(|p| p.byte()).unwrap_or(0));
        match StringRecord::from_byte_record(self.bytes.clone()) {
            Ok(text) => {
                *row = text;
                Ok(Some(RowRead::Row { line }))
            }
            Err(_) => Ok(Some(RowRead::NotText { line, raw: as_csv(&self.bytes, self.separator) })),
        }
    }

    fn decimal_mark(&self) -> char {
        self.decimal_mark
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(encoding: &'static encoding_rs::Encoding) -> CsvLayout {
        CsvLayout { separator: b';', quote: b'"', decimal_mark: ',', encoding }
    }

    fn read_all(bytes: &[u8], encoding: &'static encoding_rs::Encoding) -> (Vec<String>, Vec<Vec<String>>) {
        let mut table = CsvTable::open(bytes, &layout(encoding)).unwrap();
        let mut rows = Vec::new();
        let mut row = StringRecord::new();
        while let Some(read) = table.next_row(&mut row).unwrap() {
            match read {
                RowRead::Row { .. } => rows.push(row.iter().map(str::to_string).collect()),
                RowRead::NotText { line, .. } => rows.push(vec![format!("not text at {line}")]),
            }
        }
        (table.header().to_vec(), rows)
    }

    #[test]
    fn windows_1252_and_utf8_with_a_bom_read_the_same() {
        let text = "Nådd;Pris (kr)\r\nJa;\"1 250,50\"\r\n";
        let cp1252 = encoding_rs::WINDOWS_1252.encode(text).0.into_owned();
        let mut bom = b"\xef\xbb\xbf".to_vec();
        bom.extend_from_slice(text.as_bytes());
        let expected =
            (vec!["Nådd".to_string(), "Pris (kr)".to_string()], vec![vec!["Ja".to_string(), "1 250,50".to_string()]]);
        assert_eq!(read_all(&cp1252, encoding_rs::WINDOWS_1252), expected);
        // The byte-order mark wins over the mapping's Windows-1252.
        assert_eq!(read_all(&bom, encoding_rs::WINDOWS_1252), expected);
        assert_eq!(read_all(text.as_bytes(), encoding_rs::UTF_8), expected);
    }

    #[test]
    fn lines_count_from_the_header_whatever_the_line_ends() {
        for (text, encoding) in [
            ("a;b\r\nx;y\r\nz;w\r\n", encoding_rs::UTF_8),
            ("a;b\r\nx;y\r\nz;w\r\n", encoding_rs::WINDOWS_1252),
            ("a;b\n\nx;y\r\n\r\nz;w", encoding_rs::UTF_8),
            ("a;b\nx;y\nz;w\n", encoding_rs::WINDOWS_1252),
        ] {
            let mut table = CsvTable::open(text.as_bytes(), &layout(encoding)).unwrap();
            let mut row = StringRecord::new();
            let mut lines = Vec::new();
            while let Some(RowRead::Row { line }) = table.next_row(&mut row).unwrap() {
                lines.push(line);
            }
            let expected: &[u64] = if text.contains("\n\n") || text.contains("\r\n\r\n") { &[3, 5] } else { &[2, 3] };
            assert_eq!(lines, expected, "{text:?} in {}", encoding.name());
        }
    }

    #[test]
    fn a_row_that_is_not_utf8_is_refused_alone() {
        let (_, rows) = read_all(b"a;b\nx;\xe5\ny;z\n", encoding_rs::UTF_8);
        assert_eq!(rows, vec![vec!["not text at 2".to_string()], vec!["y".to_string(), "z".to_string()]]);
    }
}
