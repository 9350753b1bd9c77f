//! The job's vocabulary as types: submission statuses, org levels, roles, ledger actions, flag
//! codes, clue kinds and statuses, and what a return asks of each field. Each value is stored and
//! sent as its snake_case text (CONTRACT.md, FORM.md), so the database and the API see exactly
//! the strings they always did; inside the code a value that is not in the list cannot exist,
//! and a `match` that forgets one does not compile.
//!
//! With the `sql` feature every type maps to a text column on any diesel backend (the one mapping
//! both PostgreSQL and SQLite use); a text the enum does not know fails the row's load instead of
//! passing through as an unlabelled string.

use std::fmt;
use std::str::FromStr;

use crate::indicators::Indicator;

/// A text that is not one of a vocabulary's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a known {vocabulary}")]
pub struct UnknownValue {
    pub vocabulary: &'static str,
    pub value: String,
}

/// A text column's value as a `String`, on any backend (what `text_column!` parses).
#[cfg(feature = "sql")]
#[doc(hidden)]
pub fn text_of<DB>(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<String>
where
    DB: diesel::backend::Backend,
    String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
{
    <String as diesel::deserialize::FromSql<diesel::sql_types::Text, DB>>::from_sql(bytes)
}

/// A text column on any diesel backend (feature `sql`) for a type with `as_str` and `FromStr`;
/// the type itself derives `AsExpression` and `FromSqlRow` for `Text`.
macro_rules! text_column {
    ($name:ident) => {
        #[cfg(feature = "sql")]
        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                Ok($crate::vocab::text_of::<DB>(bytes)?.parse()?)
            }
        }

        #[cfg(feature = "sql")]
        impl<DB> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, DB>,
            ) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, DB>>::to_sql(
                    self.as_str(),
                    out,
                )
            }
        }
    };
}
pub(crate) use text_column;

/// Declare a vocabulary: the enum, its texts, `ALL`, `as_str`, `FromStr`, `Display`, serde as the
/// text and (feature `sql`) the text column mapping.
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $name:ident ($what:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[cfg_attr(feature = "sql", derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow))]
        #[cfg_attr(feature = "sql", diesel(sql_type = diesel::sql_types::Text))]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value's stored and sent text.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                match s {
                    $( $text => Ok($name::$variant), )+
                    _ => Err(UnknownValue { vocabulary: $what, value: s.to_owned() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        text_column!($name);
    };
}

vocabulary! {
    /// Where a submission stands (CONTRACT.md, "Statuses").
    Status ("submission status") {
        /// Accepted, not yet processed.
        Queued = "queued",
        Rejected = "rejected",
        /// Validated, evidence checked, the verifier's signature checked, on the ledger.
        SignedOff = "signed_off",
        Approved = "approved",
        Returned = "returned",
        /// Replaced by a newer version of the same household.
        Superseded = "superseded",
        /// Its processing stopped (attempts spent) and waits for an operator.
        NeedsAttention = "needs_attention",
    }
}

vocabulary! {
    /// An org unit's level, from the top.
    OrgLevel ("org level") {
        Province = "province",
        Prefecture = "prefecture",
        County = "county",
        Township = "township",
        Village = "village",
    }
}

impl OrgLevel {
    /// `n` levels below (`None` past the village).
    pub fn down(self, n: usize) -> Option<OrgLevel> {
        OrgLevel::ALL.get(self as usize + n).copied()
    }
}

vocabulary! {
    /// An account's role (CONTRACT.md, `user add`); a reviewer's level is its org unit's.
    Role ("role") {
        Surveyor = "surveyor",
        Reviewer = "reviewer",
        Auditor = "auditor",
        Admin = "admin",
    }
}

vocabulary! {
    /// What a ledger entry records.
    LedgerAction ("ledger action") {
        SignedOff = "signed_off",
        Rejected = "rejected",
        /// A signed-off version's flags rewritten (a later version reused its photo).
        Flagged = "flagged",
        Approved = "approved",
        Returned = "returned",
        Superseded = "superseded",
        SpotCheckDrawn = "spot_check_drawn",
        SpotChecked = "spot_checked",
        ClueClosed = "clue_closed",
        EnrolmentCodeIssued = "enrolment_code_issued",
        KeyEnrolled = "key_enrolled",
        KeyRevoked = "key_revoked",
        UserAdded = "user_added",
        UserPasswordChanged = "user_password_changed",
        UserRoleChanged = "user_role_changed",
        UserActivated = "user_activated",
        UserDeactivated = "user_deactivated",
        UserIdentified = "user_identified",
        OrgImported = "org_imported",
        RegistryImported = "registry_imported",
        LedgerExported = "ledger_exported",
        /// A grid file imported (`grid import`): responsible surveyors of many households.
        GridsImported = "grids_imported",
        /// One household given to (or moved to) a responsible surveyor by a reviewer.
        HouseholdAssigned = "household_assigned",
        /// A department's list imported (`compare import`): its source, digest and row count.
        DepartmentListImported = "department_list_imported",
        /// A comparison run (`compare run`): the lists and rules it read, the clues it raised.
        ComparisonRun = "comparison_run",
        /// A clue entered by a reviewer or raised by a comparison or a report (the service's
        /// own checks record theirs in the sign-off's entry).
        ClueRaised = "clue_raised",
        /// The level above confirmed a clue's closure (销号), signed.
        ClueConfirmed = "clue_confirmed",
        /// The level above sent a closed clue back, signed, with a reason.
        ClueReopened = "clue_reopened",
        /// An open clue past its deadline shown to the level above (the upkeep job).
        ClueEscalated = "clue_escalated",
        /// A monthly bulletin (通报) issued: its unit, month and digest (`bulletin.rs`).
        BulletinIssued = "bulletin_issued",
    }
}

