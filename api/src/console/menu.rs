//! What the console's menu offers the signed-in person: each entry is shown when the same
//! authorisation function that its page asks says yes, so the menu never offers a page that
//! then refuses (抽查 only to county and prefecture reviewers, 问责账本 only to auditors and
//! admins, 处理受阻 only to admins).

use fieldsurvey_db::{Conn, DbResult};

use crate::auth::Caller;
use crate::authz;

/// The menu's entries, and what a page may offer besides (forms for actions).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Menu {
    /// 待审队列 (`authz::may_read_review_queue`).
    pub queue: bool,
    /// 查找农户 (`authz::may_search_households`).
    pub search: bool,
    /// 问题线索 (`authz::may_read_clues`).
    pub clues: bool,
    /// 进度看板 (`authz::may_read_stats`).
    pub dashboard: bool,
    /// 月度通报 (`authz::may_read_stats`, as the bulletins' API).
    pub bulletins: bool,
    /// 户户过 (`authz::may_read_coverage`).
    pub coverage: bool,
    /// 网格分配 (`authz::assigns_households`).
    pub grids: bool,
    /// 抽查 (`authz::spot_check_level`).
    pub spot_checks: bool,
    /// 问责账本 (`authz::may_read_ledger_entries`).
    pub ledger: bool,
    /// 处理受阻 (`authz::may_tend_stopped_work`).
    pub attention: bool,
    /// 签名密钥: everyone who may use the console enrols their own key
    /// (`POST /api/v1/keys` takes any role's).
    pub keys: bool,
    /// 导出与任务: everyone who may use the console sees the jobs they asked for.
    pub jobs: bool,
    /// Not an entry: whether pages may offer 销号 forms (`authz::closes_clues`).
    pub close_clues: bool,
}

impl Menu {
    pub fn for_caller(conn: &mut Conn, caller: &Caller) -> DbResult<Menu> {
        Ok(Menu {
            queue: authz::may_read_review_queue(caller).is_some(),
            search: authz::may_search_households(caller).is_some(),
            clues: authz::may_read_clues(caller).is_some(),
            dashboard: authz::may_read_stats(caller),
            bulletins: authz::may_read_stats(caller),
            coverage: authz::may_read_coverage(caller).is_some(),
            grids: authz::assigns_households(caller).is_some(),
            spot_checks: authz::spot_check_level(conn, caller)?.is_some(),
            ledger: authz::may_read_ledger_entries(caller),
            attention: authz::may_tend_stopped_work(caller).is_some(),
            keys: authz::may_use_console(caller.role),
            jobs: authz::may_use_console(caller.role),
            close_clues: authz::closes_clues(caller),
        })
    }

    /// The first page this person may open: where signing in and `/console/` lead.
    pub fn home(&self) -> &'static str {
        if self.queue {
            "/console/queue"
        } else if self.dashboard {
            "/console/dashboard"
        } else {
            "/console/keys"
        }
    }
}
