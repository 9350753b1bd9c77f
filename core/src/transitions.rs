//! The state changes of a version, as pure functions: from a snapshot of what the rule needs to
//! the new state or a typed refusal. `db/` loads the snapshot inside its transaction, asks here,
//! and applies the answer with an update guarded on the same facts (so a concurrent change makes
//! the update miss instead of being overwritten); `api/` and `worker/` only translate.

use chrono::{DateTime, FixedOffset};
use serde_json::json;

use crate::flags::{Flag, distance_km};
use crate::vocab::{ClueStatus, FlagCode, Status};

/// How far from `visited_at` a photo's capture time may be before it is flagged (FORM.md).
pub const PHOTO_TIME_TOLERANCE_HOURS: f64 = 24.0;
/// How far from `location` a photo's capture place may be before it is flagged (FORM.md).
pub const PHOTO_PLACE_TOLERANCE_KM: f64 = 2.0;

/// A version as a decision sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Version<'a> {
    pub status: Status,
    pub content_digest: &'a str,
    /// The correction that replaced it, if one did.
    pub superseded_by: Option<&'a str>,
}

impl Version<'_> {
    /// The decider saw this exact, current version.
    fn is_the_one_seen(&self, seen_digest: &str) -> bool {
        self.superseded_by.is_none() && self.content_digest == seen_digest
    }
}

/// A township (or escalated) reviewer's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Approve,
    Return,
}

impl Verdict {
    /// The status the version takes, which is also the ledger entry's action.
    pub fn status(self) -> Status {
        match self {
            Verdict::Approve => Status::Approved,
            Verdict::Return => Status::Returned,
        }
    }
}

/// Why a review was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewRefusal {
    /// R3: the reviewer verified this version (through this account or another of theirs).
    OwnVerification,
    /// R4: the digest is not the current version's; `current` names the newer version if any.
    Stale { current: Option<String> },
    /// The version is not awaiting review.
    NotReviewable(Status),
}

/// Approve or return a signed-off version (rules R3 and R4). `reviewer_verified_it` is whether
/// the reviewer is the verifier as a person. The answer is the version's new status.
pub fn review(
    v: &Version<'_>,
    seen_digest: &str,
    reviewer_verified_it: bool,
    verdict: Verdict,
) -> Result<Status, ReviewRefusal> {
    if reviewer_verified_it {
        return Err(ReviewRefusal::OwnVerification);
    }
    if !v.is_the_one_seen(seen_digest) {
        return Err(ReviewRefusal::Stale {
            current: v.superseded_by.map(str::to_owned),
        });
    }
    if v.status != Status::SignedOff {
        return Err(ReviewRefusal::NotReviewable(v.status));
    }
    Ok(verdict.status())
}

/// A spot-checker's verdict on an approved version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpotVerdict {
    Confirm,
    Overturn,
}

impl SpotVerdict {
    /// The text the spot-check item and its ledger entry record.
    pub fn as_str(self) -> &'static str {
        match self {
            SpotVerdict::Confirm => "confirmed",
            SpotVerdict::Overturn => "overturned",
        }
    }

    pub fn parse(text: &str) -> Option<SpotVerdict> {
        match text {
            "confirmed" => Some(SpotVerdict::Confirm),
            "overturned" => Some(SpotVerdict::Overturn),
            _ => None,
        }
    }
}

/// Why a spot-check decision was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpotRefusal {
    /// The digest is not the current version's.
    Stale,
    /// The checker verified or decided this version (as a person, at any level).
    OwnDecision,
    /// Only approved versions are spot-checked.
    NotApproved(Status),
}

/// Confirm or overturn an approved version in a spot-check. `checker_took_part` is whether the
/// checker verified it or decided it at another level, as a person. The answer is the status the
/// version takes: unchanged when confirmed, `returned` to its surveyor when overturned.
pub fn spot_check(
    v: &Version<'_>,
    seen_digest: &str,
    checker_took_part: bool,
    verdict: SpotVerdict,
) -> Result<Status, SpotRefusal> {
    if !v.is_the_one_seen(seen_digest) {
        return Err(SpotRefusal::Stale);
    }
    if checker_took_part {
        return Err(SpotRefusal::OwnDecision);
    }
    if v.status != Status::Approved {
        return Err(SpotRefusal::NotApproved(v.status));
    }
    Ok(match verdict {
        SpotVerdict::Confirm => Status::Approved,
        SpotVerdict::Overturn => Status::Returned,
    })
}

