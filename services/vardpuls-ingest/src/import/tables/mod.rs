//! Tables as exports come: rows of text cells under a header, whatever the file format. A
//! mapping reads cells by column name, so CSV and Parquet share everything after this.

mod csv_table;
pub(crate) mod lines;
mod parquet_table;

pub use csv_table::CsvTable;
pub use parquet_table::ParquetTable;

use csv::StringRecord;

/// One row read, or one that could not be read as text.
pub enum RowRead {
    /// `row` holds the cells; `line` is the file line (CSV) or the row number from 1 (Parquet).
    Row { line: u64 },
    /// A CSV row that is not valid in the file's encoding (only UTF-8 can fail).
    NotText { line: u64, raw: Vec<u8> },
}

pub trait Table: Send {
    /// Column names, trimmed, without a byte-order mark.
    fn header(&self) -> &[String];
    /// The next row into `row`; `Ok(None)` at the end; `Err` when the file cannot be read on.
    fn next_row(&mut self, row: &mut StringRecord) -> anyhow::Result<Option<RowRead>>;
    /// The decimal mark of amounts in text cells.
    fn decimal_mark(&self) -> char;
}
