//! Department lists and the comparison run (数据比对), and the registry's enrolment status.
//!
//! Owns `department_imports`, `department_records`, `compare_rules` and the registry's
//! `enrolment`/`special_groups` columns. A list is imported whole or not at all, in one
//! transaction that replaces the department's previous list; its rows carry the keyed HMAC of
//! the ID number, never the number. A run finds, per rule, the rows that disagree with the
//! survey's current versions or the registry in one set-based query per rule (joins on the
//! HMAC), and raises each as a clue with a dedup key, so running again raises nothing twice.
//! Clues are raised through `clues::raise`; this module never writes `clues` itself.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use fieldsurvey_core::compare::{Check, Department};
use fieldsurvey_core::ledger::{Actor, Entry, LedgerKey};
use fieldsurvey_core::vocab::{ClueKind, ClueSource, LedgerAction};

use crate::clues::NewClue;
use crate::schema::households as h;
use crate::schema::{compare_rules as cr, department_imports as di, department_records as dr};
use crate::{Conn, DbError, DbResult, Tx, with_conn, with_tx};

/// Rows per insert statement.
const BATCH: usize = 2000;

/// One row of a department's list, as stored.
pub struct Record {
    pub status: &'static str,
    /// Keyed HMAC of the ID number.
    pub id_hmac: String,
    pub since: Option<String>,
    /// The row's line in its file.
    pub line: u64,
}

/// What an import came to. When `refused` is not empty nothing was stored.
pub struct ListImport {
    pub import_id: String,
    pub rows: u64,
    pub refused: Vec<(u64, String)>,
    /// Refused rows beyond those listed in `refused`.
    pub more_refused: u64,
    pub ledger_seq: Option<i64>,
}

/// Refused rows named one by one; beyond that only counted.
const NAMED_REFUSALS: usize = 1000;

/// Import a department's list: `rows` yields each row or why it is refused, `digest` the file's
/// SHA-256 once it has been read. Everything happens in one transaction: the department's
/// previous rows are replaced only when every row is good; a refused row anywhere leaves the
/// database as it was. The import is on record in the ledger as `actor`'s.
pub fn import_list(
    conn: &mut Conn,
    source: Department,
    rows: impl Iterator<Item = Result<Record, (u64, String)>>,
    digest: impl FnOnce() -> String,
    actor: &Actor,
    key: &LedgerKey,
) -> DbResult<ListImport> {
    let import_id = uuid::Uuid::now_v7().to_string();
    let at = crate::now();
    let mut out = ListImport {
        import_id: import_id.clone(),
        rows: 0,
        refused: Vec::new(),
        more_refused: 0,
        ledger_seq: None,
    };
    let result = conn.transaction(|tx| {
        with_tx!(tx, |c| diesel::insert_into(di::table)
            .values((
                di::id.eq(&import_id),
                di::source.eq(source.as_str()),
                di::sha256.eq(""),
                di::row_count.eq(0i64),
                di::imported_at.eq(at),
                di::ledger_seq.eq(0i64),
            ))
            .execute(c))?;
        with_tx!(tx, |c| diesel::delete(
            dr::table.filter(dr::source.eq(source.as_str()))
        )
        .execute(c))?;
        let mut batch: Vec<Record> = Vec::with_capacity(BATCH);
        for row in rows {
            match row {
                Ok(r) if out.refused.is_empty() && out.more_refused == 0 => {
                    out.rows += 1;
                    batch.push(r);
                    if batch.len() == BATCH {
                        insert_records(tx, source, &import_id, &batch)?;
                        batch.clear();
                    }
                }
                // Past the first refusal nothing more is stored; the rest is only checked.
                Ok(_) => out.rows += 1,
                Err(refusal) if out.refused.len() < NAMED_REFUSALS => out.refused.push(refusal),
                Err(_) => out.more_refused += 1,
            }
        }
        if !out.refused.is_empty() {
            return Err(DbError::Invalid("refused rows".into()));
        }
        insert_records(tx, source, &import_id, &batch)?;
        let sha256 = digest();
        let mut e = Entry::new(LedgerAction::DepartmentListImported, actor.clone());
        e.detail = serde_json::json!({
            "source": source.as_str(),
            "import_id": import_id,
            "sha256": sha256,
            "rows": out.rows,
        });
        let seq = crate::ledger::append_in(tx, vec![(e, None)], key, at)?
            .first()
            .map(|(seq, _)| *seq)
            .unwrap_or_default();
        with_tx!(tx, |c| diesel::update(di::table.find(&import_id))
            .set((
                di::sha256.eq(&sha256),
                di::row_count.eq(out.rows as i64),
                di::ledger_seq.eq(seq),
            ))
            .execute(c))?;
        Ok(seq)
    });
    match result {
        Ok(seq) => {
            out.ledger_seq = Some(seq);
            Ok(out)
        }
        Err(DbError::Invalid(_)) if !out.refused.is_empty() => {
            out.rows = 0;
            Ok(out)
        }
        Err(e) => Err(e),
    }
}