/// The version a correction names in `supersedes`, as found (or not) in the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Earlier<'a> {
    pub id: &'a str,
    pub household_code: &'a str,
    pub superseded_by: Option<&'a str>,
}

/// Why a correction cannot replace the version it names (rejected as `supersedes_mismatch`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SupersedeRefusal {
    Unknown,
    OtherHousehold,
    /// Another correction replaced it first.
    AlreadyCorrected(String),
}

impl SupersedeRefusal {
    /// The rejection's message (it names no personal data).
    pub fn message(&self) -> String {
        use crate::messages::{Arg, Msg, say};
        match self {
            SupersedeRefusal::Unknown => say(Msg::SupersedesUnknown, &[]),
            SupersedeRefusal::OtherHousehold => say(Msg::SupersedesOtherHousehold, &[]),
            SupersedeRefusal::AlreadyCorrected(other) => say(
                Msg::SupersedesAlreadyCorrected,
                &[("other", Arg::from(other.as_str()))],
            ),
        }
    }
}

/// May the correction `id` of `household_code` replace `earlier`? A redelivered correction that
/// already replaced it may.
pub fn supersede(
    id: &str,
    household_code: &str,
    earlier: Option<&Earlier<'_>>,
) -> Result<(), SupersedeRefusal> {
    let Some(e) = earlier else {
        return Err(SupersedeRefusal::Unknown);
    };
    if e.household_code != household_code || e.id == id {
        return Err(SupersedeRefusal::OtherHousehold);
    }
    match e.superseded_by {
        Some(other) if other != id => Err(SupersedeRefusal::AlreadyCorrected(other.to_owned())),
        _ => Ok(()),
    }
}

/// An enrolment code as stored: whose it is, whether it was spent, until when it is good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolmentCode<'a> {
    pub owner: &'a str,
    pub used: bool,
    pub expires_at: chrono::NaiveDateTime,
}

/// Why a code does not enrol a key; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeRefusal {
    /// No such code (or none was given).
    Unknown,
    /// Issued for someone else.
    NotYours,
    Used,
    Expired,
}

/// May `user` enrol a key with this code at `now` (UTC)? A code is one person's, used once,
/// before it expires.
pub fn enrol_with(
    code: Option<&EnrolmentCode<'_>>,
    user: &str,
    now: chrono::NaiveDateTime,
) -> Result<(), CodeRefusal> {
    let Some(code) = code else {
        return Err(CodeRefusal::Unknown);
    };
    if code.owner != user {
        return Err(CodeRefusal::NotYours);
    }
    if code.used {
        return Err(CodeRefusal::Used);
    }
    if code.expires_at <= now {
        return Err(CodeRefusal::Expired);
    }
    Ok(())
}

/// The longest written reason a clue may be closed with by hand, in characters.
pub const CLOSE_REASON_MAX_CHARS: usize = 500;

/// Why a clue was not closed by hand (销号); nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClueRefusal {
    /// Closing by hand needs a written reason of 1 to 500 characters.
    ReasonRequired,
    /// The clue is closed already (by hand, or cleared by a later approved version).
    NotOpen,
    /// Confirming or reopening needs a clue closed and awaiting confirmation.
    NotClosed,
    /// The person who closed a clue does not confirm it (R3).
    OwnClosure,
}

/// The written reason of a closure by hand, trimmed, if it is one.
pub fn close_reason(reason: &str) -> Result<&str, ClueRefusal> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > CLOSE_REASON_MAX_CHARS {
        return Err(ClueRefusal::ReasonRequired);
    }
    Ok(reason)
}

