//! A gathered dossier as a document: the sections in the order an archive reads them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use fieldsurvey_core::dossier::{DossierProof, FILE_NAME, FORMAT, ProvenVersion};
use fieldsurvey_core::ledger::Entry;
use fieldsurvey_core::vocab::{LedgerAction, ReasonAction, Status};
use fieldsurvey_pdf::{Attachment, Block, Column, Doc, Figure};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::super::labels::{
    action_name, actor_named, explain_flag, kind_name, reason_action_name, signature_name,
    status_name,
};
use super::super::record;
use super::Makers;
use super::gather::{Gathered, Version};
use crate::error::ApiError;
use crate::view;

fn kv(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_owned(), v.into())
}

fn or_dash(s: Option<String>) -> String {
    s.filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "—".to_owned())
}

pub(super) fn compose(g: Gathered, m: &Makers, now: DateTime<Utc>) -> Result<Doc, ApiError> {
    let zone = m.zone;
    let code = g.code.as_str().to_owned();
    let generated = zone.minute(now);
    let parsed: Vec<(u64, Entry)> = g
        .entries
        .iter()
        .filter_map(|e| Some((e.seq, serde_json::from_str(&e.canonical).ok()?)))
        .collect();
    let proof = DossierProof {
        format: FORMAT.into(),
        household_code: code.clone(),
        generated_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        checkpoint: g.checkpoint.clone(),
        versions: g
            .versions
            .iter()
            .map(|v| ProvenVersion {
                submission_id: v.sub.id.clone(),
                content_digest: v.sub.content_digest.clone(),
            })
            .collect(),
        entries: g.entries.clone(),
    };
    let proof_bytes = serde_json::to_vec(&proof).map_err(|e| ApiError::Internal(e.to_string()))?;
    let proof_sha = hex::encode(Sha256::digest(&proof_bytes));

    let village = g.village.as_ref().map_or_else(
        || code[..12].to_owned(),
        |v| format!("{}（{}）", v.name, v.code),
    );
    let mut blocks = vec![Block::Note(if g.full_ids {
        "本档案显示完整身份证号；本次查阅已按个人信息保护要求登记在案。".to_owned()
    } else {
        "身份证号已脱敏（只显示前 6 位和后 4 位），姓名只显示姓。".to_owned()
    })];

    // 一、基本情况
    blocks.push(Block::Heading(1, "一、基本情况".into()));
    let current = g.versions.last();
    let mut basics = vec![kv("户编码", code.clone()), kv("所在村", village.clone())];
    match &g.registry {
        Some(r) => basics.extend([
            kv("户主（底册）", r.head_name.clone()),
            kv("户主身份证号（底册）", r.head_id_number.clone()),
            kv("底册人口", format!("{} 人", r.member_count)),
            kv("底册导入时间", zone.minute_of(r.imported_at)),
        ]),
        None => basics.push(kv("底册", "不在底册中（疑似漏评户，由核实调查发现）")),
    }
    basics.push(kv("核实版本", format!("{} 版", g.versions.len())));
    if let Some(v) = current {
        basics.push(kv("当前状态", status_name(v.sub.status)));
        basics.push(kv("是否达标", meets_words(&v.view)));
    }
    blocks.push(Block::KeyValues(basics));

    // 二、核实记录
    blocks.push(Block::Heading(
        1,
        "二、核实记录（谁核实、谁签字、谁负责）".into(),
    ));
    if g.versions.is_empty() {
        blocks.push(Block::Paragraph("本户在底册中，还没有核实记录。".into()));
    }
    for v in &g.versions {
        version_blocks(&mut blocks, v, &parsed, &g.names, g.full_ids, m);
    }

    // 三、问题线索
    blocks.push(Block::Heading(1, "三、问题线索及销号".into()));
    let clues: Vec<Vec<String>> = g
        .versions
        .iter()
        .flat_map(|v| v.clues.iter().map(move |c| (format!("第 {} 版", v.n), c)))
        .chain(g.household_clues.iter().map(|c| {
            // Not raised by a version: where it came from.
            (super::super::clues::source_name(c.source).to_owned(), c)
        }))
        .map(|(raised_by, c)| {
            vec![
                kind_name(c.kind).to_owned(),
                raised_by,
                fieldsurvey_db::exports::clue_status_name(c.status),
                zone.minute_of(c.opened_at),
                c.closed_at
                    .map_or_else(|| "—".to_owned(), |t| zone.minute_of(t)),
                or_dash(c.close_reason.clone()),
            ]
        })
        .collect();
    if clues.is_empty() {
        blocks.push(Block::Paragraph("本户没有问题线索。".into()));
    } else {
        blocks.push(Block::Table {
            columns: vec![
                Column::new("线索", 2.2),
                Column::new("提出版本或来源", 1.0),
                Column::new("状态", 1.0),
                Column::new("提出时间", 1.8),
                Column::new("销号时间", 1.8),
                Column::new("销号原因", 2.4),
            ],
            rows: clues,
        });
    }

    // 四、账本验证
    blocks.push(Block::Heading(1, "四、账本检查点与包含证明".into()));
    let cp = &g.checkpoint;
    blocks.push(Block::KeyValues(vec![
        kv("检查点规模", format!("{} 条", cp.size)),
        kv("根哈希", cp.root_hash.clone()),
        kv("头条目哈希", cp.head_hash.clone()),
        kv("检查点时间", zone.minute_text(&cp.timestamp)),
        kv("服务公钥", cp.public_key.clone()),
        kv("检查点签名", cp.signature.clone()),
        kv("证明附件", format!("{FILE_NAME}（SHA-256 {proof_sha}）")),
    ]));
    blocks.push(Block::Table {
        columns: vec![
            Column::new("序号", 0.8),
            Column::new("版本", 0.8),
            Column::new("动作", 1.4),
            Column::new("条目哈希", 4.0),
            Column::new("证明路径", 0.9),
        ],
        rows: parsed
            .iter()
            .zip(&g.entries)
            .map(|((seq, e), p)| {
                let n = g
                    .versions
                    .iter()
                    .find(|v| e.submission_id.as_deref() == Some(v.sub.id.as_str()))
                    .map_or_else(|| "—".to_owned(), |v| format!("第 {} 版", v.n));
                vec![
                    seq.to_string(),
                    n,
                    action_name(e.action).to_owned(),
                    p.entry_hash.clone(),
                    format!("{} 个哈希", p.inclusion_proof.len()),
                ]
            })
            .collect(),
    });
    blocks.push(Block::Note(format!(
        "如何验证：本 PDF 附有 {FILE_NAME}（可用 pdfdetach 取出），内含以上每个账本条目的规范文本、\
         服务签名及其在检查点中的包含证明。持有服务公钥者可离线验证：\
         fieldsurvey ledger verify --dossier 本文件.pdf --public-key 服务公钥。\
         任一字节被改动，验证即失败。"
    )));

    Ok(Doc {
        title: "一户一档".into(),
        subtitle: Some(format!("户编码 {code} · {village}")),
        header_left: format!("一户一档 · 户编码 {code}"),
        header_right: format!("生成于 {generated}"),
        blocks,
        attachments: vec![Attachment {
            name: FILE_NAME.into(),
            mime_type: "application/json".into(),
            description: format!("户 {code} 的账本条目、包含证明与签名检查点（{FORMAT}）"),
            data: proof_bytes,
        }],
    })
}

