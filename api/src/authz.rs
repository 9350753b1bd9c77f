//! The one place that decides who may see and do what: role × the caller's org subtree × the
//! object's household. Handlers ask; they never filter on their own. An object the caller may
//! not see is reported as absent (404) so that existence does not leak.

use fieldsurvey_db::{Conn, DbResult, models::Submission, org};

use crate::auth::Caller;
use crate::auth::caller::Role;

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

/// May `caller` enrol a signing key for themselves? Only surveyors sign surveys.
pub fn may_enrol_key(caller: &Caller) -> bool {
    caller.role == Role::Surveyor
}