fn insert_records(
    tx: &mut Tx<'_>,
    source: Department,
    import_id: &str,
    batch: &[Record],
) -> DbResult<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let values: Vec<_> = batch
        .iter()
        .map(|r| {
            (
                dr::source.eq(source.as_str()),
                dr::status.eq(r.status),
                dr::id_hmac.eq(&r.id_hmac),
                dr::since.eq(r.since.as_deref()),
                dr::import_id.eq(import_id),
                dr::line.eq(r.line as i64),
            )
        })
        .collect();
    // A person listed twice with the same status is one statement: the first row stands.
    with_tx!(tx, |c| diesel::insert_into(dr::table)
        .values(&values)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(())
}

/// Set the registry's enrolment status and special groups of households already imported
/// (`(household_code, enrolment, special_groups)`), one statement per household in one
/// transaction per batch.
pub fn set_registry_status(
    conn: &mut Conn,
    rows: &[(String, Option<String>, Option<String>)],
) -> DbResult<()> {
    conn.transaction(|tx| {
        for (code, enrolment, groups) in rows {
            with_tx!(tx, |c| diesel::update(h::table.find(code))
                .set((h::enrolment.eq(enrolment), h::special_groups.eq(groups)))
                .execute(c))?;
        }
        Ok(())
    })
}

/// The household's registry entry at sign-off, by its key: `None` when the household is not in
/// the registry, else its enrolment status (`None` when the registry does not say).
pub fn registration(conn: &mut Conn, household_code: &str) -> DbResult<Option<Option<String>>> {
    Ok(with_conn!(conn, |c| h::table
        .find(household_code)
        .select(h::enrolment)
        .first::<Option<String>>(c)
        .optional())?)
}

/// A comparison rule as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = cr)]
pub struct Rule {
    pub id: String,
    pub source: String,
    pub source_status: String,
    pub survey_field: String,
    pub condition: String,
    pub clue_kind: String,
    pub severity: String,
    pub active: bool,
    pub description: String,
}

/// The active rules, in id order.
pub fn rules(conn: &mut Conn) -> DbResult<Vec<Rule>> {
    Ok(with_conn!(conn, |c| cr::table
        .filter(cr::active.eq(true))
        .order(cr::id.asc())
        .select(Rule::as_select())
        .load(c))?)
}

/// The latest import of each department: `(source, import id, sha256, rows)`.
pub fn current_lists(conn: &mut Conn) -> DbResult<Vec<(String, String, String, i64)>> {
    let all: Vec<(String, String, String, i64)> = with_conn!(conn, |c| di::table
        .filter(di::ledger_seq.gt(0i64))
        .order((di::source.asc(), di::imported_at.desc()))
        .select((di::source, di::id, di::sha256, di::row_count))
        .load(c))?;
    let mut latest: Vec<(String, String, String, i64)> = Vec::new();
    for row in all {
        if latest.last().map(|l| &l.0) != Some(&row.0) {
            latest.push(row);
        }
    }
    Ok(latest)
}

/// A list row that disagrees with a household under a rule, before the survey document is
/// read (for rules that read it).
#[derive(Debug, Clone, QueryableByName)]
pub struct Candidate {
    #[diesel(sql_type = Text)]
    pub id_hmac: String,
    #[diesel(sql_type = BigInt)]
    pub line: i64,
    #[diesel(sql_type = Text)]
    pub import_id: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub since: Option<String>,
    #[diesel(sql_type = Text)]
    pub household_code: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub submission_id: Option<String>,
    #[diesel(sql_type = Nullable<Integer>)]
    pub member_index: Option<i32>,
    #[diesel(sql_type = Text)]
    pub village_code: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub township_code: Option<String>,
}