fn meets_words(v: &view::SubmissionView) -> String {
    match v.outcome.as_ref().map(|o| &o["meets_standard"]) {
        Some(Value::Bool(true)) => "达标（一达标两不愁三保障）".into(),
        Some(Value::Bool(false)) => "未达标".into(),
        _ => "尚未判定".into(),
    }
}

fn version_blocks(
    blocks: &mut Vec<Block>,
    v: &Version,
    entries: &[(u64, Entry)],
    names: &HashMap<String, String>,
    full_ids: bool,
    m: &Makers,
) {
    let zone = m.zone;
    let s = &v.view;
    blocks.push(Block::Heading(
        2,
        format!("第 {} 版 · {}", v.n, status_name(v.sub.status)),
    ));
    let verifier = s
        .verifier
        .display_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .map_or_else(
            || s.verifier.username.clone(),
            |n| format!("{n}（{}）", s.verifier.username),
        );
    let mut head = vec![
        kv("提交编号", s.id.clone()),
        kv("内容摘要（SHA-256）", s.content_digest.clone()),
        kv("核实人（签字人）", verifier),
        kv("签名密钥", or_dash(s.verifier.key_id.clone())),
        kv("收到时间", zone.minute_text(&s.received_at)),
        kv(
            "校验完成时间",
            s.processed_at
                .as_deref()
                .map_or_else(|| "—".to_owned(), |t| zone.minute_text(t)),
        ),
        kv("是否达标", meets_words(s)),
    ];
    if let Some(prev) = &s.supersedes {
        head.push(kv("更正自", prev.clone()));
    }
    blocks.push(Block::KeyValues(head));

    let indicators = s
        .outcome
        .as_ref()
        .and_then(|o| serde_json::from_value(o["indicators"].clone()).ok());
    if let Some(doc) = &v.survey {
        let rec = record::build(doc, indicators.as_ref(), zone);
        blocks.push(Block::KeyValues(
            rec.visit
                .iter()
                .map(|a| kv(&a.label, a.value.clone()))
                .collect(),
        ));
        blocks.push(Block::Heading(2, "家庭成员".into()));
        blocks.push(Block::Table {
            columns: vec![
                Column::new("序号", 0.6),
                Column::new("姓名", 1.2),
                Column::new("身份证号", 2.4),
                Column::new("与户主关系", 1.1),
                Column::new("年龄", 0.8),
                Column::new("上学情况", 1.5),
                Column::new("基本医疗保险", 1.2),
            ],
            rows: rec
                .members
                .iter()
                .map(|p| {
                    vec![
                        p.n.to_string(),
                        if full_ids {
                            p.name.clone()
                        } else {
                            view::mask_name(&p.name)
                        },
                        if full_ids {
                            p.id_number.clone()
                        } else {
                            view::mask(&p.id_number)
                        },
                        p.relation.clone(),
                        p.age.clone(),
                        flagged(&p.schooling, p.schooling_fails.is_some()),
                        flagged(&p.insurance, p.insurance_fails.is_some()),
                    ]
                })
                .collect(),
        });
        if !rec.indicators.is_empty() {
            blocks.push(Block::Heading(
                2,
                "七项指标（一达标 两不愁 三保障 及饮水安全）".into(),
            ));
            blocks.push(Block::Table {
                columns: vec![
                    Column::new("指标", 2.0),
                    Column::new("结果", 0.9),
                    Column::new("依据", 4.5),
                ],
                rows: rec
                    .indicators
                    .iter()
                    .map(|i| {
                        vec![
                            i.name.to_owned(),
                            if i.pass { "达标" } else { "未达标" }.to_owned(),
                            i.basis.clone(),
                        ]
                    })
                    .collect(),
            });
        }
        blocks.push(Block::Heading(2, "收入与生活条件".into()));
        blocks.push(Block::Table {
            columns: vec![
                Column::new("项目", 1.6),
                Column::new("回答", 2.0),
                Column::new("问题", 2.6),
            ],
            rows: rec
                .living
                .iter()
                .map(|a| vec![a.label.clone(), a.value.clone(), or_dash(a.fails.clone())])
                .collect(),
        });
        if !rec.remarks.is_empty() {
            blocks.push(Block::Paragraph(format!("备注：{}", rec.remarks)));
        }
    } else {
        blocks.push(Block::Paragraph(
            "此版本的调查内容无法读取（被驳回的上传）。".into(),
        ));
    }
    let flags: Vec<String> = s
        .flags
        .as_array()
        .map(|fs| fs.iter().map(explain_flag).collect())
        .unwrap_or_default();
    if !flags.is_empty() {
        blocks.push(Block::Heading(2, "标记".into()));
        for f in flags {
            blocks.push(Block::Paragraph(format!("· {f}")));
        }
    }
    if let Some(rs) = s.rejections.as_array().filter(|r| !r.is_empty()) {
        blocks.push(Block::Heading(2, "驳回原因".into()));
        for r in rs {
            blocks.push(Block::Paragraph(format!(
                "· {}",
                r["message"].as_str().unwrap_or_default()
            )));
        }
    }
    if !s.photos.is_empty() {
        blocks.push(Block::Heading(2, "佐证照片".into()));
        let figures = s
            .photos
            .iter()
            .zip(&v.thumbs)
            .map(|(p, thumb)| {
                let mut caption = vec![format!("{} · {}", p.part, record::photo_kind_name(p.kind))];
                caption.push(match &p.exif_time {
                    Some(t) => format!("拍摄时间：{}", zone.minute_text(t)),
                    None => "拍摄时间：照片未记录".to_owned(),
                });
                caption.push(
                    match p
                        .exif_gps
                        .as_ref()
                        .and_then(|g| Some((g["lat"].as_f64()?, g["lon"].as_f64()?)))
                    {
                        Some((lat, lon)) => format!("拍摄地点：北纬 {lat:.5}°，东经 {lon:.5}°"),
                        None => "拍摄地点：照片未记录".to_owned(),
                    },
                );
                caption.extend(p.flags.iter().map(|f| format!("⚑ {}", explain_flag(f))));
                caption.push(format!("SHA-256 {}", &p.sha256[..16.min(p.sha256.len())]));
                Figure {
                    image: thumb.clone().unwrap_or_default(),
                    caption,
                }
            })
            .collect();
        blocks.push(Block::Figures(figures));
    }
    blocks.push(Block::Heading(2, "签核、审核与签字".into()));
    let rows: Vec<Vec<String>> = entries
        .iter()
        .filter(|(_, e)| e.submission_id.as_deref() == Some(v.sub.id.as_str()))
        .map(|(seq, e)| {
            let actor = serde_json::to_value(&e.actor).unwrap_or_default();
            let mut what = action_name(e.action).to_owned();
            for r in reasons(e, v) {
                what.push('\n');
                what.push_str(&r);
            }
            vec![
                seq.to_string(),
                what,
                actor_named(&actor, names),
                zone.cell_minute(&e.at),
                signature_words(e, v),
            ]
        })
        .collect();
    blocks.push(Block::Table {
        columns: vec![
            Column::new("序号", 0.6),
            Column::new("动作及理由", 2.9),
            Column::new("责任人", 2.0),
            Column::new(format!("时间{}", zone.heading()), 1.6),
            Column::new("签名及验证结果", 2.5),
        ],
        rows,
    });
}

