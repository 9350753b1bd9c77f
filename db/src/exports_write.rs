//! Writing an export's rows as CSV or XLSX, a row at a time.
//!
//! CSV: UTF-8 with a byte-order mark (Excel then reads the Chinese as UTF-8), RFC 4180 quoting.
//! XLSX: rust_xlsxwriter in its constant-memory mode — each row goes to a temporary file as it
//! is written, so a million rows take the memory of one; past Excel's 1,048,576 rows a sheet,
//! the rows go on in a second sheet with the header again. Headings are Chinese, or the stable
//! machine names ([`Header::Machine`]) for programs that read the file.

use std::io::Write;

use crate::exports::{Cell, Dataset};

/// The formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "csv" => Some(Format::Csv),
            "xlsx" => Some(Format::Xlsx),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

/// Which headings the first row carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Header {
    #[default]
    Chinese,
    Machine,
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("writing the export: {0}")]
    Io(#[from] std::io::Error),
    #[error("writing the CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("writing the XLSX: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
}

/// Rows Excel holds in one sheet, the header included.
const SHEET_ROWS: u32 = 1_048_576;

/// A table being written.
pub enum TableWriter<W: Write> {
    Csv(Box<csv::Writer<W>>),
    Xlsx(Box<XlsxTable<W>>),
}

pub struct XlsxTable<W: Write> {
    book: rust_xlsxwriter::Workbook,
    out: W,
    title: &'static str,
    headings: Vec<&'static str>,
    sheet: usize,
    row: u32,
}

impl<W: Write + Send> TableWriter<W> {
    /// Start `dataset`'s table in `format` on `out`, with its header row. The XLSX's rows are
    /// kept in temporary files under `tmp` until [`TableWriter::finish`].
    pub fn start(
        format: Format,
        dataset: Dataset,
        header: Header,
        out: W,
        tmp: &std::path::Path,
    ) -> Result<Self, WriteError> {
        let headings: Vec<&'static str> = dataset
            .columns()
            .iter()
            .map(|(key, title)| match header {
                Header::Chinese => *title,
                Header::Machine => *key,
            })
            .collect();
        match format {
            Format::Csv => {
                let mut out = out;
                out.write_all("\u{feff}".as_bytes())?;
                let mut w = csv::Writer::from_writer(out);
                w.write_record(&headings)?;
                Ok(TableWriter::Csv(Box::new(w)))
            }
            Format::Xlsx => {
                let mut book = rust_xlsxwriter::Workbook::new();
                book.set_tempdir(tmp)?;
                let mut t = XlsxTable {
                    book,
                    out,
                    title: dataset.title(),
                    headings,
                    sheet: 0,
                    row: 0,
                };
                t.new_sheet()?;
                Ok(TableWriter::Xlsx(Box::new(t)))
            }
        }
    }

    pub fn row(&mut self, cells: &[Cell]) -> Result<(), WriteError> {
        match self {
            TableWriter::Csv(w) => {
                let mut nums = Vec::with_capacity(cells.len());
                for c in cells {
                    nums.push(match c {
                        Cell::Text(s) => s.clone(),
                        Cell::Int(n) => n.to_string(),
                        Cell::Num(x) => format!("{x:.2}"),
                        Cell::Empty => String::new(),
                    });
                }
                w.write_record(&nums)?;
                Ok(())
            }
            TableWriter::Xlsx(t) => t.row(cells),
        }
    }

    /// Finish the file; returns the writer it was written to.
    pub fn finish(self) -> Result<W, WriteError> {
        match self {
            TableWriter::Csv(w) => w
                .into_inner()
                .map_err(|e| WriteError::Io(std::io::Error::other(e.to_string()))),
            TableWriter::Xlsx(t) => {
                let mut t = *t;
                t.book.save_to_writer(&mut t.out)?;
                Ok(t.out)
            }
        }
    }
}

impl<W: Write> XlsxTable<W> {
    fn new_sheet(&mut self) -> Result<(), WriteError> {
        self.sheet += 1;
        let name = if self.sheet == 1 {
            self.title.to_owned()
        } else {
            format!("{}（{}）", self.title, self.sheet)
        };
        let bold = rust_xlsxwriter::Format::new().set_bold();
        let ws = self.book.add_worksheet_with_constant_memory()?;
        ws.set_name(name)?;
        for (col, h) in self.headings.iter().enumerate() {
            ws.write_string_with_format(0, col as u16, *h, &bold)?;
        }
        ws.set_freeze_panes(1, 0)?;
        self.row = 1;
        Ok(())
    }

    fn row(&mut self, cells: &[Cell]) -> Result<(), WriteError> {
        if self.row >= SHEET_ROWS {
            self.new_sheet()?;
        }
        let ws = self.book.worksheet_from_index(self.sheet - 1)?;
        for (col, c) in cells.iter().enumerate() {
            let col = col as u16;
            match c {
                Cell::Text(s) => {
                    ws.write_string(self.row, col, s)?;
                }
                Cell::Int(n) => {
                    ws.write_number(self.row, col, *n as f64)?;
                }
                Cell::Num(x) => {
                    ws.write_number(self.row, col, *x)?;
                }
                Cell::Empty => {}
            }
        }
        self.row += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_starts_with_a_byte_order_mark_and_quotes_what_needs_it() -> Result<(), WriteError> {
        let dir = tempfile::tempdir()?;
        let mut w = TableWriter::start(
            Format::Csv,
            Dataset::Coverage,
            Header::Chinese,
            std::io::Cursor::new(Vec::new()),
            dir.path(),
        )?;
        w.row(&[
            Cell::from("520102001001"),
            Cell::from("红旗村, 一组"),
            Cell::Empty,
            Cell::Int(3),
            Cell::Int(2),
            Cell::Int(1),
        ])?;
        let bytes = w.finish()?.into_inner();
        let text = String::from_utf8(bytes).map_err(std::io::Error::other)?;
        assert!(text.starts_with("\u{feff}村代码,村名,责任网格员,"));
        assert!(text.contains("520102001001,\"红旗村, 一组\",,3,2,1"));
        Ok(())
    }
}