/// The dedup key of a comparison clue: the rule, the household and the person (by HMAC).
pub fn dedup_key(rule_id: &str, household_code: &str, id_hmac: &str) -> String {
    format!("compare:{rule_id}:{household_code}:{id_hmac}")
}

/// `?` placeholders as PostgreSQL numbers them.
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for ch in sql.chars() {
        if ch == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(ch);
        }
    }
    out
}

/// The rows of `rule`'s list that meet its check's part that SQL decides, with no clue of the
/// same dedup key yet, after `after` (household code, HMAC) in that order, at most `limit`.
pub fn candidates(
    conn: &mut Conn,
    rule: &Rule,
    check: &Check,
    after: (&str, &str),
    limit: i64,
) -> DbResult<Vec<Candidate>> {
    // Where a person is found: a member of a household's current version (the person index
    // holds the latest signed-off version's members), or the head of a registry household.
    let members = "SELECT id_hmac, household_code, submission_id, member_index FROM person_index";
    let heads = "SELECT head_id_hmac AS id_hmac, household_code, CAST(NULL AS TEXT) AS submission_id, \
                 CAST(NULL AS INTEGER) AS member_index FROM households WHERE head_id_hmac IS NOT NULL";
    let (people, extra_join, condition): (String, &str, String) = match check {
        Check::MemberListed | Check::MemberSchooling(_) | Check::MemberInsured(_) => {
            (members.to_owned(), "", String::new())
        }
        Check::HeadListed => (heads.to_owned(), "", String::new()),
        Check::HousingPasses => (
            members.to_owned(),
            "JOIN submissions s ON s.id = p.submission_id",
            // The outcome's JSON is written by the service; a text test keeps the SQL the same
            // on both backends.
            " AND s.outcome LIKE '%\"housing\":{\"pass\":true%'".to_owned(),
        ),
        Check::RegistryLacks(tag) => (
            format!("{members} UNION {heads}"),
            "",
            format!(
                " AND h.special_groups IS NOT NULL AND (',' || h.special_groups || ',') NOT LIKE '%,{tag},%'"
            ),
        ),
        Check::RegistryEnrolment(v) => (
            format!("{members} UNION {heads}"),
            "",
            format!(" AND h.enrolment = '{v}'"),
        ),
    };
    // Tags and enrolment values come from `Check::parse`, which admits only known words.
    let sql = format!(
        "SELECT d.id_hmac, d.line, d.import_id, d.since, p.household_code, p.submission_id, \
                p.member_index, h.village_code, v.parent_code AS township_code \
         FROM department_records d \
         JOIN ({people}) p ON p.id_hmac = d.id_hmac \
         JOIN households h ON h.household_code = p.household_code \
         JOIN org_units v ON v.code = h.village_code \
         {extra_join} \
         WHERE d.source = ? AND d.status = ?{condition} \
           AND (p.household_code > ? OR (p.household_code = ? AND d.id_hmac > ?)) \
           AND NOT EXISTS (SELECT 1 FROM clues c WHERE c.dedup_key = \
                ('compare:' || ? || ':' || p.household_code || ':' || d.id_hmac)) \
         ORDER BY p.household_code, d.id_hmac LIMIT ?"
    );
    macro_rules! load {
        ($c:expr, $sql:expr) => {
            diesel::sql_query($sql)
                .bind::<Text, _>(&rule.source)
                .bind::<Text, _>(&rule.source_status)
                .bind::<Text, _>(after.0)
                .bind::<Text, _>(after.0)
                .bind::<Text, _>(after.1)
                .bind::<Text, _>(&rule.id)
                .bind::<BigInt, _>(limit)
                .load::<Candidate>($c)
        };
    }
    let rows = match conn {
        Conn::Pg(c) => load!(&mut ***c, numbered(&sql))?,
        Conn::Sqlite(c) => load!(&mut **c, sql)?,
    };
    Ok(rows)
}

