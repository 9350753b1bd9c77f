//! Blocks laid out in flow onto A4 pages: a list of drawing operations per page.

use crate::text::Metrics;
use crate::{Block, Column, Doc};

pub const A4_WIDTH: f32 = 595.28;
pub const A4_HEIGHT: f32 = 841.89;
pub(crate) const MARGIN_X: f32 = 56.0;
pub(crate) const TOP: f32 = 70.0;
pub(crate) const BOTTOM: f32 = A4_HEIGHT - 62.0;
const BODY: f32 = 10.0;
const LEAD: f32 = 1.55;
const PAD: f32 = 4.0;
const CONTENT: f32 = A4_WIDTH - 2.0 * MARGIN_X;

pub(crate) type Rgb = (u8, u8, u8);
pub(crate) const INK: Rgb = (20, 20, 20);
pub(crate) const GREY: Rgb = (100, 100, 100);
const RULE: Rgb = (150, 150, 150);
const SHADE: Rgb = (235, 238, 242);
const ACCENT: Rgb = (21, 101, 192);

pub(crate) enum Op {
    /// Text with its baseline at `y`.
    Text {
        x: f32,
        y: f32,
        size: f32,
        colour: Rgb,
        text: String,
    },
    Line {
        x1: f32,
        y1: f32,
        x2: f32,
        y2: f32,
        colour: Rgb,
    },
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        colour: Rgb,
    },
    /// The image of figure `figure` of block `block`, fitted into the box.
    Image {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        block: usize,
        figure: usize,
    },
}

struct Flow<'m, 'f> {
    m: &'m Metrics<'f>,
    pages: Vec<Vec<Op>>,
    y: f32,
}

impl Flow<'_, '_> {
    fn ops(&mut self) -> &mut Vec<Op> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = TOP;
    }

    /// Room for `h` more points on this page, or a new page.
    fn ensure(&mut self, h: f32) {
        if self.y + h > BOTTOM && self.y > TOP {
            self.new_page();
        }
    }

    fn text(&mut self, x: f32, baseline: f32, size: f32, colour: Rgb, text: &str) {
        if !text.is_empty() {
            self.ops().push(Op::Text {
                x,
                y: baseline,
                size,
                colour,
                text: text.to_owned(),
            });
        }
    }

    /// Wrapped lines across the content width, each kept whole on a page.
    fn lines(&mut self, s: &str, size: f32, colour: Rgb, indent: f32) {
        let step = size * LEAD;
        for line in self.m.wrap(s, size, CONTENT - indent) {
            self.ensure(step);
            let y = self.y + size;
            self.text(MARGIN_X + indent, y, size, colour, &line);
            self.y += step;
        }
    }

    fn rule(&mut self, x1: f32, x2: f32, y: f32, colour: Rgb) {
        self.ops().push(Op::Line {
            x1,
            y1: y,
            x2,
            y2: y,
            colour,
        });
    }

    /// A row's cells wrapped into their columns, and its height.
    fn wrap_row(&self, cells: &[String], xs: &[(f32, f32)], size: f32) -> (Vec<Vec<String>>, f32) {
        let wrapped: Vec<Vec<String>> = xs
            .iter()
            .enumerate()
            .map(|(i, (_, w))| {
                let cell = cells.get(i).map(String::as_str).unwrap_or("");
                self.m.wrap(cell, size, w - 2.0 * PAD)
            })
            .collect();
        let n = wrapped.iter().map(Vec::len).max().unwrap_or(1).max(1);
        (wrapped, n as f32 * size * 1.4 + 2.0 * PAD)
    }

    /// One row drawn at the cursor (the caller made room for it).
    fn draw_row(
        &mut self,
        wrapped: &[Vec<String>],
        h: f32,
        xs: &[(f32, f32)],
        size: f32,
        shade: Option<Rgb>,
    ) {
        let top = self.y;
        if let Some(colour) = shade {
            self.ops().push(Op::Rect {
                x: MARGIN_X,
                y: top,
                w: CONTENT,
                h,
                colour,
            });
        }
        for ((x, _), lines) in xs.iter().zip(wrapped) {
            for (k, line) in lines.iter().enumerate() {
                let y = top + PAD + size + k as f32 * size * 1.4;
                self.text(x + PAD, y, size, INK, line);
            }
        }
        self.rule(MARGIN_X, MARGIN_X + CONTENT, top + h, RULE);
        self.y = top + h;
    }

    /// A row that is never split over pages.
    fn row(&mut self, cells: &[String], xs: &[(f32, f32)], size: f32) {
        let (wrapped, h) = self.wrap_row(cells, xs, size);
        self.ensure(h);
        self.draw_row(&wrapped, h, xs, size, None);
    }

    fn table(&mut self, columns: &[Column], rows: &[Vec<String>]) {
        let total: f32 = columns.iter().map(|c| c.weight.max(0.1)).sum();
        let mut x = MARGIN_X;
        let xs: Vec<(f32, f32)> = columns
            .iter()
            .map(|c| {
                let w = CONTENT * c.weight.max(0.1) / total;
                let at = (x, w);
                x += w;
                at
            })
            .collect();
        let heads: Vec<String> = columns.iter().map(|c| c.heading.clone()).collect();
        let size = BODY - 1.0;
        let (head, head_h) = self.wrap_row(&heads, &xs, size);
        let mut first = true;
        for r in rows.iter().map(Some).chain(rows.is_empty().then_some(None)) {
            let (wrapped, h) = match r {
                Some(r) => self.wrap_row(r, &xs, size),
                None => (Vec::new(), 0.0),
            };
            // The heading starts a table and every page it continues on.
            if first || self.y + h > BOTTOM {
                if first {
                    self.ensure(head_h + h);
                } else {
                    self.new_page();
                }
                let y = self.y;
                self.rule(MARGIN_X, MARGIN_X + CONTENT, y, INK);
                self.draw_row(&head, head_h, &xs, size, Some(SHADE));
                first = false;
            }
            if r.is_some() {
                self.draw_row(&wrapped, h, &xs, size, None);
            }
        }
        self.y += 8.0;
    }
}

