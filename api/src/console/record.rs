//! The full record of one version as a reviewer reads it before signing: every answer of the
//! survey in the form's order and in words, each failing value marked with the rule it fails,
//! a map of where the visit and the photos were taken, the fields a reason can name, and what a
//! correction changed against the version it replaces. Pure functions of the stored document,
//! the outcome and the flags; the page handlers fetch those.

use std::fmt::Write;

use chrono::NaiveDate;
use fieldsurvey_core::form::{PhotoKind, SafetyGrade, Schooling, Survey, WaterSource};
use fieldsurvey_core::ids::IdNumber;
use fieldsurvey_core::indicators::{Indicators, age_on};
use fieldsurvey_core::vocab::FlagCode;
use serde_json::Value;

use super::labels::{flag_name, relation_name};
use crate::office_time::OfficeZone;
use crate::view::mask;

/// One answer: what was asked, what was answered, and why it fails when it does.
pub(super) struct Answer {
    pub label: String,
    pub value: String,
    pub fails: Option<String>,
}

/// A member as the record shows them; `*_fails` say which rule their answer breaks.
pub(super) struct MemberLine {
    pub n: usize,
    pub name: String,
    pub id_number: String,
    pub relation: String,
    pub age: String,
    pub schooling: String,
    pub schooling_fails: Option<String>,
    pub insurance: String,
    pub insurance_fails: Option<String>,
}

/// An indicator with the figures it was judged on.
pub(super) struct IndicatorLine {
    pub name: &'static str,
    pub pass: bool,
    pub basis: String,
}

/// The record of one version, in the form's order.
pub(super) struct Record {
    pub visit: Vec<Answer>,
    pub members: Vec<MemberLine>,
    pub indicators: Vec<IndicatorLine>,
    pub living: Vec<Answer>,
    pub remarks: String,
}

pub(super) fn indicator_name(key: &str) -> &'static str {
    match key {
        "income" => "一达标（人均纯收入）",
        "food" => "不愁吃",
        "clothing" => "不愁穿",
        "education" => "义务教育有保障",
        "medical" => "基本医疗有保障",
        "housing" => "住房安全有保障",
        "water" => "饮水安全有保障",
        _ => "指标",
    }
}

fn yes_no(b: bool) -> &'static str {
    if b { "是" } else { "否" }
}

pub(super) fn schooling_name(s: Option<Schooling>) -> &'static str {
    match s {
        Some(Schooling::Enrolled) => "在校",
        Some(Schooling::ExemptDisability) => "送教上门等（免于到校）",
        Some(Schooling::NotEnrolled) => "未入学",
        None => "未填",
    }
}

pub(super) fn grade_name(g: SafetyGrade) -> &'static str {
    match g {
        SafetyGrade::A => "A 级（安全）",
        SafetyGrade::B => "B 级（基本安全）",
        SafetyGrade::C => "C 级（局部危险）",
        SafetyGrade::D => "D 级（危房）",
    }
}

pub(super) fn source_name(s: WaterSource) -> &'static str {
    match s {
        WaterSource::Piped => "自来水",
        WaterSource::Well => "井水",
        WaterSource::Spring => "山泉水",
        WaterSource::Cistern => "水窖",
        WaterSource::Other => "其他",
    }
}

pub(super) fn photo_kind_name(k: Option<PhotoKind>) -> &'static str {
    match k {
        Some(PhotoKind::House) => "住房",
        Some(PhotoKind::HouseholdWithVerifier) => "入户合影",
        Some(PhotoKind::WaterSource) => "饮水水源",
        Some(PhotoKind::Document) => "证件材料",
        Some(PhotoKind::Other) | None => "照片",
    }
}

/// Yuan as people write it: 36,800 元.
fn yuan(v: f64) -> String {
    let whole = v.round() as i64;
    let digits = whole.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("{}{out} 元", if whole < 0 { "-" } else { "" })
}

fn birth_of(id: &str) -> Option<NaiveDate> {
    IdNumber::parse(id).ok().map(|i| i.birth_date())
}