/// A registered household that is not enrolled and whose current signed-off version fails the
/// standard, with no 疑似漏评 clue for that version yet.
#[derive(Debug, Clone, QueryableByName)]
pub struct Missed {
    #[diesel(sql_type = Text)]
    pub household_code: String,
    #[diesel(sql_type = Text)]
    pub village_code: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub township_code: Option<String>,
    #[diesel(sql_type = Text)]
    pub submission_id: String,
}

/// The households [`Missed`] describes, after `after` in code order, at most `limit`.
pub fn suspected_missed(conn: &mut Conn, after: &str, limit: i64) -> DbResult<Vec<Missed>> {
    let sql = "SELECT h.household_code, h.village_code, v.parent_code AS township_code, \
                      s.id AS submission_id \
               FROM households h \
               JOIN submissions s ON s.household_code = h.household_code \
               JOIN submission_outcomes so ON so.submission_id = s.id \
               JOIN org_units v ON v.code = h.village_code \
               WHERE h.enrolment = 'not_enrolled' AND h.household_code > ? \
                 AND s.status IN ('signed_off', 'approved') AND s.superseded_by IS NULL \
                 AND so.meets_standard = ? \
                 AND NOT EXISTS (SELECT 1 FROM clues c WHERE c.kind = 'suspected_missed' \
                                 AND c.submission_id = s.id) \
               ORDER BY h.household_code LIMIT ?";
    macro_rules! load {
        ($c:expr, $sql:expr) => {
            diesel::sql_query($sql)
                .bind::<Text, _>(after)
                .bind::<diesel::sql_types::Bool, _>(false)
                .bind::<BigInt, _>(limit)
                .load::<Missed>($c)
        };
    }
    Ok(match conn {
        Conn::Pg(c) => load!(&mut ***c, numbered(sql))?,
        Conn::Sqlite(c) => load!(&mut **c, sql.to_owned())?,
    })
}

/// The sealed survey documents of `ids`, by id.
pub fn documents(
    conn: &mut Conn,
    ids: &[String],
) -> DbResult<std::collections::HashMap<String, String>> {
    use crate::schema::submissions as s;
    let rows: Vec<(String, String)> = with_conn!(conn, |c| s::table
        .filter(s::id.eq_any(ids))
        .select((s::id, s::document))
        .load(c))?;
    Ok(rows.into_iter().collect())
}

/// Put a comparison run on record: the lists and rules it read and what it raised.
pub fn record_run(
    conn: &mut Conn,
    detail: serde_json::Value,
    actor: &Actor,
    key: &LedgerKey,
) -> DbResult<i64> {
    let mut e = Entry::new(LedgerAction::ComparisonRun, actor.clone());
    e.detail = detail;
    let (seq, _) = crate::ledger::append(conn, e, key, None)?;
    Ok(seq)
}

/// The clue a disagreement under `rule` raises: assigned to the household's township, with the
/// department, the list row and the survey record that disagreed in its `source_ref`.
pub fn compare_clue(
    rule: &Rule,
    dept: Department,
    kind: ClueKind,
    c: &Candidate,
    dedup_key: String,
    actor: &Actor,
) -> NewClue {
    NewClue {
        source: ClueSource::Compare,
        kind,
        severity: Some(rule.severity.clone()),
        org_code: c
            .township_code
            .clone()
            .unwrap_or_else(|| c.village_code.clone()),
        confirm_org: None,
        household_code: Some(c.household_code.clone()),
        village_code: Some(c.village_code.clone()),
        submission_id: c.submission_id.clone(),
        description: rule.description.clone(),
        detail: serde_json::json!({
            "rule": rule.id,
            "department": dept.as_str(),
            "status": rule.source_status,
            "since": c.since,
            "member_index": c.member_index,
        }),
        evidence: Vec::new(),
        source_ref: serde_json::json!({
            "department": dept.as_str(),
            "department_name": dept.chinese(),
            "rule": rule.id,
            "list": {"import_id": c.import_id, "line": c.line, "status": rule.source_status},
            "survey": {
                "household_code": c.household_code,
                "submission_id": c.submission_id,
                "member_index": c.member_index,
                "field": rule.survey_field,
                "condition": rule.condition,
            },
        }),
        deadline: None,
        raised_by: actor.clone(),
        dedup_key: Some(dedup_key),
    }
}