pub(crate) fn lay_out(doc: &Doc, m: &Metrics<'_>) -> Vec<Vec<Op>> {
    let mut f = Flow {
        m,
        pages: vec![Vec::new()],
        y: TOP,
    };
    if !doc.title.is_empty() {
        let size = 20.0;
        let w = m.width(&doc.title, size);
        f.text((A4_WIDTH - w) / 2.0, f.y + size, size, INK, &doc.title);
        f.y += size * 1.8;
        if let Some(sub) = &doc.subtitle {
            for line in m.wrap(sub, BODY, CONTENT) {
                let w = m.width(&line, BODY);
                f.text((A4_WIDTH - w) / 2.0, f.y + BODY, BODY, GREY, &line);
                f.y += BODY * LEAD;
            }
        }
        f.y += 6.0;
    }
    for (bi, block) in doc.blocks.iter().enumerate() {
        match block {
            Block::Heading(level, text) => {
                let size = if *level <= 1 { 14.0 } else { 11.5 };
                // A heading is never the last line of a page.
                f.ensure(size * 2.0 + 3.0 * BODY * LEAD);
                f.y += if *level <= 1 { 10.0 } else { 5.0 };
                f.lines(text, size, if *level <= 1 { ACCENT } else { INK }, 0.0);
                if *level <= 1 {
                    let y = f.y;
                    f.rule(MARGIN_X, MARGIN_X + CONTENT, y, ACCENT);
                    f.y += 5.0;
                }
            }
            Block::Paragraph(text) => {
                f.lines(text, BODY, INK, 0.0);
                f.y += 3.0;
            }
            Block::Note(text) => {
                f.lines(text, BODY - 1.5, GREY, 0.0);
                f.y += 3.0;
            }
            Block::KeyValues(pairs) => {
                let xs = [
                    (MARGIN_X, CONTENT * 0.28),
                    (MARGIN_X + CONTENT * 0.28, CONTENT * 0.72),
                ];
                f.ensure(BODY * 3.0);
                f.rule(MARGIN_X, MARGIN_X + CONTENT, f.y, RULE);
                for (k, v) in pairs {
                    f.row(&[k.clone(), v.clone()], &xs, BODY - 0.5);
                }
                f.y += 8.0;
            }
            Block::Table { columns, rows } => f.table(columns, rows),
            Block::Figures(figures) => {
                let per_row = 3usize;
                let gap = 12.0;
                let w = (CONTENT - gap * (per_row as f32 - 1.0)) / per_row as f32;
                let h = w * 0.75;
                let cap = BODY - 2.0;
                for (ri, chunk) in figures.chunks(per_row).enumerate() {
                    let captions: Vec<Vec<String>> = chunk
                        .iter()
                        .map(|fig| fig.caption.iter().flat_map(|c| m.wrap(c, cap, w)).collect())
                        .collect();
                    let lines = captions.iter().map(Vec::len).max().unwrap_or(0);
                    let total = h + 4.0 + lines as f32 * cap * 1.35 + gap;
                    f.ensure(total);
                    let top = f.y;
                    for (ci, caption) in captions.iter().enumerate() {
                        let x = MARGIN_X + ci as f32 * (w + gap);
                        f.ops().push(Op::Image {
                            x,
                            y: top,
                            w,
                            h,
                            block: bi,
                            figure: ri * per_row + ci,
                        });
                        for (k, line) in caption.iter().enumerate() {
                            let y = top + h + 4.0 + cap + k as f32 * cap * 1.35;
                            f.text(x, y, cap, INK, line);
                        }
                    }
                    f.y = top + total;
                }
            }
            Block::Bars { max, bars } => {
                let label_w = CONTENT * 0.25;
                let bar_w = CONTENT * 0.55;
                let size = BODY - 1.0;
                for b in bars {
                    let h = size * 1.9;
                    f.ensure(h);
                    let top = f.y;
                    f.text(MARGIN_X, top + size, size, INK, &b.label);
                    let share = if *max > 0.0 {
                        (b.value / max).clamp(0.0, 1.0) as f32
                    } else {
                        0.0
                    };
                    f.ops().push(Op::Rect {
                        x: MARGIN_X + label_w,
                        y: top + 1.0,
                        w: bar_w,
                        h: size + 2.0,
                        colour: SHADE,
                    });
                    if share > 0.0 {
                        f.ops().push(Op::Rect {
                            x: MARGIN_X + label_w,
                            y: top + 1.0,
                            w: bar_w * share,
                            h: size + 2.0,
                            colour: ACCENT,
                        });
                    }
                    f.text(
                        MARGIN_X + label_w + bar_w + 6.0,
                        top + size,
                        size,
                        INK,
                        &b.text,
                    );
                    f.y = top + h;
                }
                f.y += 6.0;
            }
            Block::PageBreak => f.new_page(),
        }
    }
    f.pages
}
