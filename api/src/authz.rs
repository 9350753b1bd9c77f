//! The one place that decides who may see and do what: role × the caller's org subtree × the
//! object's household. Handlers ask; they never filter on their own. An object the caller may
//! not see is reported as absent (404) so that existence does not leak.

use fieldsurvey_db::{Conn, DbResult, models::Submission, org};

use crate::auth::Caller;
use crate::auth::caller::Role;
use fieldsurvey_core::messages::{Msg, level_name, say};
use fieldsurvey_core::vocab::OrgLevel;
use fieldsurvey_db::org::Jurisdiction;

/// May `caller` upload a survey of a household in `village_code`?
pub fn may_upload(conn: &mut Conn, caller: &Caller, village_code: &str) -> DbResult<bool> {
    Ok(caller.role == Role::Surveyor && org::is_within(conn, village_code, &caller.org_code)?)
}

/// May `caller` read this submission? Its surveyor may; reviewers, auditors and admins may when
/// the household's village lies in their subtree.
pub fn may_view_submission(conn: &mut Conn, caller: &Caller, sub: &Submission) -> DbResult<bool> {
    match caller.role {
        Role::Surveyor => Ok(sub.surveyor_id == caller.user_id),
        Role::Reviewer | Role::Auditor | Role::Admin => {
            org::is_within(conn, &sub.village_code, &caller.org_code)
        }
    }
}

/// May `caller` issue a key-enrolment code for `target`? An admin for anyone in their subtree;
/// a township's reviewer for the surveyors of their township. Never for oneself, through
/// whichever account: a password alone must not be enough to add a key.
pub fn may_issue_enrolment_code(
    conn: &mut Conn,
    caller: &Caller,
    target: &fieldsurvey_db::models::User,
) -> DbResult<bool> {
    if !org::is_within(conn, &target.org_code, &caller.org_code)? {
        return Ok(false);
    }
    let allowed = match caller.role {
        Role::Admin => true,
        Role::Reviewer => {
            target.role == Role::Surveyor && level_of(conn, caller)? == Some(OrgLevel::Township)
        }
        _ => false,
    };
    if !allowed {
        return Ok(false);
    }
    let same = conn
        .transaction(|tx| fieldsurvey_db::accounts::same_person(tx, &caller.user_id, &target.id))?;
    Ok(!same)
}

/// May `caller` read the ledger's entries in bulk? They name households of every township, so
/// only auditors and admins. Tree heads and proofs carry hashes only and are open to anyone
/// signed in (the checkpoint to anyone at all, for witnesses).
pub fn may_read_ledger_entries(caller: &Caller) -> bool {
    matches!(caller.role, Role::Auditor | Role::Admin)
}

/// May `caller` publish a checkpoint on demand?
pub fn may_publish_checkpoint(caller: &Caller) -> bool {
    matches!(caller.role, Role::Auditor | Role::Admin)
}

/// May `caller` read the accountability record of a household in `village_code`? Reviewers,
/// auditors and admins of its subtree.
pub fn may_view_household(conn: &mut Conn, caller: &Caller, village_code: &str) -> DbResult<bool> {
    match caller.role {
        Role::Surveyor => Ok(false),
        Role::Reviewer | Role::Auditor | Role::Admin => {
            org::is_within(conn, village_code, &caller.org_code)
        }
    }
}

/// What a caller may do about reviewing a submission.
pub enum ReviewAccess {
    /// Outside the caller's jurisdiction or role: answer as if absent.
    Hidden,
    /// Inside the jurisdiction but not at the level that decides this stage.
    WrongLevel(OrgLevel),
    /// May decide, at this org level.
    Allowed(OrgLevel),
}

/// R3: reviewers act only inside their jurisdiction and at their level. A `signed_off` version
/// is decided at its review level (the township over its village, or the level that returned
/// the version it corrects); once its deadline has passed it escalates one level up, and
/// `ESCALATION_WORKING_DAYS` later one more (a township's record reaches the prefecture).
pub fn may_review(conn: &mut Conn, caller: &Caller, sub: &Submission) -> DbResult<ReviewAccess> {
    if caller.role != Role::Reviewer || !org::is_within(conn, &sub.village_code, &caller.org_code)?
    {
        return Ok(ReviewAccess::Hidden);
    }
    let Some(level) = level_of(conn, caller)? else {
        return Ok(ReviewAccess::Hidden);
    };
    // (Not signed off: the township answers, and the decision itself says why not.)
    let (due, review_level) = fieldsurvey_db::worklists::review_state(conn, &sub.id)?
        .unwrap_or((chrono::NaiveDateTime::MAX, OrgLevel::Township));
    let levels_up = (review_level as usize).checked_sub(level as usize);
    Ok(match levels_up {
        Some(up) if fieldsurvey_core::deadline::may_escalate_to(up, due, fieldsurvey_db::now()) => {
            ReviewAccess::Allowed(level)
        }
        _ => ReviewAccess::WrongLevel(level),
    })
}