/// The 疑似漏评 clue of a household found by [`suspected_missed`] (the run's counterpart of the
/// one a sign-off raises).
pub fn missed_clue(m: &Missed, actor: &Actor) -> NewClue {
    NewClue {
        source: ClueSource::Compare,
        kind: ClueKind::SuspectedMissed,
        severity: Some("medium".to_owned()),
        org_code: m
            .township_code
            .clone()
            .unwrap_or_else(|| m.village_code.clone()),
        confirm_org: None,
        household_code: Some(m.household_code.clone()),
        village_code: Some(m.village_code.clone()),
        submission_id: Some(m.submission_id.clone()),
        description: NOT_ENROLLED_FAILING.to_owned(),
        detail: serde_json::json!({"reason": "not_enrolled_fails_standard"}),
        evidence: Vec::new(),
        source_ref: serde_json::json!({
            "registry": {"household_code": m.household_code, "enrolment": "not_enrolled"},
            "survey": {"submission_id": m.submission_id, "meets_standard": false},
        }),
        deadline: None,
        raised_by: actor.clone(),
        dedup_key: Some(format!("suspected_missed:{}", m.submission_id)),
    }
}

/// What a 疑似漏评 clue of a registered, non-enrolled household failing the standard says.
pub const NOT_ENROLLED_FAILING: &str = "底图未建档立卡，核实结果未达标（疑似漏评）";

/// Link the reported 疑似漏评 clues of `household_code` to its signed-off version
/// `submission_id`, once the household is in the registry. Returns how many were linked.
pub fn link_reports(conn: &mut Conn, household_code: &str, submission_id: &str) -> DbResult<usize> {
    use crate::schema::clues as cl;
    let registered = h::table.filter(h::household_code.eq(household_code));
    Ok(with_conn!(conn, |c| diesel::update(
        cl::table
            .filter(cl::household_code.eq(household_code))
            .filter(cl::source.eq(ClueSource::Report))
            .filter(cl::submission_id.is_null())
            .filter(diesel::dsl::exists(registered))
    )
    .set(cl::submission_id.eq(submission_id))
    .execute(c))?)
}

/// The run's counterpart of [`link_reports`]: every unlinked report whose household is now
/// registered and has a signed-off version in the person index.
pub fn link_all_reports(conn: &mut Conn) -> DbResult<usize> {
    Ok(with_conn!(conn, |c| {
        diesel::sql_query(
        "UPDATE clues SET submission_id = \
           (SELECT MIN(p.submission_id) FROM person_index p WHERE p.household_code = clues.household_code) \
         WHERE source = 'report' AND submission_id IS NULL AND household_code IS NOT NULL \
           AND EXISTS (SELECT 1 FROM households h WHERE h.household_code = clues.household_code) \
           AND EXISTS (SELECT 1 FROM person_index p WHERE p.household_code = clues.household_code)"
    )
    .execute(c)
    })?)
}

/// Which of `sha256s` a clue keeps as evidence (a reported household's photo, a rectification's
/// photos): `gc` must keep them as it keeps the submissions' photos.
pub fn clue_photos(
    conn: &mut Conn,
    sha256s: &[String],
) -> DbResult<std::collections::HashSet<String>> {
    use crate::schema::clues as cl;
    let wanted: std::collections::HashSet<&str> = sha256s.iter().map(String::as_str).collect();
    // Clues with photos are few (reports and rectifications); their JSON arrays are read whole.
    let rows: Vec<(String, String)> = with_conn!(conn, |c| cl::table
        .filter(
            cl::evidence
                .ne("[]")
                .or(cl::rectification_evidence.ne("[]"))
        )
        .select((cl::evidence, cl::rectification_evidence))
        .load(c))?;
    let mut out = std::collections::HashSet::new();
    for (a, b) in rows {
        for list in [a, b] {
            for sha in serde_json::from_str::<Vec<String>>(&list).unwrap_or_default() {
                if wanted.contains(sha.as_str()) {
                    out.insert(sha);
                }
            }
        }
    }
    Ok(out)
}
