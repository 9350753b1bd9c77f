//! Exports (issue 19): the rows of a dataset over one org unit's subtree, a page at a time,
//! as cells for a writer (`exports_write`): CSV or XLSX, for a request or a job.
//!
//! Datasets: the registry's households; each household's current version with the seven
//! indicators and its flags; clues; 户户过 coverage by village and grid; the unit figures of
//! the dashboard. Rows are read in pages of [`PAGE`] by key (never an offset into a million
//! rows) and handed on at once, so memory is the same for ten rows and ten million.
//!
//! Personal data is masked as the console masks it: heads' names only when [`Masking::names`]
//! (reviewers), ID numbers as first six and last four characters unless [`Masking::full_ids`]
//! — and then every version exported with them is recorded in `pii_reads` as read by the
//! person who asked, as the console records a full read. Dates and times are in the office's
//! zone (Beijing time by default).
//!
//! Owns: what each dataset's columns are and how its rows are read. Must not know files or HTTP.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamp};
use fieldsurvey_core::flags::Flag;
use fieldsurvey_core::indicators::Outcome;
use fieldsurvey_core::pii::PiiKey;
use fieldsurvey_core::vocab::{ClueKind, ClueStatus, FlagCode, Status};

use crate::models::OrgUnit;
use crate::{Conn, DbError, DbResult, with_conn};

/// Rows read per query.
pub const PAGE: i64 = 5_000;

/// What can be exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    Households,
    Versions,
    Clues,
    Coverage,
    Units,
}

impl Dataset {
    pub const ALL: [Dataset; 5] = [
        Dataset::Households,
        Dataset::Versions,
        Dataset::Clues,
        Dataset::Coverage,
        Dataset::Units,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dataset::Households => "households",
            Dataset::Versions => "versions",
            Dataset::Clues => "clues",
            Dataset::Coverage => "coverage",
            Dataset::Units => "units",
        }
    }

    pub fn parse(s: &str) -> Option<Dataset> {
        Dataset::ALL.into_iter().find(|d| d.as_str() == s)
    }

    /// Its name for people (the sheet's name, the jobs page).
    pub fn title(self) -> &'static str {
        match self {
            Dataset::Households => "农户底册",
            Dataset::Versions => "最新核实版本",
            Dataset::Clues => "问题线索",
            Dataset::Coverage => "户户过覆盖",
            Dataset::Units => "单位进度",
        }
    }

    /// The columns: a stable machine name and the Chinese heading.
    pub fn columns(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Dataset::Households => &[
                ("household_code", "户编码"),
                ("village_code", "村代码"),
                ("village_name", "村名"),
                ("head_name", "户主姓名"),
                ("head_id_number", "户主身份证号"),
                ("member_count", "家庭人口"),
                ("surveyor", "责任网格员"),
                ("imported_at", "导入时间"),
            ],
            Dataset::Versions => &[
                ("household_code", "户编码"),
                ("village_code", "村代码"),
                ("village_name", "村名"),
                ("head_name", "户主姓名"),
                ("head_id_number", "户主身份证号"),
                ("submission_id", "版本编号"),
                ("surveyor", "核实人"),
                ("status", "状态"),
                ("received_at", "上传时间"),
                ("processed_at", "处理时间"),
                ("meets_standard", "是否达标"),
                ("income_per_capita", "人均纯收入（元）"),
                ("income", "一达标（收入）"),
                ("food", "不愁吃"),
                ("clothing", "不愁穿"),
                ("education", "义务教育有保障"),
                ("medical", "基本医疗有保障"),
                ("housing", "住房安全有保障"),
                ("water", "饮水安全有保障"),
                ("flags", "标记"),
            ],
            Dataset::Clues => &[
                ("clue_id", "线索编号"),
                ("kind", "线索类型"),
                ("household_code", "户编码"),
                ("village_code", "村代码"),
                ("status", "状态"),
                ("opened_at", "发现时间"),
                ("closed_at", "销号时间"),
                ("close_reason", "销号说明"),
            ],
            Dataset::Coverage => &[
                ("village_code", "村代码"),
                ("village_name", "村名"),
                ("surveyor", "责任网格员"),
                ("households", "底册户数"),
                ("visited", "已核实户数"),
                ("unvisited", "未核实户数"),
            ],
            Dataset::Units => &[
                ("unit_code", "单位代码"),
                ("unit_name", "单位名称"),
                ("level", "级别"),
                ("households", "底册户数"),
                ("surveyed", "已核实户数"),
                ("meets_standard", "达标户数"),
                ("unregistered", "疑似漏评户数"),
                ("clues_raised", "线索数"),
                ("clues_closed", "已销号线索数"),
            ],
        }
    }
}

