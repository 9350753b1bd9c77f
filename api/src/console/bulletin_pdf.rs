//! A bulletin (通报) as an A4 PDF in Chinese: `/console/bulletins/{id}/bulletin.pdf`, through the
//! `fieldsurvey-pdf` crate and the font the dossiers use: the unit's figures, the ranking table,
//! the coverage bars, the 30-day trend, the notes, and the digest and ledger entry to check it
//! by. Made from the stored bulletin; the same readers and jurisdiction as the page.

use std::sync::OnceLock;

use actix_web::{HttpRequest, web};
use fieldsurvey_core::bulletin::Bulletin;
use fieldsurvey_db::bulletins::Stored;

use super::bulletin_export::{attachment, file_name, load, opt, pct};
use super::{ConsoleError, Page};
use crate::error::ApiError;
use crate::state::AppState;

/// The font, read once per process (`PDF_FONT`, else Debian's fonts-wqy-microhei), as the
/// dossiers read it.
fn font() -> Result<fieldsurvey_pdf::FontFile, ApiError> {
    static FONT: OnceLock<Result<fieldsurvey_pdf::FontFile, String>> = OnceLock::new();
    FONT.get_or_init(|| {
        let path = super::dossier::PdfFont::from_env();
        fieldsurvey_pdf::FontFile::load(path.path(), 0).map_err(|e| e.to_string())
    })
    .clone()
    .map_err(|e| ApiError::Internal(format!("the bulletin's font: {e}")))
}

pub(super) async fn pdf(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Page {
    let (row, b) = load(&state, &req, path.into_inner()).await?;
    let zone = state.config.office_zone;
    let doc = document(&row, &b, &zone);
    let bytes = web::block(move || {
        let font = font()?;
        fieldsurvey_pdf::render(&doc, &font)
            .map_err(|e| ApiError::Internal(format!("the bulletin's PDF: {e}")))
    })
    .await
    .map_err(|e| ConsoleError::from(ApiError::Internal(e.to_string())))??;
    Ok(attachment("application/pdf", file_name(&b, "pdf"), bytes))
}

fn document(
    row: &Stored,
    b: &Bulletin,
    zone: &crate::office_time::OfficeZone,
) -> fieldsurvey_pdf::Doc {
    use fieldsurvey_pdf::{Bar, Block, Column, Doc};
    let f = &b.unit.figures;
    let mut blocks = vec![
        Block::Heading(1, "总体情况".to_owned()),
        Block::KeyValues(vec![
            ("底册户数".into(), f.households.to_string()),
            (
                "已核实户数".into(),
                format!("{}（本月新核实 {}）", f.verified, f.verified_in_period),
            ),
            ("覆盖率（已核实/底册）".into(), pct(f.coverage())),
            ("达标率（达标/已核实）".into(), pct(f.meets_rate())),
            (
                "问题线索".into(),
                format!(
                    "{} 条（本月新增 {}）；未整改 {}，其中逾期 {}；已整改待确认 {}；已销号 {}",
                    f.clues_raised,
                    f.clues_raised_in_period,
                    f.clues_open,
                    f.clues_overdue
                        .map_or_else(|| "未记录".to_owned(), |n| n.to_string()),
                    f.clues_closed,
                    f.clues_confirmed
                ),
            ),
            (
                "整改销号率（已销号/问题线索）".into(),
                pct(f.closure_rate()),
            ),
            (
                "环比".into(),
                b.previous_bulletin.as_ref().map_or_else(
                    || "上月没有通报".to_owned(),
                    |p| format!("与 {} 通报相比", p.period),
                ),
            ),
        ]),
        Block::Heading(1, "下级单位排名".to_owned()),
        Block::Note(format!("排名规则：{}", super::bulletins::RANKING_WORDS)),
        Block::Table {
            columns: vec![
                Column::new("名次", 0.6),
                Column::new("上月", 0.6),
                Column::new("单位", 1.8),
                Column::new("覆盖率", 1.9),
                Column::new("已核实环比", 1.0),
                Column::new("达标率", 1.9),
                Column::new("线索/逾期", 1.0),
                Column::new("销号率", 1.9),
            ],
            rows: b
                .units
                .iter()
                .map(|u| {
                    let before = u.previous.as_ref();
                    vec![
                        opt(u.rank),
                        opt(before.and_then(|p| p.rank)),
                        u.name.clone(),
                        pct(u.figures.coverage()),
                        before.map_or_else(
                            || "—".to_owned(),
                            |p| format!("{:+}", u.figures.verified - p.figures.verified),
                        ),
                        pct(u.figures.meets_rate()),
                        format!(
                            "{}/{}",
                            u.figures.clues_raised,
                            u.figures
                                .clues_overdue
                                .map_or_else(|| "—".to_owned(), |n| n.to_string())
                        ),
                        pct(u.figures.closure_rate()),
                    ]
                })
                .collect(),
        },
        Block::Heading(2, "覆盖率".to_owned()),
        Block::Bars {
            max: 1.0,
            bars: b
                .units
                .iter()
                .map(|u| Bar {
                    label: u.name.clone(),
                    value: u.figures.coverage().value().unwrap_or(0.0),
                    text: u
                        .figures
                        .coverage()
                        .value()
                        .map_or_else(|| "无底册户".to_owned(), |v| format!("{:.1}%", v * 100.0)),
                })
                .collect(),
        },
        Block::Heading(1, "近 30 天（截至期末）".to_owned()),
        Block::Table {
            columns: vec![
                Column::new("日期", 1.0),
                Column::new("核实户数", 1.0),
                Column::new("销号线索数", 1.0),
            ],
            rows: b
                .trend
                .iter()
                .map(|d| {
                    vec![
                        d.date.clone(),
                        d.verified.to_string(),
                        d.clues_closed.to_string(),
                    ]
                })
                .collect(),
        },
        Block::Heading(1, "说明".to_owned()),
    ];
    blocks.extend(b.notes.iter().map(|n| Block::Paragraph(n.clone())));
    blocks.push(Block::KeyValues(vec![
        ("摘要值 SHA-256".into(), row.digest.clone()),
        ("问责账本序号".into(), row.ledger_seq.to_string()),
        ("核验".into(), "fieldsurvey bulletin verify".into()),
    ]));
    Doc {
        title: format!("{} {} 月度通报", b.unit.name, b.period),
        subtitle: Some(format!(
            "数据截至 {} 24:00（{}）",
            super::bulletins::last_day(&b.period),
            super::bulletins::zone_words(&b.zone)
        )),
        header_left: format!("{} {}", b.unit.code, b.period),
        header_right: format!("发布于 {}", zone.minute_text(&b.issued_at)),
        blocks,
        attachments: vec![],
    }
}
