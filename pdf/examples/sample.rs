//! Writes a sample document (every kind of block) to the path given, to look at the layout:
//! `cargo run -p fieldsurvey-pdf --example sample -- /tmp/sample.pdf`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fieldsurvey_pdf::{Attachment, Bar, Block, Column, Doc, Figure, FontFile, render};

fn main() {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "sample.pdf".into());
    let photo = std::env::args()
        .nth(2)
        .map(|p| std::fs::read(p).expect("a photo"));
    let font =
        FontFile::load(std::path::Path::new(fieldsurvey_pdf::DEFAULT_FONT), 0).expect("font");
    let doc = Doc {
        title: "一户一档".into(),
        subtitle: Some("户编码 522732101201-0001 · 甲村（522732101201）".into()),
        header_left: "一户一档 · 户编码 522732101201-0001".into(),
        header_right: "生成于 2026-11-30 22:16（北京时间）".into(),
        blocks: vec![
            Block::Note("身份证号已脱敏（只显示前 6 位和后 4 位）。".into()),
            Block::Heading(1, "一、基本情况".into()),
            Block::KeyValues(vec![
                ("户主".into(), "马勇".into()),
                ("户主身份证号".into(), "522732********5257".into()),
                ("内容摘要".into(), "9f2c".repeat(16)),
            ]),
            Block::Heading(2, "七项指标".into()),
            Block::Table {
                columns: vec![
                    Column::new("指标", 2.0),
                    Column::new("结果", 0.9),
                    Column::new("依据", 4.5),
                ],
                rows: (0..7)
                    .map(|i| {
                        vec![
                            format!("指标 {i}"),
                            "达标".into(),
                            "2025 年家庭纯收入 36,800 元，2 人，人均 18,400 元；当年标准 4,700 元"
                                .into(),
                        ]
                    })
                    .collect(),
            },
            Block::Figures(
                (0..4)
                    .map(|i| Figure {
                        image: photo.clone().unwrap_or_default(),
                        caption: vec![
                            format!("p{i} · 住房"),
                            "拍摄时间：2026-11-20 10:31（北京时间）".into(),
                            "⚑ 照片时间不符 ✓ ✗".into(),
                        ],
                    })
                    .collect(),
            ),
            Block::Bars {
                max: 100.0,
                bars: vec![
                    Bar {
                        label: "甲镇".into(),
                        value: 86.55,
                        text: "86.55%".into(),
                    },
                    Bar {
                        label: "乙镇".into(),
                        value: 42.0,
                        text: "42.00%".into(),
                    },
                ],
            },
            Block::Paragraph("如何验证：本 PDF 附有 ledger-proof.json。".repeat(6)),
        ],
        attachments: vec![Attachment {
            name: "ledger-proof.json".into(),
            mime_type: "application/json".into(),
            description: "proof".into(),
            data: b"{\"format\":\"x\"}".to_vec(),
        }],
    };
    std::fs::write(&out, render(&doc, &font).expect("renders")).expect("written");
}