/// An export's parameters, as the API checks them and stores them in its job (`jobs.params`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExportParams {
    /// [`Dataset::as_str`].
    pub dataset: String,
    /// `csv` or `xlsx`.
    pub format: String,
    /// The unit whose subtree is exported.
    pub org: String,
    /// `zh` (Chinese headings, the default) or `machine` (the columns' stable names).
    #[serde(default)]
    pub header: Option<String>,
    /// Heads' names shown (decided by the API from the requester's role).
    #[serde(default)]
    pub names: bool,
    /// ID numbers whole, every read recorded (asked for, and allowed by the requester's role).
    #[serde(default)]
    pub full_ids: bool,
    /// The office's zone for dates (IANA name; default Asia/Shanghai).
    #[serde(default)]
    pub zone: Option<String>,
}

/// One cell of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    Num(f64),
    Empty,
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_owned())
    }
}

impl From<Option<String>> for Cell {
    fn from(s: Option<String>) -> Self {
        s.map_or(Cell::Empty, Cell::Text)
    }
}

/// How personal data is shown, and to whom a full read is recorded.
#[derive(Debug, Clone)]
pub struct Masking {
    /// Heads' names shown (else the cell is empty).
    pub names: bool,
    /// ID numbers whole (else first six and last four characters).
    pub full_ids: bool,
    /// Who reads them (recorded in `pii_reads` for a full export of versions).
    pub reader: String,
}

/// What the rows are written with: the masking, the office's zone, and the key that opens the
/// registry's sealed names and numbers.
pub struct Context<'a> {
    pub masking: Masking,
    pub zone: chrono_tz::Tz,
    pub pii: &'a PiiKey,
}

impl Context<'_> {
    fn time(&self, t: NaiveDateTime) -> Cell {
        Cell::Text(
            t.and_utc()
                .with_timezone(&self.zone)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string(),
        )
    }

    fn name(&self, sealed: &str) -> Cell {
        if !self.masking.names {
            return Cell::Empty;
        }
        self.pii.open(sealed).map_or(Cell::Empty, Cell::Text)
    }

    fn id_number(&self, sealed: &str) -> Cell {
        let Ok(id) = self.pii.open(sealed) else {
            return Cell::Empty;
        };
        if self.masking.full_ids {
            return Cell::Text(id);
        }
        Cell::Text(
            fieldsurvey_core::ids::IdNumber::parse(&id)
                .map(|i| i.masked())
                .unwrap_or_else(|_| "*".repeat(id.chars().count().min(18))),
        )
    }
}

fn placeholder(conn: &Conn, n: usize) -> String {
    match conn {
        Conn::Pg(_) => format!("${n}"),
        Conn::Sqlite(_) => "?".to_owned(),
    }
}

/// Rows `dataset` has over `unit`'s subtree (a job's progress total).
pub fn count(conn: &mut Conn, dataset: Dataset, unit: &OrgUnit) -> DbResult<i64> {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let from = match dataset {
        Dataset::Households => "households h JOIN org_units o ON o.code = h.village_code",
        Dataset::Versions => {
            "submissions s JOIN org_units o ON o.code = s.village_code \
             WHERE s.superseded_by IS NULL AND s.status IN ('signed_off', 'approved', 'returned') AND"
        }
        Dataset::Clues => {
            return Ok(with_conn!(conn, |c| crate::schema::clues::table
                .filter(crate::schema::clues::place_path.like(format!("{}%", unit.path)))
                .count()
                .get_result::<i64>(c))?);
        }
        // Small: one row per village and grid, one per child unit.
        Dataset::Coverage | Dataset::Units => return Ok(0),
    };
    let joiner = if from.ends_with("AND") { "" } else { "WHERE" };
    let sql = format!(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM {from} {joiner} o.path LIKE {}",
        placeholder(conn, 1)
    );
    let prefix = format!("{}%", unit.path);
    let got: N = with_conn!(conn, |c| diesel::sql_query(sql.clone())
        .bind::<Text, _>(&prefix)
        .get_result(c))?;
    Ok(got.n)
}