/// The caller's subtree, for the list queries (which require one).
fn jurisdiction(caller: &Caller) -> Jurisdiction {
    Jurisdiction::granted(caller.org_code.clone())
}

/// May `caller` read a review queue? Reviewers (their own level's work), auditors and admins
/// (read-only), of their subtree: the jurisdiction the queue query is limited to.
/// Where may `caller` search households (by code or head's name)? Where they may read the
/// households' records: reviewers, auditors and admins, over their subtree.
pub fn may_search_households(caller: &Caller) -> Option<Jurisdiction> {
    matches!(caller.role, Role::Reviewer | Role::Auditor | Role::Admin)
        .then(|| jurisdiction(caller))
}

pub fn may_read_review_queue(caller: &Caller) -> Option<Jurisdiction> {
    matches!(caller.role, Role::Reviewer | Role::Auditor | Role::Admin)
        .then(|| jurisdiction(caller))
}

/// Which level's queue `caller` sees for `status`: a reviewer's signed-off queue holds what is
/// decided at their level (and what escalated to it); everyone else sees every version of the
/// status in their subtree.
pub fn queue_level(
    conn: &mut Conn,
    caller: &Caller,
    status: fieldsurvey_core::vocab::Status,
) -> DbResult<Option<OrgLevel>> {
    if caller.role == Role::Reviewer && status == fieldsurvey_core::vocab::Status::SignedOff {
        level_of(conn, caller)
    } else {
        Ok(None)
    }
}

/// May `caller` see and re-drive the submissions whose processing stopped? Admins, of their
/// subtree.
pub fn may_tend_stopped_work(caller: &Caller) -> Option<Jurisdiction> {
    (caller.role == Role::Admin).then(|| jurisdiction(caller))
}

/// May `caller` upload surveys at all (before the body is read)? Surveyors (R1: what they
/// verified, under their own key); the household's village is checked by `may_upload`.
pub fn is_uploader(caller: &Caller) -> bool {
    caller.role == Role::Surveyor
}

/// May `caller` issue enrolment codes? Admins, and township reviewers for their surveyors.
pub fn may_issue_enrolment_codes(conn: &mut Conn, caller: &Caller) -> DbResult<bool> {
    Ok(match caller.role {
        Role::Admin => true,
        Role::Reviewer => level_of(conn, caller)? == Some(OrgLevel::Township),
        Role::Surveyor | Role::Auditor => false,
    })
}

/// May `caller` open the spot-check page? County and prefecture reviewers; the answer is their
/// level.
pub fn spot_check_level(conn: &mut Conn, caller: &Caller) -> DbResult<Option<OrgLevel>> {
    if caller.role != Role::Reviewer {
        return Ok(None);
    }
    Ok(level_of(conn, caller)?.filter(|l| matches!(l, OrgLevel::County | OrgLevel::Prefecture)))
}

/// May `caller` list their own submissions? Surveyors: the list is their own work.
pub fn may_list_own_submissions(caller: &Caller) -> bool {
    caller.role == Role::Surveyor
}

/// May `caller` read clues? Reviewers, auditors and admins, of their subtree: the jurisdiction
/// the list query is limited to.
pub fn may_read_clues(caller: &Caller) -> Option<Jurisdiction> {
    matches!(caller.role, Role::Reviewer | Role::Auditor | Role::Admin)
        .then(|| jurisdiction(caller))
}

/// May `caller` close this clue (record its rectification)? A reviewer of the unit it is
/// assigned to or above (the assigned unit in their subtree), but below its confirming unit:
/// the level that confirms (销号) never closes, so no unit signs off its own rectification.
/// The route tells a reader who may see the clue but not close it 403, anyone else 404.
pub fn may_close_clue(
    conn: &mut Conn,
    caller: &Caller,
    clue: &fieldsurvey_db::models::Clue,
) -> DbResult<bool> {
    Ok(closes_clues(caller)
        && org::is_within(conn, &clue.org_code, &caller.org_code)?
        && (clue.confirm_org == clue.org_code
            || !org::is_within(conn, &clue.confirm_org, &caller.org_code)?))
}

/// May `caller` see this clue? Reviewers, auditors and admins whose subtree holds its place
/// (its village, else its assigned unit).
pub fn may_see_clue(
    conn: &mut Conn,
    caller: &Caller,
    clue: &fieldsurvey_db::models::Clue,
) -> DbResult<bool> {
    let place = clue.village_code.as_deref().unwrap_or(&clue.org_code);
    Ok(may_read_clues(caller).is_some() && org::is_within(conn, place, &caller.org_code)?)
}