/// May a clue that is `status` be closed by hand with `reason`? The answer is the reason as it
/// is recorded. (Who may close it is `authz`'s: a reviewer whose jurisdiction holds it.)
pub fn close_clue(status: ClueStatus, reason: &str) -> Result<&str, ClueRefusal> {
    let reason = close_reason(reason)?;
    match status {
        ClueStatus::Open => Ok(reason),
        ClueStatus::Closed | ClueStatus::Confirmed => Err(ClueRefusal::NotOpen),
    }
}

/// May the level above confirm (销号) or reopen a clue that is `status`, closed by
/// `closed_by`, as `by`? Reopening needs a reason (1 to 500 characters); confirming may carry
/// a note. The answer is the text as recorded.
pub fn confirm_clue<'a>(
    status: ClueStatus,
    closed_by: Option<&str>,
    by: &str,
    reopen: bool,
    reason: &'a str,
) -> Result<&'a str, ClueRefusal> {
    let reason = if reopen {
        close_reason(reason)?
    } else {
        let note = reason.trim();
        if note.chars().count() > CLOSE_REASON_MAX_CHARS {
            return Err(ClueRefusal::ReasonRequired);
        }
        note
    };
    if status != ClueStatus::Closed {
        return Err(ClueRefusal::NotClosed);
    }
    if closed_by == Some(by) {
        return Err(ClueRefusal::OwnClosure);
    }
    Ok(reason)
}

/// Why a signing key was not revoked; nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefusal {
    /// Revoked already, at this time: the first revocation stands, since R1 judges every
    /// survey by whether it arrived before it.
    AlreadyRevoked(chrono::NaiveDateTime),
}

/// May a key revoked at `revoked_at` (if ever) be revoked now? A key is revoked once.
pub fn revoke_key(revoked_at: Option<chrono::NaiveDateTime>) -> Result<(), KeyRefusal> {
    match revoked_at {
        None => Ok(()),
        Some(at) => Err(KeyRefusal::AlreadyRevoked(at)),
    }
}

/// What a photo's EXIF said about when and where it was taken.
#[derive(Debug, Clone, PartialEq)]
pub struct PhotoSaid<'a> {
    pub part: &'a str,
    pub taken_at: Option<DateTime<FixedOffset>>,
    /// `(lat, lon)`.
    pub gps: Option<(f64, f64)>,
}