/// Write every row of `dataset` over `unit`'s subtree to `row`, calling `done` after each
/// page with the rows it held. Returns the rows written.
pub fn write<E: From<DbError>>(
    conn: &mut Conn,
    dataset: Dataset,
    unit: &OrgUnit,
    cx: &Context<'_>,
    row: &mut dyn FnMut(&[Cell]) -> Result<(), E>,
    done: &mut dyn FnMut(i64) -> Result<(), E>,
) -> Result<i64, E> {
    match dataset {
        Dataset::Households => households(conn, unit, cx, row, done),
        Dataset::Versions => versions(conn, unit, cx, row, done),
        Dataset::Clues => clues(conn, unit, cx, row, done),
        Dataset::Coverage => coverage(conn, unit, row, done),
        Dataset::Units => units(conn, unit, row, done),
    }
}

#[derive(QueryableByName)]
struct HouseholdRow {
    #[diesel(sql_type = Text)]
    household_code: String,
    #[diesel(sql_type = Text)]
    village_code: String,
    #[diesel(sql_type = Text)]
    village_name: String,
    #[diesel(sql_type = Text)]
    head_name: String,
    #[diesel(sql_type = Text)]
    head_id_number: String,
    #[diesel(sql_type = Integer)]
    member_count: i32,
    #[diesel(sql_type = Timestamp)]
    imported_at: NaiveDateTime,
    #[diesel(sql_type = Nullable<Text>)]
    surveyor: Option<String>,
}

fn households<E: From<DbError>>(
    conn: &mut Conn,
    unit: &OrgUnit,
    cx: &Context<'_>,
    row: &mut dyn FnMut(&[Cell]) -> Result<(), E>,
    done: &mut dyn FnMut(i64) -> Result<(), E>,
) -> Result<i64, E> {
    let sql = format!(
        "SELECT h.household_code, h.village_code, o.name AS village_name, h.head_name, \
                h.head_id_number, h.member_count, h.imported_at, u.username AS surveyor \
           FROM households h \
           JOIN org_units o ON o.code = h.village_code \
           LEFT JOIN household_assignments a ON a.household_code = h.household_code \
           LEFT JOIN users u ON u.id = a.surveyor_id \
          WHERE o.path LIKE {} AND h.household_code > {} \
          ORDER BY h.household_code LIMIT {PAGE}",
        placeholder(conn, 1),
        placeholder(conn, 2)
    );
    let prefix = format!("{}%", unit.path);
    let (mut after, mut total) = (String::new(), 0i64);
    loop {
        let page: Vec<HouseholdRow> = with_conn!(conn, |c| diesel::sql_query(sql.clone())
            .bind::<Text, _>(&prefix)
            .bind::<Text, _>(&after)
            .load(c))
        .map_err(DbError::from)?;
        let Some(last) = page.last() else { break };
        after = last.household_code.clone();
        let n = page.len() as i64;
        for h in page {
            row(&[
                h.household_code.into(),
                h.village_code.into(),
                h.village_name.into(),
                cx.name(&h.head_name),
                cx.id_number(&h.head_id_number),
                Cell::Int(i64::from(h.member_count)),
                h.surveyor.into(),
                cx.time(h.imported_at),
            ])?;
        }
        total += n;
        done(n)?;
        if n < PAGE {
            break;
        }
    }
    Ok(total)
}

#[derive(QueryableByName)]
struct VersionRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    household_code: String,
    #[diesel(sql_type = Text)]
    village_code: String,
    #[diesel(sql_type = Text)]
    village_name: String,
    #[diesel(sql_type = Nullable<Text>)]
    head_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    head_id_number: Option<String>,
    #[diesel(sql_type = Text)]
    surveyor: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Timestamp)]
    received_at: NaiveDateTime,
    #[diesel(sql_type = Nullable<Timestamp>)]
    processed_at: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<Text>)]
    outcome: Option<String>,
    #[diesel(sql_type = Text)]
    flags: String,
}

