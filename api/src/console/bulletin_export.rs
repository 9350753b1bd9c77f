//! A bulletin (通报) as a file to send up: `/console/bulletins/{id}/bulletin.xlsx`, a workbook
//! of the ranking table (the unit's own row last) and the 30-day trend; the PDF is
//! `bulletin_pdf.rs`. Both are made from the stored bulletin, so the file says what the
//! bulletin says, and both carry its digest and ledger entry so a reader can check it. The
//! same readers and jurisdiction as the page.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use fieldsurvey_core::bulletin::{Bulletin, Ratio, UnitLine};
use fieldsurvey_db::bulletins::Stored;
use rust_xlsxwriter::{Format, Workbook, XlsxError};

use super::session::me;
use super::{ConsoleError, Page, secured};
use crate::error::ApiError;
use crate::state::AppState;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

pub(super) async fn load(
    state: &AppState,
    req: &HttpRequest,
    id: String,
) -> Result<(Stored, Bulletin), ConsoleError> {
    let me = me(state, req).await?;
    let (row, check) = crate::routes::bulletins::read(state, me.caller.clone(), id).await?;
    // A bulletin that fails its ledger check is not sent up as a file.
    if check.is_err() {
        return Err(ConsoleError::Page(
            StatusCode::CONFLICT,
            "本通报未通过问责账本核验（存储内容与签发时的摘要不符），不能导出；请用 fieldsurvey bulletin verify 查明。".into(),
        ));
    }
    let b: Bulletin = serde_json::from_str(&row.snapshot).map_err(|e| {
        ConsoleError::from(fieldsurvey_db::DbError::Invalid(format!(
            "bulletin {}: {e}",
            row.id
        )))
    })?;
    Ok((row, b))
}

pub(super) fn attachment(content_type: &str, name: String, body: Vec<u8>) -> HttpResponse {
    secured(HttpResponse::Ok())
        .content_type(content_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .body(body)
}

pub(super) fn file_name(b: &Bulletin, ext: &str) -> String {
    format!("bulletin-{}-{}.{ext}", b.unit.code, b.period)
}

pub(super) fn pct(r: Ratio) -> String {
    r.value().map_or_else(
        || "—".to_owned(),
        |v| format!("{:.2}%（{}/{}）", v * 100.0, r.num, r.den),
    )
}

pub(super) fn opt(n: Option<u32>) -> String {
    n.map_or_else(|| "—".to_owned(), |r| r.to_string())
}

pub(super) async fn xlsx(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Page {
    let (row, b) = load(&state, &req, path.into_inner()).await?;
    let bytes = workbook(&row, &b)
        .map_err(|e| ConsoleError::from(ApiError::Internal(format!("the bulletin's XLSX: {e}"))))?;
    Ok(attachment(XLSX, file_name(&b, "xlsx"), bytes))
}

/// The ranking table's columns (the unit's own row last, as 合计).
const COLUMNS: [&str; 18] = [
    "名次",
    "上月名次",
    "单位代码",
    "单位名称",
    "底册户数",
    "已核实户数",
    "上月已核实户数",
    "本月新核实户数",
    "覆盖率（已核实/底册）",
    "达标户数",
    "达标率（达标/已核实）",
    "问题线索数",
    "本月新增线索",
    "未整改线索",
    "其中逾期",
    "已整改待确认",
    "已销号线索",
    "整改销号率（已销号/问题线索）",
];

fn workbook(row: &Stored, b: &Bulletin) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let percent = Format::new().set_num_format("0.00%");
    let sheet = book.add_worksheet();
    sheet.set_name("通报")?;
    let head = [
        ("单位", format!("{}（{}）", b.unit.name, b.unit.code)),
        ("月份", b.period.clone()),
        ("数据截至（UTC）", b.as_of.clone()),
        ("发布时间（UTC）", b.issued_at.clone()),
        ("发布人", b.issued_by.clone()),
        ("摘要值 SHA-256", row.digest.clone()),
        ("问责账本序号", row.ledger_seq.to_string()),
        (
            "环比",
            b.previous_bulletin.as_ref().map_or_else(
                || "上月没有通报".to_owned(),
                |p| format!("与 {} 通报相比", p.period),
            ),
        ),
        ("排名规则", b.ranking_rule.clone()),
    ];
    let mut r = 0u32;
    for (k, v) in head {
        sheet.write_string_with_format(r, 0, k, &bold)?;
        sheet.write_string(r, 1, v)?;
        r += 1;
    }
    r += 1;
    for (c, h) in COLUMNS.iter().enumerate() {
        sheet.write_string_with_format(r, c as u16, *h, &bold)?;
    }
    r += 1;
    let mut line = |r: u32, u: &UnitLine, total: bool| -> Result<(), XlsxError> {
        let f = &u.figures;
        let before = u.previous.as_ref();
        if total {
            sheet.write_string(r, 0, "合计")?;
        } else if let Some(rank) = u.rank {
            sheet.write_number(r, 0, rank)?;
        }
        if let Some(rank) = before.and_then(|p| p.rank) {
            sheet.write_number(r, 1, rank)?;
        }
        sheet.write_string(r, 2, &u.code)?;
        sheet.write_string(r, 3, &u.name)?;
        sheet.write_number(r, 4, f.households as f64)?;
        sheet.write_number(r, 5, f.verified as f64)?;
        if let Some(p) = before {
            sheet.write_number(r, 6, p.figures.verified as f64)?;
        }
        sheet.write_number(r, 7, f.verified_in_period as f64)?;
        if let Some(v) = f.coverage().value() {
            sheet.write_number_with_format(r, 8, v, &percent)?;
        }
        sheet.write_number(r, 9, f.meets_standard as f64)?;
        if let Some(v) = f.meets_rate().value() {
            sheet.write_number_with_format(r, 10, v, &percent)?;
        }
        sheet.write_number(r, 11, f.clues_raised as f64)?;
        sheet.write_number(r, 12, f.clues_raised_in_period as f64)?;
        sheet.write_number(r, 13, f.clues_open as f64)?;
        if let Some(n) = f.clues_overdue {
            sheet.write_number(r, 14, n as f64)?;
        }
        sheet.write_number(r, 15, f.clues_closed as f64)?;
        sheet.write_number(r, 16, f.clues_confirmed as f64)?;
        if let Some(v) = f.closure_rate().value() {
            sheet.write_number_with_format(r, 17, v, &percent)?;
        }
        Ok(())
    };
    for u in &b.units {
        line(r, u, false)?;
        r += 1;
    }
    line(r, &b.unit, true)?;
    let trend = book.add_worksheet();
    trend.set_name("近30天")?;
    for (c, h) in ["日期", "核实户数", "销号线索数"].iter().enumerate() {
        trend.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    for (i, d) in b.trend.iter().enumerate() {
        let r = i as u32 + 1;
        trend.write_string(r, 0, &d.date)?;
        trend.write_number(r, 1, d.verified as f64)?;
        trend.write_number(r, 2, d.clues_closed as f64)?;
    }
    book.save_to_buffer()
}