/// The record of `doc` as judged in `outcome` (None before sign-off or for a rejection).
pub(super) fn build(doc: &Survey, outcome: Option<&Indicators>, zone: OfficeZone) -> Record {
    let day = doc.visited_at.date_naive();
    let failing_in = |list: Option<&Vec<usize>>, i: usize| list.is_some_and(|l| l.contains(&i));
    let education = outcome.map(|o| &o.education.failing_members);
    let medical = outcome.map(|o| &o.medical.failing_members);
    let members = doc
        .members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let age = birth_of(&m.id_number).map(|b| age_on(b, day));
            let school_age = age.is_some_and(|a| (6..=15).contains(&a));
            MemberLine {
                n: i + 1,
                name: m.name.clone(),
                id_number: m.id_number.clone(),
                relation: relation_name(&m.relation).to_owned(),
                age: age.map_or_else(|| "—".to_owned(), |a| format!("{a} 岁")),
                schooling: if school_age || m.schooling.is_some() {
                    schooling_name(m.schooling).to_owned()
                } else {
                    "—".to_owned()
                },
                schooling_fails: failing_in(education, i).then(|| {
                    "义务教育：6 至 15 岁须在校或送教上门，此项为“未入学”或未填".to_owned()
                }),
                insurance: if m.medical_insurance {
                    "已参保"
                } else {
                    "未参保"
                }
                .to_owned(),
                insurance_fails: failing_in(medical, i)
                    .then(|| "基本医疗：每位成员都须参加基本医疗保险".to_owned()),
            }
        })
        .collect();
    let names_of = |list: &[usize]| {
        list.iter()
            .map(|&i| {
                doc.members
                    .get(i)
                    .map_or_else(|| format!("成员 {}", i + 1), |m| m.name.clone())
            })
            .collect::<Vec<_>>()
            .join("、")
    };
    let housing_words = format!(
        "{}{}",
        grade_name(doc.housing.safety_grade),
        if doc.housing.relocated {
            "，已易地扶贫搬迁"
        } else {
            ""
        }
    );
    let indicators = outcome
        .map(|o| {
            vec![
                IndicatorLine {
                    name: indicator_name("income"),
                    pass: o.income.pass,
                    basis: format!(
                        "{} 年家庭纯收入 {}，{} 人，人均 {}；当年标准 {}",
                        doc.income.year,
                        yuan(doc.income.net_cny),
                        doc.members.len(),
                        yuan(o.income.per_capita),
                        yuan(o.income.line)
                    ),
                },
                IndicatorLine {
                    name: indicator_name("food"),
                    pass: o.food.pass,
                    basis: format!("不愁吃：{}", yes_no(doc.food_secure)),
                },
                IndicatorLine {
                    name: indicator_name("clothing"),
                    pass: o.clothing.pass,
                    basis: format!("不愁穿：{}", yes_no(doc.clothing_secure)),
                },
                IndicatorLine {
                    name: indicator_name("education"),
                    pass: o.education.pass,
                    basis: if o.education.pass {
                        "6 至 15 岁成员均在校或送教上门".to_owned()
                    } else {
                        format!("未入学或未填：{}", names_of(&o.education.failing_members))
                    },
                },
                IndicatorLine {
                    name: indicator_name("medical"),
                    pass: o.medical.pass,
                    basis: if o.medical.pass {
                        "全部成员已参加基本医疗保险".to_owned()
                    } else {
                        format!("未参保：{}", names_of(&o.medical.failing_members))
                    },
                },
                IndicatorLine {
                    name: indicator_name("housing"),
                    pass: o.housing.pass,
                    basis: format!("住房 {housing_words}；A、B 级或已搬迁为安全"),
                },
                IndicatorLine {
                    name: indicator_name("water"),
                    pass: o.water.pass,
                    basis: format!(
                        "饮水安全：{}；水源 {}",
                        yes_no(doc.water.safe),
                        source_name(doc.water.source)
                    ),
                },
            ]
        })
        .unwrap_or_default();
    let fails = |pass: Option<bool>, why: &str| (pass == Some(false)).then(|| why.to_owned());
    let living = vec![
        Answer {
            label: format!("{} 年家庭纯收入", doc.income.year),
            value: yuan(doc.income.net_cny),
            fails: outcome.and_then(|o| {
                fails(
                    Some(o.income.pass),
                    &format!(
                        "人均 {} 低于当年标准 {}",
                        yuan(o.income.per_capita),
                        yuan(o.income.line)
                    ),
                )
            }),
        },
        Answer {
            label: "不愁吃".into(),
            value: yes_no(doc.food_secure).into(),
            fails: fails(outcome.map(|o| o.food.pass), "吃饭没有保障"),
        },
        Answer {
            label: "不愁穿".into(),
            value: yes_no(doc.clothing_secure).into(),
            fails: fails(outcome.map(|o| o.clothing.pass), "穿衣没有保障"),
        },
        Answer {
            label: "住房安全等级".into(),
            value: housing_words,
            fails: fails(
                outcome.map(|o| o.housing.pass),
                "C、D 级且未搬迁：住房不安全",
            ),
        },
        Answer {
            label: "饮水安全".into(),
            value: yes_no(doc.water.safe).into(),
            fails: fails(outcome.map(|o| o.water.pass), "饮水不安全"),
        },
        Answer {
            label: "饮水水源".into(),
            value: source_name(doc.water.source).into(),
            fails: None,
        },
    ];
    let visit = vec![
        Answer {
            label: "走访时间".into(),
            value: zone.minute(doc.visited_at.with_timezone(&chrono::Utc)),
            fails: None,
        },
        Answer {
            label: "走访地点".into(),
            value: format!(
                "北纬 {:.5}°，东经 {:.5}°（定位精度约 {:.0} 米）",
                doc.location.lat, doc.location.lon, doc.location.accuracy_m
            ),
            fails: None,
        },
    ];
    Record {
        visit,
        members,
        indicators,
        living,
        remarks: doc.remarks.trim().to_owned(),
    }
}