fn versions<E: From<DbError>>(
    conn: &mut Conn,
    unit: &OrgUnit,
    cx: &Context<'_>,
    row: &mut dyn FnMut(&[Cell]) -> Result<(), E>,
    done: &mut dyn FnMut(i64) -> Result<(), E>,
) -> Result<i64, E> {
    // The version that stands for each household: the newest one processed and not replaced
    // (signed off, approved, or returned for correction).
    let sql = format!(
        "SELECT s.id, s.household_code, s.village_code, o.name AS village_name, \
                h.head_name, h.head_id_number, u.username AS surveyor, s.status, \
                s.received_at, s.processed_at, s.outcome, s.flags \
           FROM submissions s \
           JOIN org_units o ON o.code = s.village_code \
           JOIN users u ON u.id = s.surveyor_id \
           LEFT JOIN households h ON h.household_code = s.household_code \
          WHERE o.path LIKE {} AND s.superseded_by IS NULL \
            AND s.status IN ('signed_off', 'approved', 'returned') AND s.id > {} \
          ORDER BY s.id LIMIT {PAGE}",
        placeholder(conn, 1),
        placeholder(conn, 2)
    );
    let prefix = format!("{}%", unit.path);
    let (mut after, mut total) = (String::new(), 0i64);
    let yes_no = |pass: bool| Cell::from(if pass { "是" } else { "否" });
    loop {
        let page: Vec<VersionRow> = with_conn!(conn, |c| diesel::sql_query(sql.clone())
            .bind::<Text, _>(&prefix)
            .bind::<Text, _>(&after)
            .load(c))
        .map_err(DbError::from)?;
        let Some(last) = page.last() else { break };
        after = last.id.clone();
        let n = page.len() as i64;
        if cx.masking.full_ids {
            let ids: Vec<&str> = page.iter().map(|v| v.id.as_str()).collect();
            record_full_reads(conn, &cx.masking.reader, &ids)?;
        }
        for v in page {
            let outcome: Option<Outcome> = v
                .outcome
                .as_deref()
                .and_then(|o| serde_json::from_str(o).ok());
            let flags: Vec<Flag> = serde_json::from_str(&v.flags).unwrap_or_default();
            let flags = flags
                .iter()
                .map(|f| flag_name(f.code))
                .collect::<Vec<_>>()
                .join("；");
            let mut cells = vec![
                v.household_code.into(),
                v.village_code.into(),
                v.village_name.into(),
                v.head_name.as_deref().map_or(Cell::Empty, |n| cx.name(n)),
                v.head_id_number
                    .as_deref()
                    .map_or(Cell::Empty, |n| cx.id_number(n)),
                v.id.into(),
                v.surveyor.into(),
                status_name(&v.status).into(),
                cx.time(v.received_at),
                v.processed_at.map_or(Cell::Empty, |t| cx.time(t)),
            ];
            match outcome {
                Some(o) => {
                    let i = &o.indicators;
                    cells.extend([
                        yes_no(o.meets_standard),
                        Cell::Num(i.income.per_capita),
                        yes_no(i.income.pass),
                        yes_no(i.food.pass),
                        yes_no(i.clothing.pass),
                        yes_no(i.education.pass),
                        yes_no(i.medical.pass),
                        yes_no(i.housing.pass),
                        yes_no(i.water.pass),
                    ]);
                }
                None => cells.extend(std::iter::repeat_n(Cell::Empty, 9)),
            }
            cells.push(flags.into());
            row(&cells)?;
        }
        total += n;
        done(n)?;
        if n < PAGE {
            break;
        }
    }
    Ok(total)
}