/// May `caller` confirm (销号) or reopen this clue? A reviewer of its confirming unit or above.
pub fn may_confirm_clue(
    conn: &mut Conn,
    caller: &Caller,
    clue: &fieldsurvey_db::models::Clue,
) -> DbResult<bool> {
    Ok(closes_clues(caller) && org::is_within(conn, &clue.confirm_org, &caller.org_code)?)
}

/// May `caller` enter clues (巡视, 审计, 考核反馈, 信访, 自查)? County and prefecture reviewers.
pub fn may_enter_clues(conn: &mut Conn, caller: &Caller) -> DbResult<bool> {
    Ok(spot_check_level(conn, caller)?.is_some())
}

/// May `caller` assign a clue to `unit`? A unit in their subtree below their own.
pub fn may_assign_clue_to(conn: &mut Conn, caller: &Caller, unit: &str) -> DbResult<bool> {
    Ok(unit != caller.org_code && org::is_within(conn, unit, &caller.org_code)?)
}

/// Does `caller`'s role close clues by hand at all (wherever the clue)? Reviewers; auditors and
/// admins read clues but never close them, so pages offer them no 销号 form.
pub fn closes_clues(caller: &Caller) -> bool {
    caller.role == Role::Reviewer
}

/// May `caller` read progress figures?
pub fn may_read_stats(caller: &Caller) -> bool {
    matches!(caller.role, Role::Reviewer | Role::Auditor | Role::Admin)
}

/// Does `unit` lie in the caller's subtree?
pub fn may_view_org_unit(conn: &mut Conn, caller: &Caller, unit: &str) -> DbResult<bool> {
    org::is_within(conn, unit, &caller.org_code)
}

/// The org level of the caller's unit (`township`, `county`, …).
pub fn level_of(conn: &mut Conn, caller: &Caller) -> DbResult<Option<OrgLevel>> {
    Ok(org::get(conn, &caller.org_code)?.map(|u| u.level))
}

/// May `caller` draw a spot-check of `unit`? A county reviewer of a township, a prefecture
/// reviewer of a county or a township (州对乡), inside their subtree. `Err` says why not (403);
/// `Ok(None)`: the unit is outside the caller's jurisdiction (404).
pub fn may_draw_spot_check(
    conn: &mut Conn,
    caller: &Caller,
    unit: &fieldsurvey_db::models::OrgUnit,
) -> DbResult<Result<Option<OrgLevel>, String>> {
    if caller.role != Role::Reviewer {
        return Ok(Err(say(Msg::ApiSpotCheckReviewers, &[])));
    }
    if !org::is_within(conn, &unit.code, &caller.org_code)? {
        return Ok(Ok(None));
    }
    let Some(level) = level_of(conn, caller)? else {
        return Ok(Err(say(Msg::ApiUnknownLevel, &[])));
    };
    let (mine, theirs) = (level as usize, unit.level as usize);
    // 县对乡; 州对县 and 州对乡.
    let allowed = match level {
        OrgLevel::County => theirs == mine + 1,
        OrgLevel::Prefecture => theirs == mine + 1 || theirs == mine + 2,
        OrgLevel::Province | OrgLevel::Township | OrgLevel::Village => false,
    };
    if !allowed {
        return Ok(Err(say(
            Msg::ApiSpotCheckLevel,
            &[
                ("level", level_name(level.as_str())),
                ("unit", level_name(unit.level.as_str())),
            ],
        )));
    }
    Ok(Ok(Some(level)))
}

/// May `caller` decide a spot-check item of this submission? A reviewer of its jurisdiction;
/// the item must have been drawn at the caller's level (checked with the decision). Returns
/// the caller's level, or `None` (404).
pub fn may_spot_check(
    conn: &mut Conn,
    caller: &Caller,
    sub: &Submission,
) -> DbResult<Option<OrgLevel>> {
    if caller.role != Role::Reviewer || !org::is_within(conn, &sub.village_code, &caller.org_code)?
    {
        return Ok(None);
    }
    level_of(conn, caller)
}

/// May someone of `role` work in the reviewers' console? Everyone but surveyors, who work in
/// the field app (signing in there with the right password is not a wrong password).
pub fn may_use_console(role: Role) -> bool {
    role != Role::Surveyor
}

/// Does `caller`'s role give households responsible surveyors (包干到人) at all? Reviewers,
/// over their subtree: the jurisdiction the assignment page lists. Which household, with
/// [`may_assign_household`].
pub fn assigns_households(caller: &Caller) -> Option<Jurisdiction> {
    (caller.role == Role::Reviewer).then(|| jurisdiction(caller))
}