/// What a reason can name, in the order a reviewer looks for it: what fails, what is flagged,
/// then every other answer. `(field path, label)`; the path is what the signed reason carries.
pub(super) fn reason_fields(
    doc: &Survey,
    outcome: Option<&Indicators>,
    flags: &[Value],
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut push = |path: String, label: String| {
        if !out.iter().any(|(p, _)| *p == path) {
            out.push((path, label));
        }
    };
    if let Some(o) = outcome {
        let failing = [
            (o.income.pass, "income.net_cny", "income"),
            (o.food.pass, "food_secure", "food"),
            (o.clothing.pass, "clothing_secure", "clothing"),
            (o.housing.pass, "housing.safety_grade", "housing"),
            (o.water.pass, "water.safe", "water"),
        ];
        for (pass, path, key) in failing {
            if !pass {
                push(path.into(), format!("{}（未达标）", indicator_name(key)));
            }
        }
        for &i in &o.education.failing_members {
            push(
                format!("members[{i}].schooling"),
                format!(
                    "{}（义务教育未达标）",
                    field_label(&format!("members[{i}].schooling"), doc)
                ),
            );
        }
        for &i in &o.medical.failing_members {
            push(
                format!("members[{i}].medical_insurance"),
                format!(
                    "{}（基本医疗未达标）",
                    field_label(&format!("members[{i}].medical_insurance"), doc)
                ),
            );
        }
    }
    for f in flags {
        let code = f["code"].as_str().and_then(|c| c.parse::<FlagCode>().ok());
        let path = f["field"].as_str().map_or_else(
            || match code {
                Some(FlagCode::FarFromVillage) => "location".to_owned(),
                _ => "household_code".to_owned(),
            },
            str::to_owned,
        );
        let name = code.map_or("标记", flag_name);
        push(
            path.clone(),
            format!("{}（{name}）", field_label(&path, doc)),
        );
    }
    for p in &doc.photos {
        let path = format!("photos[{}]", p.part);
        push(path.clone(), field_label(&path, doc));
    }
    for (i, _) in doc.members.iter().enumerate() {
        for leaf in [
            "name",
            "id_number",
            "relation",
            "schooling",
            "medical_insurance",
        ] {
            let path = format!("members[{i}].{leaf}");
            push(path.clone(), field_label(&path, doc));
        }
    }
    for path in [
        "members",
        "visited_at",
        "location",
        "income.year",
        "income.net_cny",
        "food_secure",
        "clothing_secure",
        "housing.safety_grade",
        "housing.relocated",
        "water.safe",
        "water.source",
        "photos",
        "remarks",
    ] {
        push(path.into(), field_label(path, doc));
    }
    out
}

