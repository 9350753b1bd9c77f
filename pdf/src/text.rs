//! Characters to glyphs and widths, from the font's cmap and horizontal metrics.

use skrifa::instance::{LocationRef, Size};
use skrifa::raw::TableProvider;
use skrifa::{FontRef, GlyphId, MetadataProvider};

use crate::FontFile;

pub(crate) struct Metrics<'a> {
    font: FontRef<'a>,
    upem: f32,
}

impl<'a> Metrics<'a> {
    pub fn new(file: &'a FontFile) -> Option<Self> {
        let font = FontRef::from_index(file.data.as_slice(), file.index).ok()?;
        let upem = f32::from(font.head().ok()?.units_per_em());
        Some(Self { font, upem })
    }

    pub fn covers(&self, c: char) -> bool {
        self.font.charmap().map(c).is_some()
    }

    /// Each character's glyph and its advance in ems (unmapped characters: glyph 0).
    pub fn glyphs(&self, s: &str) -> Vec<(u32, f32, std::ops::Range<usize>)> {
        let cmap = self.font.charmap();
        let hm = self
            .font
            .glyph_metrics(Size::unscaled(), LocationRef::default());
        s.char_indices()
            .map(|(i, c)| {
                let g = cmap
                    .map(c)
                    .or_else(|| stand_in(c).and_then(|s| cmap.map(s)))
                    .unwrap_or(GlyphId::NOTDEF);
                let adv = hm.advance_width(g).unwrap_or(self.upem) / self.upem;
                (g.to_u32(), adv, i..i + c.len_utf8())
            })
            .collect()
    }

    /// Width of `s` at `size` points.
    pub fn width(&self, s: &str, size: f32) -> f32 {
        self.glyphs(s).iter().map(|g| g.1).sum::<f32>() * size
    }

    /// `s` broken into lines no wider than `max` points: at any character (Chinese has no
    /// spaces), preferring the last space when a Latin word would be cut. Newlines are kept.
    pub fn wrap(&self, s: &str, size: f32, max: f32) -> Vec<String> {
        let mut out = Vec::new();
        for para in s.split('\n') {
            let mut line = String::new();
            let mut w = 0.0;
            for (c, adv) in para
                .chars()
                .zip(self.glyphs(para).iter().map(|g| g.1 * size))
            {
                // Closing punctuation never starts a line: it hangs past the margin.
                let hangs = "，。、；：！？）」』》”’".contains(c);
                if w + adv > max && !line.is_empty() && !hangs {
                    let cut = if c.is_ascii_alphanumeric() {
                        line.rfind(' ').filter(|&i| i > 0)
                    } else {
                        None
                    };
                    match cut {
                        Some(i) => {
                            let rest = line[i + 1..].to_owned();
                            line.truncate(i);
                            out.push(std::mem::take(&mut line));
                            line = rest;
                            w = self.width(&line, size);
                        }
                        None => {
                            out.push(std::mem::take(&mut line));
                            w = 0.0;
                        }
                    }
                }
                line.push(c);
                w += adv;
            }
            out.push(line);
        }
        out
    }
}

/// A character drawn with another's glyph when the font lacks it (the text extracted from the
/// PDF is still the original character).
fn stand_in(c: char) -> Option<char> {
    Some(match c {
        '✓' | '✔' => '√',
        '✗' | '✘' => '×',
        '⚑' => '!',
        '↑' => '^',
        _ => return None,
    })
}