/// A member's answer, marked when it fails its indicator.
fn flagged(value: &str, fails: bool) -> String {
    if fails {
        format!("{value}（未达标）")
    } else {
        value.to_owned()
    }
}

/// A decision's reasons in words (留纠删补 with the field named as the record names it).
fn reasons(e: &Entry, v: &Version) -> Vec<String> {
    let Some(decision) = e.decision.as_ref() else {
        return vec![];
    };
    let label = |field: &str| match &v.survey {
        Some(d) => record::field_label(field, d),
        None => field.to_owned(),
    };
    let mut out: Vec<String> = decision["reasons"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| {
                    let action = r["action"]
                        .as_str()
                        .and_then(|a| a.parse::<ReasonAction>().ok())
                        .map_or("—", reason_action_name);
                    let note = r["note"].as_str().unwrap_or_default();
                    match r["field"].as_str() {
                        Some(f) => format!("{action}：{} {note}", label(f)),
                        None => format!("{action}：{note}"),
                    }
                    .trim_end()
                    .to_owned()
                })
                .collect()
        })
        .unwrap_or_default();
    for key in ["note", "reason"] {
        if let Some(n) = decision[key].as_str().filter(|n| !n.trim().is_empty()) {
            out.push(format!("说明：{n}"));
        }
    }
    out
}

/// Who signed the step beside the service, and whether it verifies: a decision over its exact
/// bytes; the verifier's signature over the survey this dossier holds.
fn signature_words(e: &Entry, v: &Version) -> String {
    if e.decision.is_none() && e.actor_signature.is_some() && e.action == LedgerAction::SignedOff {
        let key = e
            .actor_signature
            .as_ref()
            .and_then(|s| s["key_id"].as_str())
            .unwrap_or("?");
        let checked = e
            .actor_public_key
            .as_deref()
            .and_then(|k| fieldsurvey_core::signing::parse_public_key_b64url(k).ok())
            .zip(v.doc.as_ref())
            .map(|(pk, doc)| fieldsurvey_core::signing::verify_survey_signature(doc, &pk).is_ok());
        return match checked {
            Some(true) => format!("核实人本人签名 ✓ 已验证（{key}）"),
            Some(false) => format!("核实人本人签名 ✗ 验证失败（{key}）"),
            None => format!("核实人签名（{key}），无法在此验证"),
        };
    }
    let _ = Status::Approved;
    signature_name(&view::signature_check(e))
}
