//! Parquet as data warehouses hand it over. Cells are formatted as text (timestamps in ISO
//! form, decimals with a point) and mapped exactly like CSV cells; a timestamp without a time
//! zone is a local time in the mapping's zone, one with a zone is that instant.

use super::{RowRead, Table};
use anyhow::Context;
use arrow_array::RecordBatch;
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use csv::StringRecord;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use std::collections::VecDeque;
use std::fs::File;

/// Rows decoded at once: bounds memory for any file size.
const BATCH_ROWS: usize = 8192;

pub struct ParquetTable {
    reader: ParquetRecordBatchReader,
    header: Vec<String>,
    pending: VecDeque<StringRecord>,
    row_number: u64,
}

impl ParquetTable {
    pub fn open(file: File) -> anyhow::Result<ParquetTable> {
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).context("not a readable Parquet file")?;
        let header = builder.schema().fields().iter().map(|f| f.name().trim().to_string()).collect();
        let reader = builder.with_batch_size(BATCH_ROWS).build().context("reading the Parquet file")?;
        Ok(ParquetTable { reader, header, pending: VecDeque::new(), row_number: 0 })
    }

    fn format(batch: &RecordBatch) -> anyhow::Result<Vec<StringRecord>> {
        let options = FormatOptions::default().with_null("");
        let columns = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()
            .context("a Parquet column has a type that cannot be read as text")?;
        let mut rows = Vec::with_capacity(batch.num_rows());
        for i in 0..batch.num_rows() {
            let mut row = StringRecord::with_capacity(64, columns.len());
            for column in &columns {
                row.push_field(&column.value(i).to_string());
            }
            rows.push(row);
        }
        Ok(rows)
    }
}

impl Table for ParquetTable {
    fn header(&self) -> &[String] {
        &self.header
    }

    fn next_row(&mut self, row: &mut StringRecord) -> anyhow::Result<Option<RowRead>> {
        while self.pending.is_empty() {
            match self.reader.next() {
                None => return Ok(None),
                Some(batch) => self.pending.extend(Self::format(&batch.context("reading a Parquet row group")?)?),
            }
        }
        *row = self.pending.pop_front().expect("not empty");
        self.row_number += 1;
        Ok(Some(RowRead::Row { line: self.row_number }))
    }

    fn decimal_mark(&self) -> char {
        '.'
    }
}
