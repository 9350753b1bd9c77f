//! `/console/attention` (处理受阻): for admins, the submissions whose processing stopped — their
//! message was parked after its last attempt, or could never succeed as it stood — with the
//! reason, and a button that sends them to the workers again once the cause is fixed. The same
//! functions as `fieldsurvey attention` and `fieldsurvey redrive`; each re-drive is recorded
//! with the admin's name.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use askama::Template;
use serde::Deserialize;

use super::session::{check_csrf, me};
use super::{ConsoleError, Me, Page, page};
use crate::authz;
use crate::error::ApiError;
use crate::state::AppState;
use fieldsurvey_db::org::Jurisdiction;

/// Rows shown at most (the oldest first; the count says how many wait in all).
const SHOWN: i64 = 200;

struct Row {
    id: String,
    household: String,
    /// The village's name and code.
    village: String,
    since: String,
    /// What stopped it, in words an operator acts on; the worker's own words beside it.
    cause: &'static str,
    reason: String,
}

/// The worker's reason (English, for logs and operators' tools) told in Chinese by its kind,
/// with what to do about it. Unknown reasons fall to the general case.
fn cause(reason: &str) -> &'static str {
    let has = |needle: &str| reason.contains(needle);
    if has("is missing from the store") {
        "照片文件在存储中缺失：请从备份恢复该照片，或请外业人员用同一编号重新上传"
    } else if has("is corrupt") {
        "存储中的照片已损坏（内容与其哈希不符）：请从备份恢复该照片"
    } else if has("No space left on device") || has("os error 28") {
        "照片存储空间已满：请扩容或清理（fieldsurvey gc）后重新处理"
    } else if has("storage") || has("object store") {
        "照片存储不可用：请检查存储（磁盘、挂载或对象存储）后重新处理"
    } else if has("database") || has("connection") || has("pool") {
        "数据库不可用：请检查数据库后重新处理"
    } else if has("validation task failed") {
        "自动校验程序出错：请将详情报告开发人员"
    } else {
        "自动校验多次失败：请查看详情"
    }
}

#[derive(Template)]
#[template(path = "attention.html")]
struct AttentionPage<'a> {
    me: Option<&'a Me>,
    notice: Option<String>,
    csrf: &'a str,
    rows: Vec<Row>,
    total: i64,
}

fn operator_only(me: &Me) -> Result<Jurisdiction, ConsoleError> {
    authz::may_tend_stopped_work(&me.caller)
        .ok_or_else(|| ApiError::Forbidden("只有管理员可以查看和重新处理受阻的提交".into()).into())
}

async fn render(state: &AppState, me: &Me, within: Jurisdiction, notice: Option<String>) -> Page {
    let (waiting, total, names) = state
        .db
        .run(move |c| {
            // The count is of this admin's jurisdiction, as the rows are.
            let all = fieldsurvey_db::attention::waiting(c, Some(&within), i64::MAX)?;
            let total = all.len() as i64;
            let shown: Vec<_> = all.into_iter().take(SHOWN as usize).collect();
            let villages: Vec<String> = shown.iter().map(|w| w.village_code.clone()).collect();
            let names = fieldsurvey_db::org::names(c, &villages)?;
            Ok((shown, total, names))
        })
        .await?;
    let rows = waiting
        .into_iter()
        .map(|w| Row {
            since: state.config.office_zone.minute_of(w.since),
            cause: cause(&w.reason),
            reason: w.reason,
            id: w.id,
            household: w.household_code,
            village: match names.get(&w.village_code) {
                Some(name) => format!("{name}（{}）", w.village_code),
                None => w.village_code,
            },
        })
        .collect();
    let body = AttentionPage {
        me: Some(me),
        notice,
        csrf: &me.csrf,
        rows,
        total,
    }
    .render()?;
    Ok(page(StatusCode::OK, body))
}

pub(super) async fn page_get(state: web::Data<AppState>, req: HttpRequest) -> Page {
    let me = me(&state, &req).await?;
    let within = operator_only(&me)?;
    render(&state, &me, within, None).await
}

#[derive(Deserialize)]
pub(super) struct RedriveForm {
    #[serde(default)]
    csrf: String,
    /// One submission, or empty for every one shown in the admin's jurisdiction.
    #[serde(default)]
    id: String,
}

pub(super) async fn redrive(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<RedriveForm>,
) -> Page {
    let me = me(&state, &req).await?;
    let within = operator_only(&me)?;
    check_csrf(&me, &form.csrf)?;
    let actor = serde_json::to_string(&fieldsurvey_core::ledger::Actor::Person {
        user_id: me.caller.user_id.clone(),
        username: me.caller.username.clone(),
    })
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let (scope, id) = (within.clone(), form.id.trim().to_owned());
    let done = state
        .db
        .run(move |c| {
            // Only what this admin can see: their jurisdiction's waiting submissions.
            let mine: Vec<String> = fieldsurvey_db::attention::waiting(c, Some(&scope), i64::MAX)?
                .into_iter()
                .map(|w| w.id)
                .filter(|w| id.is_empty() || *w == id)
                .collect();
            fieldsurvey_db::attention::redrive(
                c,
                fieldsurvey_db::attention::Which::Ids(&mine),
                &actor,
            )
        })
        .await?;
    tracing::info!(operator = %me.caller.username, redriven = done.len(), "submissions re-driven");
    let notice = match done.len() {
        0 => "没有可重新处理的提交（可能已被他人处理）。".to_owned(),
        n => format!("已将 {n} 份提交重新交给校验程序；处理结果稍后可在各提交页面查看。"),
    };
    render(&state, &me, within, Some(notice)).await
}

#[cfg(test)]
mod tests {
    use super::cause;

    #[test]
    fn each_kind_of_reason_is_told_in_chinese_with_what_to_do() {
        let told = [
            (
                "permanent: photo ab12 is missing from the store",
                "照片文件在存储中缺失",
            ),
            ("permanent: stored photo ab12 is corrupt", "已损坏"),
            (
                "storage I/O failed: No space left on device (os error 28) at path \"/x\"",
                "空间已满",
            ),
            ("object store unavailable: timeout", "照片存储不可用"),
            ("database unavailable: pool timed out", "数据库不可用"),
            ("validation task failed: panicked", "自动校验程序出错"),
            ("something new", "自动校验多次失败"),
        ];
        for (reason, words) in told {
            assert!(
                cause(reason).contains(words),
                "{reason} -> {}",
                cause(reason)
            );
        }
    }
}