/// Record that `reader` read the full ID numbers of `submissions` (one statement per page).
fn record_full_reads(conn: &mut Conn, reader: &str, submissions: &[&str]) -> DbResult<()> {
    use crate::schema::pii_reads as pr;
    let at = crate::now();
    let rows: Vec<_> = submissions
        .iter()
        .map(|s| {
            (
                pr::id.eq(uuid::Uuid::now_v7().to_string()),
                pr::user_id.eq(reader),
                pr::submission_id.eq(*s),
                pr::read_at.eq(at),
            )
        })
        .collect();
    for chunk in rows.chunks(1_000) {
        with_conn!(conn, |c| diesel::insert_into(pr::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

fn clues<E: From<DbError>>(
    conn: &mut Conn,
    unit: &OrgUnit,
    cx: &Context<'_>,
    row: &mut dyn FnMut(&[Cell]) -> Result<(), E>,
    done: &mut dyn FnMut(i64) -> Result<(), E>,
) -> Result<i64, E> {
    let within = crate::org::Jurisdiction::granted(unit.code.clone());
    let mut total = 0i64;
    // Pages by key (opened, id), never by offset.
    let mut after: Option<(chrono::NaiveDateTime, String)> = None;
    loop {
        let filter = crate::clues::ClueFilter {
            after: after.as_ref().map(|(t, id)| (*t, id.as_str())),
            ..Default::default()
        };
        let page = crate::clues::list_filtered(conn, &within, filter, 0, PAGE)?;
        let n = page.len() as i64;
        after = page.last().map(|c| (c.opened_at, c.id.clone()));
        for c in page {
            row(&[
                c.id.into(),
                clue_kind_name(c.kind).into(),
                c.household_code.into(),
                c.village_code.into(),
                clue_status_name(c.status).into(),
                cx.time(c.opened_at),
                c.closed_at.map_or(Cell::Empty, |t| cx.time(t)),
                c.close_reason.into(),
            ])?;
        }
        total += n;
        done(n)?;
        if n < PAGE {
            break;
        }
    }
    Ok(total)
}

fn coverage<E: From<DbError>>(
    conn: &mut Conn,
    unit: &OrgUnit,
    row: &mut dyn FnMut(&[Cell]) -> Result<(), E>,
    done: &mut dyn FnMut(i64) -> Result<(), E>,
) -> Result<i64, E> {
    let grids = crate::grids::coverage(conn, unit)?;
    let n = grids.len() as i64;
    for g in grids {
        row(&[
            g.village_code.into(),
            g.village_name.into(),
            g.surveyor
                .map_or(Cell::from("（未分配）"), |(_, username, _)| {
                    username.into()
                }),
            Cell::Int(g.households),
            Cell::Int(g.visited),
            Cell::Int(g.households - g.visited),
        ])?;
    }
    done(n)?;
    Ok(n)
}

fn units<E: From<DbError>>(
    conn: &mut Conn,
    unit: &OrgUnit,
    row: &mut dyn FnMut(&[Cell]) -> Result<(), E>,
    done: &mut dyn FnMut(i64) -> Result<(), E>,
) -> Result<i64, E> {
    let (total, children) = crate::clues::stats(conn, unit)?;
    let mut n = 0;
    for u in children.iter().chain(std::iter::once(&total)) {
        row(&[
            u.code.clone().into(),
            u.name.clone().into(),
            level_name(u.level.as_str()).into(),
            Cell::Int(u.households),
            Cell::Int(u.surveyed),
            Cell::Int(u.meets_standard),
            Cell::Int(u.unregistered),
            Cell::Int(u.clues_raised),
            Cell::Int(u.clues_closed),
        ])?;
        n += 1;
    }
    done(n)?;
    Ok(n)
}

fn level_name(level: &str) -> &'static str {
    match level {
        "province" => "省",
        "prefecture" => "州（市）",
        "county" => "县",
        "township" => "乡镇",
        "village" => "村",
        _ => "",
    }
}

fn status_name(status: &str) -> &str {
    match status.parse::<Status>() {
        Ok(Status::SignedOff) => "已签核",
        Ok(Status::Approved) => "审核通过",
        Ok(Status::Returned) => "已退回",
        Ok(Status::Queued) => "处理中",
        Ok(Status::Rejected) => "未通过校验",
        Ok(Status::Superseded) => "已被新版本替代",
        Ok(Status::NeedsAttention) => "处理受阻",
        Err(_) => status,
    }
}

/// A flag's name (as the console names it).
fn flag_name(code: FlagCode) -> &'static str {
    match code {
        FlagCode::PhotoTimeMismatch => "照片时间不符",
        FlagCode::PhotoLocationMismatch => "照片地点不符",
        FlagCode::FarFromVillage => "远离村庄",
        FlagCode::PhotoReused => "照片重复使用",
        FlagCode::DuplicatePerson => "人员重复",
        FlagCode::SuspectedMissed => "疑似漏评",
        FlagCode::IdRegionMismatch => "户籍地不符",
        FlagCode::NotAssignedSurveyor => "非责任网格员核实",
    }
}

const CLUE_KINDS: &[(&str, &str)] = &[
    ("income", "一达标（人均纯收入）"),
    ("food", "不愁吃"),
    ("clothing", "不愁穿"),
    ("education", "义务教育有保障"),
    ("medical", "基本医疗有保障"),
    ("housing", "住房安全有保障"),
    ("water", "饮水安全有保障"),
    ("spot_check", "抽查推翻"),
    ("photo_reused", "照片重复使用"),
    ("duplicate_person", "人员重复"),
    ("suspected_missed", "疑似漏评"),
    ("deceased_member", "部门比对：已死亡仍在列"),
    ("moved_member", "部门比对：已迁出仍在列"),
    ("unrecorded_group", "部门比对：特殊群体未标记"),
    ("wrongly_enrolled", "部门比对：疑似错评"),
];

/// A clue kind's name (as the console names it; a kind without one here shows its code).
fn clue_kind_name(kind: ClueKind) -> &'static str {
    CLUE_KINDS
        .iter()
        .find(|(code, _)| *code == kind.as_str())
        .map_or(kind.as_str(), |(_, name)| name)
}

/// A clue's status in words, as the console's tabs name it (exports and the dossier).
pub fn clue_status_name(status: ClueStatus) -> String {
    match status.as_str() {
        "open" => "未销号".to_owned(),
        "closed" => "已整改待确认".to_owned(),
        "confirmed" => "已销号".to_owned(),
        other => other.to_owned(),
    }
}
