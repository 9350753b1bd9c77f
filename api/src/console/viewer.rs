//! `/console/submissions/{id}/photos/{part}`: one photo large, with where and when the camera
//! says it was taken against the visit, each flag about it marked on it, a reused photo beside
//! the other household's, and the arrow keys (or links) to the next and previous photo.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use askama::Template;
use chrono::{DateTime, Utc};
use fieldsurvey_core::flags::distance_km;
use fieldsurvey_core::form::Survey;
use fieldsurvey_core::vocab::FlagCode;
use serde_json::Value;

use super::labels::{explain_flag, flag_name};
use super::record::photo_kind_name;
use super::session::me;
use super::{ConsoleError, Me, Page, page};
use crate::authz;
use crate::error::ApiError;
use crate::state::AppState;

/// The other household's photo a reuse flag names, when the reader may see it.
struct Other {
    household: String,
    /// `None`: outside the reader's jurisdiction, so only its household code is shown.
    link: Option<(String, String)>,
    how: &'static str,
}

#[derive(Template)]
#[template(path = "photo.html")]
struct PhotoPage<'a> {
    me: Option<&'a Me>,
    notice: Option<String>,
    id: String,
    household: String,
    part: String,
    label: &'static str,
    src: String,
    /// Flags about this photo: (short name, what was measured).
    marks: Vec<(&'static str, String)>,
    facts: Vec<(&'static str, String)>,
    others: Vec<Other>,
    prev: Option<String>,
    next: Option<String>,
    position: String,
}

pub(super) async fn viewer(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Page {
    let me = me(&state, &req).await?;
    let (id, part) = path.into_inner();
    let id = fieldsurvey_core::ids::SubmissionId::parse(&id)
        .map_err(|_| ConsoleError::from(ApiError::NotFound))?
        .to_string();
    let caller = me.caller.clone();
    let pii = state.pii.clone();
    let loaded = state
        .db
        .run(move |c| {
            let Some(sub) = fieldsurvey_db::submissions::get(c, &id)? else {
                return Ok(None);
            };
            if !authz::may_view_submission(c, &caller, &sub)? {
                return Ok(None);
            }
            let photos = fieldsurvey_db::submissions::photos(c, &sub.id)?;
            let flags: Vec<Value> = serde_json::from_str(&sub.flags).unwrap_or_default();
            // Each reuse flag's other photo, if this reader may see that version too.
            let mut others = Vec::new();
            for f in flags.iter().filter(|f| {
                f["code"] == FlagCode::PhotoReused.as_str() && f["detail"]["part"] == part.as_str()
            }) {
                let d = &f["detail"];
                let other_id = d["other_submission"].as_str().unwrap_or_default();
                let other_part = d["other_part"].as_str().unwrap_or_default().to_owned();
                let visible = match fieldsurvey_db::submissions::get(c, other_id)? {
                    Some(o) => authz::may_view_submission(c, &caller, &o)?,
                    None => false,
                };
                others.push(Other {
                    household: d["other_household"].as_str().unwrap_or("?").to_owned(),
                    link: visible.then(|| (other_id.to_owned(), other_part)),
                    how: if d["match"] == "sha256" {
                        "同一文件"
                    } else {
                        "画面几乎相同"
                    },
                });
            }
            let survey: Option<Survey> = pii
                .open(&sub.document)
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok());
            // The visit's place is personal data too: the read is on record.
            if survey.is_some() && sub.surveyor_id != caller.user_id {
                fieldsurvey_db::users::record_pii_read(c, &caller.user_id, &sub.id)?;
            }
            Ok(Some((sub, photos, flags, others, survey, part)))
        })
        .await?;
    let Some((sub, photos, flags, others, survey, part)) = loaded else {
        return Err(ApiError::NotFound.into());
    };
    let Some(index) = photos.iter().position(|p| p.part == part) else {
        return Err(ApiError::NotFound.into());
    };
    let photo = &photos[index];
    let zone = state.config.office_zone;
    let link = |i: usize| format!("/console/submissions/{}/photos/{}", sub.id, photos[i].part);
    let marks = flags
        .iter()
        .filter(|f| f["detail"]["part"] == part.as_str())
        .map(|f| {
            let name = f["code"]
                .as_str()
                .and_then(|c| c.parse::<FlagCode>().ok())
                .map_or("标记", flag_name);
            (name, explain_flag(f))
        })
        .collect();
    let mut facts = Vec::new();
    let taken = photo.exif_time.as_deref().and_then(exif_time);
    facts.push((
        "拍摄时间",
        taken.map_or_else(
            || "照片没有记录拍摄时间".to_owned(),
            |t| {
                let gap = survey.as_ref().map(|s| {
                    let hours = (t - s.visited_at.with_timezone(&Utc)).num_minutes() as f64 / 60.0;
                    if hours.abs() < 1.0 {
                        "，与走访时间相差不到 1 小时".to_owned()
                    } else if hours.abs() < 48.0 {
                        format!("，与走访时间相差 {:.0} 小时", hours.abs())
                    } else {
                        format!("，与走访时间相差 {:.0} 天", hours.abs() / 24.0)
                    }
                });
                format!("{}{}", zone.minute(t), gap.unwrap_or_default())
            },
        ),
    ));
    facts.push((
        "拍摄地点",
        match photo.exif_lat.zip(photo.exif_lon) {
            None => "照片没有记录拍摄地点".to_owned(),
            Some((lat, lon)) => {
                let away = survey.as_ref().map(|s| {
                    format!(
                        "，距走访地点 {:.1} 公里",
                        distance_km((s.location.lat, s.location.lon), (lat, lon))
                    )
                });
                format!("北纬 {lat:.5}°，东经 {lon:.5}°{}", away.unwrap_or_default())
            }
        },
    ));
    if let Some(s) = &survey {
        facts.push(("走访时间", zone.minute(s.visited_at.with_timezone(&Utc))));
    }
    if let (Some(w), Some(h)) = (photo.width, photo.height) {
        facts.push((
            "尺寸",
            format!("{w} × {h} 像素，{} KB", photo.size_bytes / 1024),
        ));
    }
    facts.push(("SHA-256", photo.sha256.clone()));
    let body = PhotoPage {
        me: Some(&me),
        notice: None,
        household: sub.household_code.clone(),
        label: photo_kind_name(photo.kind),
        src: format!("/console/photos/{}/{}", sub.id, photo.part),
        marks,
        facts,
        others,
        prev: (index > 0).then(|| link(index - 1)),
        next: (index + 1 < photos.len()).then(|| link(index + 1)),
        position: format!("第 {} 张，共 {} 张", index + 1, photos.len()),
        part: photo.part.clone(),
        id: sub.id,
    }
    .render()?;
    Ok(page(StatusCode::OK, body))
}

/// An EXIF capture time as the evidence stage stores it (RFC 3339, read with the visit's
/// offset when the camera recorded none).
fn exif_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