/// A survey field path (`members[1].schooling`, `photos[p2]`, `water.safe`) in words; a path
/// this form does not have is shown as written.
pub(super) fn field_label(path: &str, doc: &Survey) -> String {
    if let Some(rest) = path.strip_prefix("members[") {
        let (index, leaf) = rest.split_once(']').unwrap_or((rest, ""));
        let who = index
            .parse::<usize>()
            .ok()
            .map(|i| {
                doc.members.get(i).map_or_else(
                    || format!("成员 {}", i + 1),
                    |m| format!("成员 {}（{}）", i + 1, m.name),
                )
            })
            .unwrap_or_else(|| "成员".to_owned());
        let what = match leaf.trim_start_matches('.') {
            "name" => "姓名",
            "id_number" => "身份证号",
            "relation" => "与户主关系",
            "schooling" => "上学情况",
            "medical_insurance" => "基本医疗保险",
            "" => "",
            _ => return path.to_owned(),
        };
        return if what.is_empty() {
            who
        } else {
            format!("{who}的{what}")
        };
    }
    if let Some(part) = path
        .strip_prefix("photos[")
        .and_then(|r| r.strip_suffix(']'))
    {
        let kind = doc.photos.iter().find(|p| p.part == part).map(|p| p.kind);
        return format!("照片 {part}（{}）", photo_kind_name(kind));
    }
    match path {
        "members" => "家庭成员（人数）",
        "visited_at" => "走访时间",
        "location" => "走访地点",
        "household_code" => "户编码",
        "income" | "income.net_cny" => "家庭纯收入",
        "income.year" => "收入年度",
        "food_secure" => "不愁吃",
        "clothing_secure" => "不愁穿",
        "housing" | "housing.safety_grade" => "住房安全等级",
        "housing.relocated" => "易地扶贫搬迁",
        "water" | "water.safe" => "饮水安全",
        "water.source" => "饮水水源",
        "photos" => "佐证照片",
        "remarks" => "备注",
        other => return other.to_owned(),
    }
    .to_owned()
}