/// May `caller` give a household of `village_code` its responsible surveyor, or move it to
/// another? A reviewer of the household's township or above (an administrative act of the
/// township, on record in the ledger under the reviewer's name).
pub fn may_assign_household(
    conn: &mut Conn,
    caller: &Caller,
    village_code: &str,
) -> DbResult<bool> {
    Ok(assigns_households(caller).is_some()
        && org::is_within(conn, village_code, &caller.org_code)?)
}

/// May `caller` list the households they are responsible for? Surveyors: their own grid.
pub fn may_list_own_assignments(caller: &Caller) -> bool {
    caller.role == Role::Surveyor
}

/// May `caller` read 户户过 coverage? Reviewers, auditors and admins, of their subtree: the
/// jurisdiction the unit asked about must lie in.
pub fn may_read_coverage(caller: &Caller) -> Option<Jurisdiction> {
    matches!(caller.role, Role::Reviewer | Role::Auditor | Role::Admin)
        .then(|| jurisdiction(caller))
}

/// Does coverage's list of unvisited households show `caller` the heads' names? Reviewers
/// (the unit lies in their jurisdiction: they work with these households); auditors and admins
/// read figures and codes, not who lives there.
pub fn may_read_head_names(caller: &Caller) -> bool {
    caller.role == Role::Reviewer
}

/// Does a household's dossier (一户一档) show `caller` the ID numbers whole? Reviewers, who
/// work with these households, and auditors, who answer for the record (R5); the read is then
/// recorded. Admins keep accounts and the service, not households' files: masked.
pub fn may_read_ids_in_full(caller: &Caller) -> bool {
    matches!(caller.role, Role::Reviewer | Role::Auditor)
}

/// May `caller` ask for the dossiers of a village in bulk (the archive's ZIP)? Those who may
/// read its households' dossiers: reviewers, auditors and admins of its subtree.
pub fn may_request_village_dossiers(
    conn: &mut Conn,
    caller: &Caller,
    village_code: &str,
) -> DbResult<bool> {
    may_view_household(conn, caller, village_code)
}

/// May `caller` see job `job` and download its result? Only while they are of the unit the job
/// was asked for (someone moved elsewhere loses their old unit's files). A result that holds
/// personal data read under its requester's name (whole ID numbers, a village's dossiers) is
/// the requester's alone, since the reads are recorded against them; any other result also
/// for others of the same unit and role, who would have been shown the same data (a job's
/// result is masked for its requester's role). Anyone else is told it does not exist.
pub fn may_read_job(
    conn: &mut Conn,
    caller: &Caller,
    job: &fieldsurvey_db::jobs::Job,
) -> DbResult<bool> {
    if job.org_code != caller.org_code {
        return Ok(false);
    }
    if job.requested_by == caller.user_id {
        return Ok(true);
    }
    if holds_recorded_reads(job) {
        return Ok(false);
    }
    Ok(fieldsurvey_db::users::by_id(conn, &job.requested_by)?
        .is_some_and(|u| u.role == caller.role))
}

/// Does `job`'s result hold personal data whose reads were recorded against its requester?
fn holds_recorded_reads(job: &fieldsurvey_db::jobs::Job) -> bool {
    job.kind == "village_dossiers"
        || serde_json::from_str::<serde_json::Value>(&job.params)
            .ok()
            .and_then(|p| p.get("full_ids").and_then(serde_json::Value::as_bool))
            .unwrap_or(true)
}

/// May `caller` report a household missing from the registry (疑似漏评) at all? Surveyors and
/// reviewers (asked before the body is read).
pub fn may_report_suspected_missed(caller: &Caller) -> bool {
    matches!(caller.role, Role::Surveyor | Role::Reviewer)
}

/// May `caller` report one in `village_code`? When the village lies in their subtree.
pub fn may_report_suspected_missed_in(
    conn: &mut Conn,
    caller: &Caller,
    village_code: &str,
) -> DbResult<bool> {
    Ok(
        may_report_suspected_missed(caller)
            && org::is_within(conn, village_code, &caller.org_code)?,
    )
}

/// May `caller` export data (CSV, XLSX)? Reviewers, auditors and admins, of their subtree: the
/// jurisdiction the unit exported must lie in. What the export shows of people is the console's
/// (heads' names with [`may_read_head_names`]; whole ID numbers with [`may_export_full_ids`]).
pub fn may_export(caller: &Caller) -> Option<Jurisdiction> {
    matches!(caller.role, Role::Reviewer | Role::Auditor | Role::Admin)
        .then(|| jurisdiction(caller))
}

/// May `caller` export ID numbers whole (each read recorded)? Reviewers, who work with these
/// households and read a record's ID numbers whole in the console; auditors and admins read
/// figures and codes.
pub fn may_export_full_ids(caller: &Caller) -> bool {
    caller.role == Role::Reviewer
}