vocabulary! {
    /// Why a signed-off version is shown to reviewers with a warning (FORM.md, "What is flagged").
    FlagCode ("flag code") {
        PhotoTimeMismatch = "photo_time_mismatch",
        PhotoLocationMismatch = "photo_location_mismatch",
        FarFromVillage = "far_from_village",
        PhotoReused = "photo_reused",
        DuplicatePerson = "duplicate_person",
        SuspectedMissed = "suspected_missed",
        IdRegionMismatch = "id_region_mismatch",
        /// Surveyed by a surveyor of the township other than the household's responsible one
        /// (包干到人).
        NotAssignedSurveyor = "not_assigned_surveyor",
    }
}

impl FlagCode {
    /// The clue this flag opens for the household's township, if it opens one.
    pub fn clue(self) -> Option<ClueKind> {
        match self {
            FlagCode::PhotoReused => Some(ClueKind::PhotoReused),
            FlagCode::DuplicatePerson => Some(ClueKind::DuplicatePerson),
            FlagCode::SuspectedMissed => Some(ClueKind::SuspectedMissed),
            FlagCode::PhotoTimeMismatch
            | FlagCode::PhotoLocationMismatch
            | FlagCode::FarFromVillage
            | FlagCode::IdRegionMismatch
            | FlagCode::NotAssignedSurveyor => None,
        }
    }
}

vocabulary! {
    /// What a clue is about: a failing indicator or a flag that opens one (FORM.md, "Clues").
    ClueKind ("clue kind") {
        Income = "income",
        Food = "food",
        Clothing = "clothing",
        Education = "education",
        Medical = "medical",
        Housing = "housing",
        Water = "water",
        PhotoReused = "photo_reused",
        DuplicatePerson = "duplicate_person",
        SuspectedMissed = "suspected_missed",
        /// A record a spot-check overturned; its next approved version answers it.
        SpotCheck = "spot_check",
        /// Another department lists a member as deceased whom the survey or registry lists
        /// (department comparison, docs/compare.md).
        DeceasedMember = "deceased_member",
        /// Another department lists a member as moved away whom the survey lists.
        MovedMember = "moved_member",
        /// Another department lists a special group (低保, 特困, 大病, 重残) the registry does not tag.
        UnrecordedGroup = "unrecorded_group",
        /// An enrolled (建档立卡) household with a business or a vehicle on record (疑似错评).
        WronglyEnrolled = "wrongly_enrolled",
        /// Anything else a reviewer enters (an audit's or an inspection's finding in words).
        Other = "other",
    }
}

impl From<Indicator> for ClueKind {
    fn from(i: Indicator) -> ClueKind {
        match i {
            Indicator::Income => ClueKind::Income,
            Indicator::Food => ClueKind::Food,
            Indicator::Clothing => ClueKind::Clothing,
            Indicator::Education => ClueKind::Education,
            Indicator::Medical => ClueKind::Medical,
            Indicator::Housing => ClueKind::Housing,
            Indicator::Water => ClueKind::Water,
        }
    }
}

vocabulary! {
    /// A clue is open until the assigned unit closes it (rectified, awaiting confirmation) and
    /// the level above confirms it (销号), or a later approved version clears it (confirmed at
    /// once). Reopening returns a closed clue to open. docs/clues.md.
    ClueStatus ("clue status") {
        Open = "open",
        Closed = "closed",
        Confirmed = "confirmed",
    }
}

vocabulary! {
    /// Where a clue came from (issue 18).
    ClueSource ("clue source") {
        /// The service's own checks (a failing indicator, a flag, a spot-check).
        Check = "check",
        /// 比对: another department's list disagreed.
        Compare = "compare",
        /// 巡视.
        Inspection = "inspection",
        /// 审计.
        Audit = "audit",
        /// 考核反馈.
        Assessment = "assessment",
        /// 信访/热线.
        Petition = "petition",
        /// 自查.
        SelfCheck = "self_check",
        /// A reported suspected-missed household (疑似漏评).
        Report = "report",
    }
}