/// What a correction changed: `(what, before, after)`, in the form's order. ID numbers are
/// shown masked (the earlier version's full numbers are not read here).
pub(super) fn diff(old: &Survey, new: &Survey, zone: OfficeZone) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut cmp = |what: String, a: String, b: String| {
        if a != b {
            out.push((what, a, b));
        }
    };
    cmp(
        "走访时间".into(),
        zone.minute(old.visited_at.with_timezone(&chrono::Utc)),
        zone.minute(new.visited_at.with_timezone(&chrono::Utc)),
    );
    let place = |s: &Survey| format!("{:.5}, {:.5}", s.location.lat, s.location.lon);
    cmp("走访地点".into(), place(old), place(new));
    // Members are matched by ID number: a person keeps their number across versions.
    for (i, m) in new.members.iter().enumerate() {
        let who = format!("成员 {}（{}）", i + 1, m.name);
        match old.members.iter().find(|o| o.id_number == m.id_number) {
            None => cmp(
                "家庭成员".into(),
                "—".into(),
                format!("新增 {}，{}", m.name, mask(&m.id_number)),
            ),
            Some(o) => {
                cmp(format!("{who}的姓名"), o.name.clone(), m.name.clone());
                cmp(
                    format!("{who}的与户主关系"),
                    relation_name(&o.relation).to_owned(),
                    relation_name(&m.relation).to_owned(),
                );
                cmp(
                    format!("{who}的上学情况"),
                    schooling_name(o.schooling).to_owned(),
                    schooling_name(m.schooling).to_owned(),
                );
                cmp(
                    format!("{who}的基本医疗保险"),
                    yes_no(o.medical_insurance).to_owned(),
                    yes_no(m.medical_insurance).to_owned(),
                );
            }
        }
    }
    for o in &old.members {
        if !new.members.iter().any(|m| m.id_number == o.id_number) {
            cmp(
                "家庭成员".into(),
                format!("{}，{}", o.name, mask(&o.id_number)),
                "删去".into(),
            );
        }
    }
    cmp(
        "收入年度".into(),
        old.income.year.to_string(),
        new.income.year.to_string(),
    );
    cmp(
        "家庭纯收入".into(),
        yuan(old.income.net_cny),
        yuan(new.income.net_cny),
    );
    cmp(
        "不愁吃".into(),
        yes_no(old.food_secure).into(),
        yes_no(new.food_secure).into(),
    );
    cmp(
        "不愁穿".into(),
        yes_no(old.clothing_secure).into(),
        yes_no(new.clothing_secure).into(),
    );
    cmp(
        "住房安全等级".into(),
        grade_name(old.housing.safety_grade).into(),
        grade_name(new.housing.safety_grade).into(),
    );
    cmp(
        "易地扶贫搬迁".into(),
        yes_no(old.housing.relocated).into(),
        yes_no(new.housing.relocated).into(),
    );
    cmp(
        "饮水安全".into(),
        yes_no(old.water.safe).into(),
        yes_no(new.water.safe).into(),
    );
    cmp(
        "饮水水源".into(),
        source_name(old.water.source).into(),
        source_name(new.water.source).into(),
    );
    for p in &new.photos {
        let label = format!("照片 {}（{}）", p.part, photo_kind_name(Some(p.kind)));
        match old.photos.iter().find(|o| o.part == p.part) {
            None => cmp(label, "—".into(), "新增".into()),
            Some(o) if o.sha256 != p.sha256 => cmp(label, "原照片".into(), "已更换".into()),
            Some(_) => {}
        }
    }
    for o in &old.photos {
        if !new.photos.iter().any(|p| p.part == o.part) {
            cmp(
                format!("照片 {}（{}）", o.part, photo_kind_name(Some(o.kind))),
                "原照片".into(),
                "删去".into(),
            );
        }
    }
    let remark = |s: &Survey| {
        let r = s.remarks.trim();
        if r.is_empty() {
            "—".into()
        } else {
            r.to_owned()
        }
    };
    cmp("备注".into(), remark(old), remark(new));
    out
}

