//! Laid-out pages drawn with krilla: the running header and page numbers, the operations, the
//! attachments, and the font embedded as a subset.

use krilla::Document;
use krilla::color::rgb;
use krilla::embed::{AssociationKind, EmbeddedFile, MimeType};
use krilla::geom::{PathBuilder, Point, Rect, Size, Transform};
use krilla::image::Image;
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, Glyph, GlyphId};

use crate::layout::{A4_HEIGHT, A4_WIDTH, GREY, INK, MARGIN_X, Op, Rgb};
use crate::text::Metrics;
use crate::{Block, Doc, FontFile, PdfError};

/// A glyph as this crate maps it: one per character, its advance in ems.
struct G {
    id: u32,
    advance: f32,
    range: std::ops::Range<usize>,
}

impl Glyph for G {
    fn glyph_id(&self) -> GlyphId {
        GlyphId::new(self.id)
    }
    fn text_range(&self) -> std::ops::Range<usize> {
        self.range.clone()
    }
    fn x_advance(&self, size: f32) -> f32 {
        self.advance * size
    }
    fn x_offset(&self, _: f32) -> f32 {
        0.0
    }
    fn y_offset(&self, _: f32) -> f32 {
        0.0
    }
    fn y_advance(&self, _: f32) -> f32 {
        0.0
    }
    fn location(&self) -> Option<krilla::surface::Location> {
        None
    }
}

fn colour(c: Rgb) -> rgb::Color {
    rgb::Color::new(c.0, c.1, c.2)
}

struct Pen<'a, 'm> {
    font: Font,
    m: &'m Metrics<'a>,
}

impl Pen<'_, '_> {
    fn text(&self, s: &mut Surface<'_>, x: f32, y: f32, size: f32, c: Rgb, text: &str) {
        let glyphs: Vec<G> = self
            .m
            .glyphs(text)
            .into_iter()
            .map(|(id, advance, range)| G { id, advance, range })
            .collect();
        s.set_fill(Some(Fill {
            paint: colour(c).into(),
            ..Default::default()
        }));
        s.set_stroke(None);
        s.draw_glyphs(
            Point::from_xy(x, y),
            &glyphs,
            self.font.clone(),
            text,
            size,
            false,
        );
    }
}

fn line(s: &mut Surface<'_>, x1: f32, y1: f32, x2: f32, y2: f32, c: Rgb) {
    let mut pb = PathBuilder::new();
    pb.move_to(x1, y1);
    pb.line_to(x2, y2);
    if let Some(path) = pb.finish() {
        s.set_fill(None);
        s.set_stroke(Some(Stroke {
            paint: colour(c).into(),
            width: 0.6,
            ..Default::default()
        }));
        s.draw_path(&path);
        s.set_stroke(None);
    }
}

fn rect(s: &mut Surface<'_>, x: f32, y: f32, w: f32, h: f32, c: Rgb) {
    let mut pb = PathBuilder::new();
    if let Some(r) = Rect::from_xywh(x, y, w, h) {
        pb.push_rect(r);
    }
    if let Some(path) = pb.finish() {
        s.set_stroke(None);
        s.set_fill(Some(Fill {
            paint: colour(c).into(),
            ..Default::default()
        }));
        s.draw_path(&path);
    }
}

/// A JPEG or PNG as an image, or None when it cannot be read (a placeholder is drawn).
fn image_of(bytes: &[u8]) -> Option<Image> {
    let data: krilla::Data = bytes.to_vec().into();
    if bytes.starts_with(&[0xff, 0xd8]) {
        Image::from_jpeg(data, true).ok()
    } else if bytes.starts_with(b"\x89PNG") {
        Image::from_png(data, true).ok()
    } else {
        None
    }
}

pub(crate) fn write(
    doc: &Doc,
    file: &FontFile,
    m: &Metrics<'_>,
    pages: Vec<Vec<Op>>,
) -> Result<Vec<u8>, PdfError> {
    let font = Font::new(file.data.clone().into(), file.index)
        .ok_or_else(|| PdfError::Write("the font cannot be embedded".into()))?;
    let pen = Pen { font, m };
    let mut pdf = Document::new();
    let total = pages.len();
    let settings = PageSettings::from_wh(A4_WIDTH, A4_HEIGHT)
        .ok_or_else(|| PdfError::Write("page size".into()))?;
    for (n, ops) in pages.into_iter().enumerate() {
        let mut page = pdf.start_page_with(settings.clone());
        let mut s = page.surface();
        // The running header and the page number, on every page.
        let hs = 8.0;
        pen.text(&mut s, MARGIN_X, 40.0, hs, GREY, &doc.header_left);
        let w = m.width(&doc.header_right, hs);
        pen.text(
            &mut s,
            A4_WIDTH - MARGIN_X - w,
            40.0,
            hs,
            GREY,
            &doc.header_right,
        );
        line(&mut s, MARGIN_X, 46.0, A4_WIDTH - MARGIN_X, 46.0, GREY);
        let foot = format!("第 {} 页，共 {total} 页", n + 1);
        let w = m.width(&foot, hs);
        pen.text(
            &mut s,
            (A4_WIDTH - w) / 2.0,
            A4_HEIGHT - 32.0,
            hs,
            GREY,
            &foot,
        );
        pen.text(
            &mut s,
            MARGIN_X,
            A4_HEIGHT - 32.0,
            hs,
            GREY,
            &doc.header_left,
        );
        for op in ops {
            match op {
                Op::Text {
                    x,
                    y,
                    size,
                    colour,
                    text,
                } => pen.text(&mut s, x, y, size, colour, &text),
                Op::Line {
                    x1,
                    y1,
                    x2,
                    y2,
                    colour,
                } => line(&mut s, x1, y1, x2, y2, colour),
                Op::Rect { x, y, w, h, colour } => rect(&mut s, x, y, w, h, colour),
                Op::Image {
                    x,
                    y,
                    w,
                    h,
                    block,
                    figure,
                } => {
                    let bytes = match doc.blocks.get(block) {
                        Some(Block::Figures(f)) => f.get(figure).map(|f| f.image.as_slice()),
                        _ => None,
                    };
                    rect(&mut s, x, y, w, h, (240, 240, 240));
                    match bytes.and_then(image_of) {
                        Some(img) => {
                            let (iw, ih) = img.size();
                            let scale = (w / iw.max(1) as f32).min(h / ih.max(1) as f32);
                            let (dw, dh) = (iw as f32 * scale, ih as f32 * scale);
                            if let Some(size) = Size::from_wh(dw, dh) {
                                s.push_transform(&Transform::from_translate(
                                    x + (w - dw) / 2.0,
                                    y + (h - dh) / 2.0,
                                ));
                                s.draw_image(img, size);
                                s.pop();
                            }
                        }
                        None => {
                            pen.text(&mut s, x + 6.0, y + h / 2.0, 8.0, INK, "（照片无法显示）")
                        }
                    }
                }
            }
        }
        s.finish();
        page.finish();
    }
    pdf.set_metadata(
        Metadata::new()
            .title(doc.title.clone())
            .language("zh-CN".into())
            .creator("fieldsurvey".into()),
    );
    for a in &doc.attachments {
        pdf.embed_file(EmbeddedFile {
            path: a.name.clone(),
            mime_type: MimeType::new(&a.mime_type),
            description: Some(a.description.clone()),
            association_kind: AssociationKind::Supplement,
            data: a.data.clone().into(),
            modification_date: None,
            compress: Some(false),
            location: None,
        });
    }
    pdf.finish().map_err(|e| PdfError::Write(format!("{e:?}")))
}
