//! Chinese A4 documents as PDF: a title, headings, paragraphs, key-value tables, tables,
//! photo grids with captions, horizontal bar charts and attached files, laid out in flow with
//! page breaks, a running header and "第 N 页，共 M 页" on every page.
//!
//! The CJK font is embedded **subset** (only the glyphs used), so a dossier of a few pages
//! carries tens of kilobytes of font, not the 5 MB of the whole face. Built on krilla (which
//! writes with pdf-writer and subsets with subsetter); text is mapped to glyphs here through
//! the font's own cmap and advances (skrifa), which is all CJK needs — no shaping engine.
//!
//! This crate knows nothing of households or bulletins: callers build a [`Doc`] of [`Block`]s
//! and call [`render`]. It does no I/O beyond [`FontFile::load`].

mod draw;
mod layout;
mod text;

use std::path::Path;
use std::sync::Arc;

pub use layout::{A4_HEIGHT, A4_WIDTH};

/// Debian's fonts-wqy-microhei (scripts/setup installs it).
pub const DEFAULT_FONT: &str = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc";

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("cannot read the font {path}: {reason}")]
    Font { path: String, reason: String },
    #[error("the PDF could not be written: {0}")]
    Write(String),
}

/// A font file read once and shared by every document (a TrueType file or collection).
#[derive(Clone)]
pub struct FontFile {
    data: Arc<Vec<u8>>,
    index: u32,
}

impl FontFile {
    /// Reads `path` (face `index` of a collection) and checks it maps CJK text.
    pub fn load(path: &Path, index: u32) -> Result<Self, PdfError> {
        let fail = |reason: String| PdfError::Font {
            path: path.display().to_string(),
            reason,
        };
        let data = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        let font = Self {
            data: Arc::new(data),
            index,
        };
        let m = text::Metrics::new(&font).ok_or_else(|| fail("not a readable font".into()))?;
        if !m.covers('户') {
            return Err(fail("the font has no Chinese glyphs".into()));
        }
        Ok(font)
    }
}

/// A photo (JPEG or PNG bytes) with caption lines under it.
#[derive(Debug, Clone)]
pub struct Figure {
    pub image: Vec<u8>,
    pub caption: Vec<String>,
}

/// One bar of a chart: its label, its value (0 ..= max) and the words printed after it.
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub text: String,
}

/// A column of a table: its heading and its share of the width.
#[derive(Debug, Clone)]
pub struct Column {
    pub heading: String,
    pub weight: f32,
}

impl Column {
    pub fn new(heading: impl Into<String>, weight: f32) -> Self {
        Self {
            heading: heading.into(),
            weight,
        }
    }
}

/// What a document is made of, top to bottom.
#[derive(Debug, Clone)]
pub enum Block {
    /// Level 1 (a section) or 2 (a sub-section).
    Heading(u8, String),
    Paragraph(String),
    /// Small grey text (notes, explanations).
    Note(String),
    /// Two columns: what, and its value.
    KeyValues(Vec<(String, String)>),
    /// Headed columns; long rows wrap, a table split over pages repeats its heading.
    Table {
        columns: Vec<Column>,
        rows: Vec<Vec<String>>,
    },
    /// Photos, three to a row, each with its caption.
    Figures(Vec<Figure>),
    /// Horizontal bars scaled to `max`.
    Bars {
        max: f64,
        bars: Vec<Bar>,
    },
    PageBreak,
}

/// A file carried inside the PDF (shown by readers as an attachment).
#[derive(Debug, Clone)]
pub struct Attachment {
    pub name: String,
    pub mime_type: String,
    pub description: String,
    pub data: Vec<u8>,
}

/// A document: its title, the running header (left and right), the blocks and attachments.
#[derive(Debug, Clone, Default)]
pub struct Doc {
    pub title: String,
    pub subtitle: Option<String>,
    /// Printed at the top left of every page (e.g. the household code).
    pub header_left: String,
    /// Printed at the top right of every page (e.g. when it was generated).
    pub header_right: String,
    pub blocks: Vec<Block>,
    pub attachments: Vec<Attachment>,
}

/// The PDF bytes of `doc`, written with `font`.
pub fn render(doc: &Doc, font: &FontFile) -> Result<Vec<u8>, PdfError> {
    let metrics = text::Metrics::new(font).ok_or_else(|| PdfError::Font {
        path: "(loaded)".into(),
        reason: "not a readable font".into(),
    })?;
    let pages = layout::lay_out(doc, &metrics);
    draw::write(doc, font, &metrics, pages)
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;

    fn font() -> Option<FontFile> {
        FontFile::load(Path::new(DEFAULT_FONT), 0).ok()
    }

    #[test]
    fn a_long_document_breaks_pages_and_subsets_the_font() {
        let Some(font) = font() else {
            eprintln!("skipped: {DEFAULT_FONT} is not installed (scripts/setup)");
            return;
        };
        let rows = (0..120)
            .map(|i| {
                vec![
                    format!("{i}"),
                    "不愁吃、不愁穿".to_owned(),
                    "达标".to_owned(),
                ]
            })
            .collect();
        let doc = Doc {
            title: "一户一档".into(),
            header_left: "户编码 522732100201-0037".into(),
            header_right: "生成于 2026-11-30 22:16".into(),
            blocks: vec![
                Block::Heading(1, "家庭基本情况".into()),
                Block::KeyValues(vec![("户主".into(), "王明".into())]),
                Block::Table {
                    columns: vec![
                        Column::new("序号", 1.0),
                        Column::new("内容", 4.0),
                        Column::new("结果", 1.0),
                    ],
                    rows,
                },
                Block::Bars {
                    max: 100.0,
                    bars: vec![Bar {
                        label: "甲村".into(),
                        value: 86.55,
                        text: "86.55%".into(),
                    }],
                },
            ],
            attachments: vec![Attachment {
                name: "proof.json".into(),
                mime_type: "application/json".into(),
                description: "proof".into(),
                data: b"{}".to_vec(),
            }],
            ..Default::default()
        };
        let pdf = render(&doc, &font).expect("renders");
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(pdf.len() < 400_000, "font subset: {} bytes", pdf.len());
        let pages = layout::lay_out(&doc, &text::Metrics::new(&font).expect("font"));
        assert!(pages.len() >= 3, "{} pages", pages.len());
    }
}