/// A point on the map: where, what to call it, how to draw it.
pub(super) struct Spot {
    pub lat: f64,
    pub lon: f64,
    pub label: String,
    pub kind: SpotKind,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum SpotKind {
    Visit,
    Photo,
    Village,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A small map drawn by the server (no tiles, nothing fetched from elsewhere): the visit,
/// each photo's EXIF position and the village's centre, on a local flat projection with a
/// scale bar, the 2 km circle a photo must lie within, and the distance of each from the visit.
pub(super) fn map_svg(spots: &[Spot]) -> Option<String> {
    let visit = spots.iter().find(|s| s.kind == SpotKind::Visit)?;
    let (w, h, pad) = (420.0_f64, 300.0_f64, 36.0_f64);
    let lat0 = visit.lat.to_radians();
    // Kilometres east and north of the visit.
    let km = |s: &Spot| {
        (
            (s.lon - visit.lon) * 111.320 * lat0.cos(),
            (s.lat - visit.lat) * 110.574,
        )
    };
    let pts: Vec<(f64, f64)> = spots.iter().map(km).collect();
    let reach = pts
        .iter()
        .map(|(x, y)| x.abs().max(y.abs()))
        .fold(2.4_f64, f64::max);
    let scale = ((w.min(h) / 2.0) - pad) / reach; // px per km
    let (cx, cy) = (w / 2.0, h / 2.0);
    let at = |(x, y): (f64, f64)| (cx + x * scale, cy - y * scale);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"map\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"走访与照片位置示意图\">\
         <rect width=\"{w}\" height=\"{h}\" fill=\"#f4f7f2\"/>\
         <circle cx=\"{cx}\" cy=\"{cy}\" r=\"{r:.1}\" fill=\"none\" stroke=\"#888\" \
         stroke-dasharray=\"4 3\"/>\
         <text x=\"{tx:.1}\" y=\"{ty:.1}\" font-size=\"10\" fill=\"#666\">2 km</text>",
        r = 2.0 * scale,
        tx = cx + 2.0 * scale * 0.72,
        ty = cy - 2.0 * scale * 0.72,
    );
    for (s, p) in spots.iter().zip(&pts) {
        let (x, y) = at(*p);
        let d = fieldsurvey_core::flags::distance_km((visit.lat, visit.lon), (s.lat, s.lon));
        let label = esc(&s.label);
        match s.kind {
            SpotKind::Visit => {
                let _ = write!(
                    svg,
                    "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"6\" fill=\"#b00020\"/>\
                     <text x=\"{lx:.1}\" y=\"{ly:.1}\" font-size=\"12\">{label}</text>",
                    lx = x + 9.0,
                    ly = y + 4.0
                );
            }
            SpotKind::Photo | SpotKind::Village => {
                let colour = if s.kind == SpotKind::Photo {
                    "#1565c0"
                } else {
                    "#2e7d32"
                };
                let _ = write!(
                    svg,
                    "<line x1=\"{cx}\" y1=\"{cy}\" x2=\"{x:.1}\" y2=\"{y:.1}\" stroke=\"{colour}\" \
                     stroke-dasharray=\"2 2\"/>\
                     <rect x=\"{rx:.1}\" y=\"{ry:.1}\" width=\"9\" height=\"9\" fill=\"{colour}\"/>\
                     <text x=\"{lx:.1}\" y=\"{ly:.1}\" font-size=\"11\" fill=\"{colour}\">{label} {d:.1} km</text>",
                    rx = x - 4.5,
                    ry = y - 4.5,
                    lx = x + 8.0,
                    ly = y + 14.0
                );
            }
        }
    }
    // A scale bar of a round length near a fifth of the width.
    let target = (w / 5.0) / scale;
    let bar_km = [
        0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0,
    ]
    .into_iter()
    .rev()
    .find(|&k| k <= target)
    .unwrap_or(0.1);
    let _ = write!(
        svg,
        "<line x1=\"12\" y1=\"{y}\" x2=\"{x2:.1}\" y2=\"{y}\" stroke=\"#222\" stroke-width=\"3\"/>\
         <text x=\"12\" y=\"{ty}\" font-size=\"11\">{bar_km} km</text>\
         <text x=\"{nx}\" y=\"20\" font-size=\"12\" text-anchor=\"end\">北 ↑</text></svg>",
        y = h - 14.0,
        x2 = 12.0 + bar_km * scale,
        ty = h - 20.0,
        nx = w - 10.0,
    );
    Some(svg)
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    fn survey() -> Survey {
        serde_json::from_value(serde_json::json!({
            "id": "0193a5b2-7c1e-7a10-9d2b-3f1f2a9c0e11",
            "form": "household-verification/1",
            "supersedes": null,
            "household_code": "522732100201-0037",
            "visited_at": "2026-11-20T10:32:00+08:00",
            "location": {"lat": 25.9851, "lon": 107.8772, "accuracy_m": 12.0},
            "members": [
                {"name": "王明", "id_number": "522732198503120012", "relation": "head",
                 "schooling": null, "medical_insurance": true},
                {"name": "王小丽", "id_number": "522732201304150029", "relation": "child",
                 "schooling": "not_enrolled", "medical_insurance": false}
            ],
            "income": {"year": 2025, "net_cny": 36800},
            "food_secure": true,
            "clothing_secure": true,
            "housing": {"safety_grade": "B", "relocated": false},
            "water": {"safe": true, "source": "piped"},
            "photos": [
                {"part": "p1", "kind": "house", "sha256": "ab".repeat(32)},
                {"part": "p2", "kind": "household_with_verifier", "sha256": "cd".repeat(32)}
            ],
            "remarks": " 户主外出务工 "
        }))
        .expect("the form's example")
    }

    fn judged(doc: &Survey) -> Indicators {
        let raw = serde_json::to_vec(doc).expect("serialises");
        let ctx = fieldsurvey_core::checks::CheckContext {
            now: chrono::Utc::now(),
        };
        let checked = fieldsurvey_core::checks::check_document(&raw, &ctx).expect("checks pass");
        fieldsurvey_core::indicators::assess(&checked, &Default::default()).indicators
    }

    #[test]
    fn a_failing_member_is_marked_with_the_rule_and_named_in_the_indicator() {
        let doc = survey();
        let ind = judged(&doc);
        let r = build(&doc, Some(&ind), OfficeZone::default());
        let child = &r.members[1];
        assert_eq!(child.age, "13 岁");
        assert_eq!(child.schooling, "未入学");
        assert!(child.schooling_fails.is_some() && child.insurance_fails.is_some());
        assert!(r.members[0].schooling_fails.is_none() && r.members[0].schooling == "—");
        let medical = r
            .indicators
            .iter()
            .find(|i| i.name == "基本医疗有保障")
            .expect("medical");
        assert!(!medical.pass && medical.basis.contains("王小丽"));
        let income = &r.indicators[0];
        assert!(
            income.pass && income.basis.contains("人均 18,400 元"),
            "{}",
            income.basis
        );
        assert_eq!(r.remarks, "户主外出务工");
        assert!(
            r.visit[0].value.starts_with("2026-11-20 10:32"),
            "{}",
            r.visit[0].value
        );
    }

    #[test]
    fn reasons_offer_what_fails_first_and_every_answer_in_words() {
        let doc = survey();
        let ind = judged(&doc);
        let flags = vec![serde_json::json!({"code": "photo_time_mismatch", "field": "photos[p2]"})];
        let fields = reason_fields(&doc, Some(&ind), &flags);
        assert_eq!(fields[0].0, "members[1].schooling");
        assert_eq!(fields[0].1, "成员 2（王小丽）的上学情况（义务教育未达标）");
        assert!(
            fields
                .iter()
                .any(|(p, l)| p == "photos[p2]" && l.contains("照片时间不符"))
        );
        assert!(fields.iter().any(|(p, _)| p == "remarks"));
        let mut seen = std::collections::HashSet::new();
        assert!(
            fields.iter().all(|(p, _)| seen.insert(p.clone())),
            "no field twice"
        );
        assert_eq!(field_label("water.safe", &doc), "饮水安全");
        assert_eq!(field_label("something.else", &doc), "something.else");
    }

    #[test]
    fn a_correction_shows_what_changed_and_only_that() {
        let old = survey();
        let mut new = old.clone();
        new.members[1].schooling = Some(Schooling::Enrolled);
        new.water.source = WaterSource::Well;
        new.members.pop();
        new.members.push(old.members[1].clone());
        new.members[1].medical_insurance = true;
        let changes = diff(&old, &new, OfficeZone::default());
        assert_eq!(
            changes,
            vec![
                (
                    "成员 2（王小丽）的基本医疗保险".to_owned(),
                    "否".to_owned(),
                    "是".to_owned()
                ),
                (
                    "饮水水源".to_owned(),
                    "自来水".to_owned(),
                    "井水".to_owned()
                ),
            ]
        );
        assert!(diff(&old, &old, OfficeZone::default()).is_empty());
    }

    #[test]
    fn the_map_fits_a_far_photo_and_names_its_distance() {
        let spots = vec![
            Spot {
                lat: 25.9851,
                lon: 107.8772,
                label: "走访".into(),
                kind: SpotKind::Visit,
            },
            Spot {
                lat: 26.6,
                lon: 107.8772,
                label: "p1".into(),
                kind: SpotKind::Photo,
            },
        ];
        let svg = map_svg(&spots).expect("a visit");
        assert!(svg.contains("p1 68.4 km"), "{svg}");
        assert!(!svg.contains("http://") || svg.matches("http://").count() == 1);
        assert!(map_svg(&spots[1..]).is_none());
    }
}