/// FORM.md's photo flags, with the measured gap: a capture time missing or more than 24 h from
/// `visited_at` (`photo_time_mismatch`), a capture place more than 2 km from `location`
/// (`photo_location_mismatch`). Neither opens a clue; both are shown to the reviewer.
pub fn photo_flags(
    visited_at: DateTime<FixedOffset>,
    location: (f64, f64),
    photos: &[PhotoSaid<'_>],
) -> Vec<Flag> {
    let mut flags = Vec::new();
    for said in photos {
        let part = said.part;
        let gap_hours = said
            .taken_at
            .map(|t| (t - visited_at).num_minutes().abs() as f64 / 60.0);
        if gap_hours.is_none_or(|h| h > PHOTO_TIME_TOLERANCE_HOURS) {
            flags.push(Flag::new(
                FlagCode::PhotoTimeMismatch,
                Some(format!("photos[{part}]")),
                json!({
                    "part": part,
                    "gap_hours": gap_hours.map(|h| (h * 10.0).round() / 10.0),
                }),
            ));
        }
        if let Some(place) = said.gps {
            let km = distance_km(place, location);
            if km > PHOTO_PLACE_TOLERANCE_KM {
                flags.push(Flag::new(
                    FlagCode::PhotoLocationMismatch,
                    Some(format!("photos[{part}]")),
                    json!({"part": part, "distance_km": (km * 10.0).round() / 10.0}),
                ));
            }
        }
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(status: Status) -> Version<'static> {
        Version {
            status,
            content_digest: "sha256:aa",
            superseded_by: None,
        }
    }

    #[test]
    fn a_signed_off_version_is_approved_or_returned_by_someone_else() {
        let v = version(Status::SignedOff);
        assert_eq!(
            review(&v, "sha256:aa", false, Verdict::Approve),
            Ok(Status::Approved)
        );
        assert_eq!(
            review(&v, "sha256:aa", false, Verdict::Return),
            Ok(Status::Returned)
        );
    }

    #[test]
    fn the_verifier_never_reviews_their_own_version_even_when_stale() {
        let mut v = version(Status::SignedOff);
        v.superseded_by = Some("b");
        assert_eq!(
            review(&v, "sha256:zz", true, Verdict::Approve),
            Err(ReviewRefusal::OwnVerification)
        );
    }

    #[test]
    fn a_review_of_another_digest_or_a_replaced_version_is_stale() {
        let v = version(Status::SignedOff);
        assert_eq!(
            review(&v, "sha256:bb", false, Verdict::Approve),
            Err(ReviewRefusal::Stale { current: None })
        );
        let mut replaced = version(Status::Superseded);
        replaced.superseded_by = Some("v2");
        assert_eq!(
            review(&replaced, "sha256:aa", false, Verdict::Return),
            Err(ReviewRefusal::Stale {
                current: Some("v2".into())
            })
        );
    }

    #[test]
    fn only_a_signed_off_version_awaits_review() {
        for s in Status::ALL
            .iter()
            .copied()
            .filter(|s| *s != Status::SignedOff)
        {
            assert_eq!(
                review(&version(s), "sha256:aa", false, Verdict::Approve),
                Err(ReviewRefusal::NotReviewable(s))
            );
        }
    }

    #[test]
    fn a_spot_check_confirms_or_sends_an_approved_version_back() {
        let v = version(Status::Approved);
        assert_eq!(
            spot_check(&v, "sha256:aa", false, SpotVerdict::Confirm),
            Ok(Status::Approved)
        );
        assert_eq!(
            spot_check(&v, "sha256:aa", false, SpotVerdict::Overturn),
            Ok(Status::Returned)
        );
        assert_eq!(
            spot_check(&v, "sha256:aa", true, SpotVerdict::Confirm),
            Err(SpotRefusal::OwnDecision)
        );
        assert_eq!(
            spot_check(&v, "sha256:bb", false, SpotVerdict::Confirm),
            Err(SpotRefusal::Stale)
        );
        assert_eq!(
            spot_check(
                &version(Status::Returned),
                "sha256:aa",
                false,
                SpotVerdict::Confirm
            ),
            Err(SpotRefusal::NotApproved(Status::Returned))
        );
        for v in [SpotVerdict::Confirm, SpotVerdict::Overturn] {
            assert_eq!(SpotVerdict::parse(v.as_str()), Some(v));
        }
    }

    #[test]
    fn a_correction_replaces_a_version_of_its_own_household_once() {
        let earlier = Earlier {
            id: "v1",
            household_code: "h1",
            superseded_by: None,
        };
        assert_eq!(supersede("v2", "h1", Some(&earlier)), Ok(()));
        assert_eq!(
            supersede("v2", "h2", Some(&earlier)),
            Err(SupersedeRefusal::OtherHousehold)
        );
        assert_eq!(
            supersede("v1", "h1", Some(&earlier)),
            Err(SupersedeRefusal::OtherHousehold)
        );
        assert_eq!(supersede("v2", "h1", None), Err(SupersedeRefusal::Unknown));
        let replaced = Earlier {
            superseded_by: Some("v3"),
            ..earlier.clone()
        };
        assert_eq!(
            supersede("v2", "h1", Some(&replaced)),
            Err(SupersedeRefusal::AlreadyCorrected("v3".into()))
        );
        let mine = Earlier {
            superseded_by: Some("v2"),
            ..earlier
        };
        assert_eq!(supersede("v2", "h1", Some(&mine)), Ok(()));
    }

    #[test]
    fn an_enrolment_code_is_its_owners_once_until_it_expires() {
        let now = chrono::DateTime::UNIX_EPOCH.naive_utc() + chrono::Duration::days(20_000);
        let code = EnrolmentCode {
            owner: "u1",
            used: false,
            expires_at: now + chrono::Duration::minutes(1),
        };
        assert_eq!(enrol_with(Some(&code), "u1", now), Ok(()));
        assert_eq!(enrol_with(None, "u1", now), Err(CodeRefusal::Unknown));
        assert_eq!(
            enrol_with(Some(&code), "u2", now),
            Err(CodeRefusal::NotYours)
        );
        let used = EnrolmentCode {
            used: true,
            ..code.clone()
        };
        assert_eq!(enrol_with(Some(&used), "u1", now), Err(CodeRefusal::Used));
        let later = now + chrono::Duration::minutes(1);
        assert_eq!(
            enrol_with(Some(&code), "u1", later),
            Err(CodeRefusal::Expired)
        );
    }

    #[test]
    fn photos_far_in_time_or_place_are_flagged_with_the_gap() {
        let visit = DateTime::parse_from_rfc3339("2026-11-20T10:00:00+08:00").ok();
        let Some(visit) = visit else { panic!("a time") };
        let near = (26.0, 107.0);
        let photos = [
            PhotoSaid {
                part: "p1",
                taken_at: Some(visit + chrono::Duration::hours(23)),
                gps: Some((26.001, 107.001)),
            },
            PhotoSaid {
                part: "p2",
                taken_at: Some(visit - chrono::Duration::hours(25)),
                gps: Some((26.1, 107.0)),
            },
            PhotoSaid {
                part: "p3",
                taken_at: None,
                gps: None,
            },
        ];
        let flags = photo_flags(visit, near, &photos);
        let seen: Vec<(FlagCode, Option<&str>)> =
            flags.iter().map(|f| (f.code, f.field.as_deref())).collect();
        assert_eq!(
            seen,
            [
                (FlagCode::PhotoTimeMismatch, Some("photos[p2]")),
                (FlagCode::PhotoLocationMismatch, Some("photos[p2]")),
                (FlagCode::PhotoTimeMismatch, Some("photos[p3]")),
            ]
        );
        assert_eq!(flags[0].detail["gap_hours"], json!(25.0));
        assert_eq!(flags[1].detail["distance_km"], json!(11.1));
    }

    #[test]
    fn a_clue_is_closed_by_hand_once_with_a_written_reason() {
        assert_eq!(
            close_clue(ClueStatus::Open, "  已核实整改  "),
            Ok("已核实整改")
        );
        assert_eq!(
            close_clue(ClueStatus::Closed, "已核实整改"),
            Err(ClueRefusal::NotOpen)
        );
        assert_eq!(
            close_clue(ClueStatus::Open, "   "),
            Err(ClueRefusal::ReasonRequired)
        );
        let longest = "理".repeat(CLOSE_REASON_MAX_CHARS);
        assert_eq!(close_reason(&longest), Ok(longest.as_str()));
        assert_eq!(
            close_reason(&format!("{longest}由")),
            Err(ClueRefusal::ReasonRequired),
            "characters are counted, not bytes"
        );
    }

    #[test]
    fn the_level_above_confirms_a_closed_clue_of_someone_else() {
        let closed = ClueStatus::Closed;
        assert_eq!(confirm_clue(closed, Some("u1"), "u2", false, ""), Ok(""));
        assert_eq!(
            confirm_clue(closed, Some("u1"), "u2", true, " 缺签字 "),
            Ok("缺签字")
        );
        assert_eq!(
            confirm_clue(closed, Some("u1"), "u2", true, "  "),
            Err(ClueRefusal::ReasonRequired),
            "a reopening says why"
        );
        assert_eq!(
            confirm_clue(closed, Some("u1"), "u1", false, ""),
            Err(ClueRefusal::OwnClosure)
        );
        for status in [ClueStatus::Open, ClueStatus::Confirmed] {
            assert_eq!(
                confirm_clue(status, Some("u1"), "u2", false, ""),
                Err(ClueRefusal::NotClosed)
            );
        }
        assert_eq!(
            close_clue(ClueStatus::Confirmed, "已整改"),
            Err(ClueRefusal::NotOpen)
        );
    }

    #[test]
    fn a_key_is_revoked_once_and_its_first_revocation_stands() {
        assert_eq!(revoke_key(None), Ok(()));
        let at = chrono::DateTime::UNIX_EPOCH.naive_utc();
        assert_eq!(revoke_key(Some(at)), Err(KeyRefusal::AlreadyRevoked(at)));
    }
}