impl ClueSource {
    /// Sources a reviewer may enter by hand (the others are raised by the service).
    pub const ENTERED: [ClueSource; 5] = [
        ClueSource::Inspection,
        ClueSource::Audit,
        ClueSource::Assessment,
        ClueSource::Petition,
        ClueSource::SelfCheck,
    ];
}

vocabulary! {
    /// The kind of a message the service sends itself through the queue (its type and routing
    /// key).
    MessageKind ("message kind") {
        /// Process a submission: the staged pipeline.
        SubmissionProcess = "submission.process",
        /// Run a job (an export, a dossier ZIP, a bulletin): `fieldsurvey_db::jobs`.
        JobRun = "job.run",
    }
}

vocabulary! {
    /// Where a job stands (issue 19): queued, taken by a worker, finished with a result, or
    /// given up with a reason.
    JobStatus ("job status") {
        Queued = "queued",
        Running = "running",
        Done = "done",
        Failed = "failed",
    }
}

vocabulary! {
    /// A step of the worker's pipeline, in order (DESIGN.md). Each is recorded once per
    /// submission in `stage_runs`, keyed on (submission, stage), in the transaction that commits
    /// the submission's outcome.
    Stage ("pipeline stage") {
        /// The document checks and the photos against the survey's `photos[]`.
        Validate = "validate",
        /// Each photo's bytes: digest, bounded decoding, thumbnail, perceptual hash, EXIF.
        Evidence = "evidence",
        /// R1 (the uploader's own, unrevoked key), `supersedes`, and the seven indicators.
        Signature = "signature",
        /// Flags, clues and photo reuse; the outcome (signed off or rejected) committed.
        SignOff = "sign_off",
    }
}

vocabulary! {
    /// What a return asks of a field (CONTRACT.md, the review's `reasons[].action`).
    ReasonAction ("reason action") {
        Keep = "keep",
        Correct = "correct",
        Delete = "delete",
        Supplement = "supplement",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<T>(all: &[T])
    where
        T: Copy + fmt::Debug + PartialEq + FromStr<Err = UnknownValue> + serde::Serialize,
        T: serde::de::DeserializeOwned + fmt::Display,
    {
        let mut seen = std::collections::HashSet::new();
        for v in all {
            let text = v.to_string();
            assert!(seen.insert(text.clone()), "{text} appears twice");
            assert!(
                text.chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.'),
                "{text} is not lower-case words"
            );
            assert_eq!(text.parse::<T>().as_ref(), Ok(v));
            let json = serde_json::to_string(v).unwrap_or_default();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<T>(&json).ok().as_ref(), Some(v));
        }
    }

    #[test]
    fn every_value_is_its_text_both_ways() {
        round_trips(Status::ALL);
        round_trips(OrgLevel::ALL);
        round_trips(Role::ALL);
        round_trips(LedgerAction::ALL);
        round_trips(FlagCode::ALL);
        round_trips(ClueKind::ALL);
        round_trips(ClueStatus::ALL);
        round_trips(ClueSource::ALL);
        round_trips(ReasonAction::ALL);
        round_trips(MessageKind::ALL);
        round_trips(JobStatus::ALL);
    }

    #[test]
    fn an_unknown_text_is_refused_with_its_vocabulary() {
        let err = "archived".parse::<Status>().err();
        assert_eq!(
            err.map(|e| e.to_string()),
            Some("`archived` is not a known submission status".to_owned())
        );
        assert!(serde_json::from_str::<FlagCode>("\"photo_blurry\"").is_err());
        assert!("Signed_Off".parse::<Status>().is_err());
    }

    #[test]
    fn clue_kinds_are_the_indicators_and_the_flags_that_open_clues() {
        for i in Indicator::ALL {
            let kind = ClueKind::from(i);
            assert_eq!(kind.as_str(), i.as_str());
        }
        let opening: Vec<FlagCode> = FlagCode::ALL
            .iter()
            .copied()
            .filter(|f| f.clue().is_some())
            .collect();
        assert_eq!(
            opening,
            [
                FlagCode::PhotoReused,
                FlagCode::DuplicatePerson,
                FlagCode::SuspectedMissed
            ]
        );
        for f in opening {
            assert_eq!(f.clue().map(ClueKind::as_str), Some(f.as_str()));
        }
        assert_eq!(ClueKind::ALL.len(), Indicator::ALL.len() + 9);
    }

    #[test]
    fn levels_go_down_from_province_to_village() {
        assert_eq!(OrgLevel::Province.down(1), Some(OrgLevel::Prefecture));
        assert_eq!(OrgLevel::County.down(2), Some(OrgLevel::Village));
        assert_eq!(OrgLevel::Township.down(2), None);
        assert_eq!(OrgLevel::Village.down(0), Some(OrgLevel::Village));
    }
}
