//! The words people read about a survey — why it was rejected, what was flagged — from one
//! Fluent catalogue (`messages/zh-CN.ftl`), in Chinese. Codes are unchanged (the API's
//! `code` members, CONTRACT.md); the `message` beside each code is looked up here by a key
//! that exists as a [`Msg`], so a message the code asks for cannot be missing from the list,
//! and a test formats every key and fails on untranslated English.

use std::sync::LazyLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};

pub use fluent_bundle::FluentValue as Arg;

/// The catalogue's source, Simplified Chinese.
pub const ZH_CN: &str = include_str!("../messages/zh-CN.ftl");

macro_rules! messages {
    ($( $(#[$meta:meta])* $variant:ident = $key:literal, )+) => {
        /// A message of the catalogue.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Msg {
            $( $(#[$meta])* $variant, )+
        }

        impl Msg {
            pub const ALL: &'static [Msg] = &[$( Msg::$variant, )+];

            /// The message's key in the catalogue.
            pub fn key(self) -> &'static str {
                match self {
                    $( Msg::$variant => $key, )+
                }
            }
        }
    };
}

messages! {
    NotJson = "rejection-not-json",
    NotObject = "rejection-not-object",
    UnknownForm = "rejection-unknown-form",
    FormMissing = "rejection-form-missing",
    UnknownField = "rejection-unknown-field",
    FieldMissing = "rejection-field-missing",
    FieldType = "rejection-field-type",
    NotForm = "rejection-not-form",
    Digest = "rejection-digest",
    NoMembers = "rejection-no-members",
    IdRepeated = "rejection-id-repeated",
    IdCheck = "rejection-id-check",
    IdBirthDate = "rejection-id-birth-date",
    IdShape = "rejection-id-shape",
    VisitAfterUpload = "rejection-visit-after-upload",
    VisitBeforeIncomeYear = "rejection-visit-before-income-year",
    IncomeYear = "rejection-income-year",
    PhotoPartRepeated = "rejection-photo-part-repeated",
    PhotoNotListed = "rejection-photo-not-listed",
    PhotoHash = "rejection-photo-hash",
    PhotoNotUploaded = "rejection-photo-not-uploaded",
    PhotoKindMissing = "rejection-photo-kind-missing",
    PhotoUndecodable = "rejection-photo-undecodable",
    PhotoTooLarge = "rejection-photo-too-large",
    Unsigned = "rejection-unsigned",
    KeyNotEnrolled = "rejection-key-not-enrolled",
    SignerNotVerifier = "rejection-signer-not-verifier",
    KeyRevoked = "rejection-key-revoked",
    SignatureInvalid = "rejection-signature-invalid",
    SupersedesUnknown = "rejection-supersedes-unknown",
    SupersedesOtherHousehold = "rejection-supersedes-other-household",
    SupersedesAlreadyCorrected = "rejection-supersedes-already-corrected",
    FlagSuspectedMissed = "flag-suspected-missed",
    FlagIdRegionMismatch = "flag-id-region-mismatch",
    FlagFarFromVillage = "flag-far-from-village",
    FlagDuplicatePerson = "flag-duplicate-person",
    FlagPhotoTimeHours = "flag-photo-time-hours",
    FlagPhotoTimeDays = "flag-photo-time-days",
    FlagPhotoTimeMissing = "flag-photo-time-missing",
    FlagPhotoPlace = "flag-photo-place",
    FlagPhotoReusedFile = "flag-photo-reused-file",
    FlagPhotoReusedScene = "flag-photo-reused-scene",
    FlagNotAssignedSurveyor = "flag-not-assigned-surveyor",
    StatusName = "status-name",
    LevelName = "level-name",
    TitleBadRequest = "title-bad-request",
    TitleUnauthorized = "title-unauthorized",
    TitleForbidden = "title-forbidden",
    TitleNotFound = "title-not-found",
    TitleMethodNotAllowed = "title-method-not-allowed",
    TitleConflict = "title-conflict",
    TitlePayloadTooLarge = "title-payload-too-large",
    TitleUnsupportedMediaType = "title-unsupported-media-type",
    TitleUnavailable = "title-unavailable",
    TitleTooMany = "title-too-many",
    TitleBusy = "title-busy",
    TitleTimeout = "title-timeout",
    TitleInternal = "title-internal",
    ApiMethodNotAllowed = "api-method-not-allowed",
    ApiTooLarge = "api-too-large",
    ApiUnavailable = "api-unavailable",
    ApiBusy = "api-busy",
    ApiTimeout = "api-timeout",
    ApiDuplicate = "api-duplicate",
    ApiConflict = "api-conflict",
    ApiStale = "api-stale",
    ApiNoToken = "api-no-token",
    ApiNotBearer = "api-not-bearer",
    ApiTokenInvalid = "api-token-invalid",
    ApiAccountGone = "api-account-gone",
    ApiRefreshInvalid = "api-refresh-invalid",
    ApiSignInLocked = "api-sign-in-locked",
    ApiWrongPassword = "api-wrong-password",
    ApiSendJson = "api-send-json",
    ApiJsonInvalid = "api-json-invalid",
    ApiJsonMissingField = "api-json-missing-field",
    ApiJsonUnknownField = "api-json-unknown-field",
    ApiQueryInvalid = "api-query-invalid",
    ApiQueryField = "api-query-field",
    ApiSendMultipart = "api-send-multipart",
    ApiMultipartMalformed = "api-multipart-malformed",
    ApiPartNoName = "api-part-no-name",
    ApiSurveyRepeated = "api-survey-repeated",
    ApiSurveyType = "api-survey-type",
    ApiPhotoPartRepeated = "api-photo-part-repeated",
    ApiPhotoType = "api-photo-type",
    ApiNoSurvey = "api-no-survey",
    ApiSurveyNotJson = "api-survey-not-json",
    ApiSurveyNotObject = "api-survey-not-object",
    ApiSurveyId = "api-survey-id",
    ApiSurveyHouseholdCode = "api-survey-household-code",
    ApiSurveySupersedes = "api-survey-supersedes",
    ApiSurveyCanonical = "api-survey-canonical",
    ApiSurveyNotUtf8 = "api-survey-not-utf8",
    ApiIdConflict = "api-id-conflict",
    ApiOnlySurveyorsUpload = "api-only-surveyors-upload",
    ApiUploadOutside = "api-upload-outside",
    ApiUploadRate = "api-upload-rate",
    ApiCluesReaders = "api-clues-readers",
    ApiStatsReaders = "api-stats-readers",
    ApiQueueReviewers = "api-queue-reviewers",
    ApiOwnList = "api-own-list",
    ApiCheckpointPublishers = "api-checkpoint-publishers",
    ApiLedgerReaders = "api-ledger-readers",
    ApiSpotCheckReviewers = "api-spot-check-reviewers",
    ApiUnknownLevel = "api-unknown-level",
    ApiSpotCheckLevel = "api-spot-check-level",
    ApiReviewLevel = "api-review-level",
    ApiOwnVerification = "api-own-verification",
    ApiOwnSpotCheck = "api-own-spot-check",
    ApiStatusOneOf = "api-status-one-of",
    ApiPage = "api-page",
    ApiFlagCode = "api-flag-code",
    ApiRange = "api-range",
    ApiBeyondLedger = "api-beyond-ledger",
    ApiReasonsShape = "api-reasons-shape",
    ApiDecisionOneOf = "api-decision-one-of",
    ApiDigestShape = "api-digest-shape",
    ApiReturnReason = "api-return-reason",
    ApiApprovalNote = "api-approval-note",
    ApiTooManyReasons = "api-too-many-reasons",
    ApiReasonAction = "api-reason-action",
    ApiNoteLength = "api-note-length",
    ApiNewerVersion = "api-newer-version",
    ApiStaleDigest = "api-stale-digest",
    ApiNotReviewable = "api-not-reviewable",
    ApiOverturnReason = "api-overturn-reason",
    ApiReasonLength = "api-reason-length",
    ApiNotSampled = "api-not-sampled",
    ApiSpotNotApproved = "api-spot-not-approved",
    ApiSignatureRequired = "api-signature-required",
    ApiSignatureShape = "api-signature-shape",
    ApiDecidedAtUnreadable = "api-decided-at-unreadable",
    ApiDecidedAtStale = "api-decided-at-stale",
    ApiUnknownKey = "api-unknown-key",
    ApiKeyRevoked = "api-key-revoked",
    ApiBadSignature = "api-bad-signature",
    ApiReplayed = "api-replayed",
    ApiPublicKey = "api-public-key",
    ApiEnrolmentCodeRequired = "api-enrolment-code-required",
    ApiCodeUnknown = "api-code-unknown",
    ApiCodeNotYours = "api-code-not-yours",
    ApiCodeUsed = "api-code-used",
    ApiCodeExpired = "api-code-expired",
    ApiClueReason = "api-clue-reason",
    ApiClueClosed = "api-clue-closed",
    ApiClueNotClosed = "api-clue-not-closed",
    ApiClueOwnClosure = "api-clue-own-closure",
    ApiClueEnterers = "api-clue-enterers",
    ApiClueIdTaken = "api-clue-id-taken",
    ApiClueId = "api-clue-id",
    ApiClueConfirmers = "api-clue-confirmers",
    ApiClueClosers = "api-clue-closers",
    ApiClueSource = "api-clue-source",
    ApiClueKind = "api-clue-kind",
    ApiClueUnit = "api-clue-unit",
    ApiClueDeadline = "api-clue-deadline",
    ApiClueEvidence = "api-clue-evidence",
    ApiClueDescription = "api-clue-description",
    ApiClueSeverity = "api-clue-severity",
    ApiClueOverdue = "api-clue-overdue",
    ApiClueHousehold = "api-clue-household",
    ClueClosedByApproval = "clue-closed-by-approval",
    ApiNoThumbnail = "api-no-thumbnail",
    ApiSpotRate = "api-spot-rate",
    ApiSpotSeed = "api-spot-seed",
    ApiTusVersion = "api-tus-version",
    ApiUploadHeader = "api-upload-header",
    ApiUploadLength = "api-upload-length",
    ApiUploadMetadata = "api-upload-metadata",
    ApiUploadChecksum = "api-upload-checksum",
    ApiChecksumMismatch = "api-checksum-mismatch",
    ApiOffsetMismatch = "api-offset-mismatch",
    ApiUploadBusy = "api-upload-busy",
    ApiTooManyUploads = "api-too-many-uploads",
    ApiUploadExpired = "api-upload-expired",
    ApiUploadLost = "api-upload-lost",
    ApiUploadContentType = "api-upload-content-type",
    ApiUploadsShape = "api-uploads-shape",
    ApiUnknownUpload = "api-unknown-upload",
    ApiUploadIncomplete = "api-upload-incomplete",
    ApiUploadHashMismatch = "api-upload-hash-mismatch",
    ApiUploadNotListed = "api-upload-not-listed",
    ApiOnlySurveyorsUploadPhotos = "api-only-surveyors-upload-photos",
    ApiAssignReviewers = "api-assign-reviewers",
    ApiAssignSurveyor = "api-assign-surveyor",
    ApiAssignmentsSurveyors = "api-assignments-surveyors",
    ApiCoverageReaders = "api-coverage-readers",
    ApiBulletinPeriod = "api-bulletin-period",
    ApiJobNotReady = "api-job-not-ready",
    ApiJobFailed = "api-job-failed",
    ApiExportReaders = "api-export-readers",
    ApiExportDataset = "api-export-dataset",
    ApiExportFormat = "api-export-format",
    ApiExportHeader = "api-export-header",
    ApiExportFullIds = "api-export-full-ids",
    ApiExportFullIdsVersions = "api-export-full-ids-versions",
    ApiReportOnlyReporters = "api-report-only-reporters",
    ApiReportNotJson = "api-report-not-json",
    ApiReportVillage = "api-report-village",
    ApiReportOutside = "api-report-outside",
    ApiReportText = "api-report-text",
    ApiReportHousehold = "api-report-household",
    ApiReportRegistered = "api-report-registered",
    ApiReportIdReused = "api-report-id-reused",
    ApiReportPhotoCount = "api-report-photo-count",
    ApiReportPhotoUndecodable = "api-report-photo-undecodable",
}

static CATALOGUE: LazyLock<FluentBundle<FluentResource>> = LazyLock::new(|| {
    // A resource with syntax errors keeps the messages that parsed; the tests below fail on
    // any error, so a shipped catalogue has none.
    let resource = FluentResource::try_new(ZH_CN.to_owned()).unwrap_or_else(|(r, _)| r);
    let locale = "zh-CN".parse().unwrap_or_default();
    let mut bundle = FluentBundle::new_concurrent(vec![locale]);
    // No Unicode isolation marks around placeables: the texts go into JSON, logs and pages.
    bundle.set_use_isolating(false);
    // Overriding entries are the only error `add_resource` reports; the test checks there are none.
    let _ = bundle.add_resource(resource);
    bundle
});

/// `msg` with its arguments, in Chinese. A key missing from the catalogue (which a test rules
/// out) is returned as the key itself rather than an empty text.
pub fn say(msg: Msg, args: &[(&str, Arg<'_>)]) -> String {
    let Some(pattern) = CATALOGUE.get_message(msg.key()).and_then(|m| m.value()) else {
        return msg.key().to_owned();
    };
    let mut fluent_args = FluentArgs::with_capacity(args.len());
    for (name, value) in args {
        fluent_args.set(*name, value.clone());
    }
    let mut errors = Vec::new();
    CATALOGUE
        .format_pattern(pattern, Some(&fluent_args), &mut errors)
        .into_owned()
}

/// A status code (`approved`) in words (审核通过), as an argument of another message.
pub fn status_name(status: &str) -> Arg<'static> {
    Arg::from(say(
        Msg::StatusName,
        &[("status", Arg::from(status.to_owned()))],
    ))
}

/// An org level code (`township`) in words (乡镇), as an argument of another message.
pub fn level_name(level: &str) -> Arg<'static> {
    Arg::from(say(
        Msg::LevelName,
        &[("level", Arg::from(level.to_owned()))],
    ))
}

/// The technical names and field identifiers a message may carry in Latin letters (media
/// types, formats, field names); everything else a person reads is Chinese. The catalogue's
/// test and the integration tests' check of answers both hold texts to this list.
pub const IDENTIFIERS: [&str; 20] = [
    "tus",
    "application/json",
    "multipart/form-data",
    "image/jpeg",
    "image/png",
    "multipart",
    "SHA-256",
    "JSON",
    "JPEG",
    "PNG",
    "UUID",
    "UTF-8",
    "RFC",
    "Ed25519",
    "base64url",
    "Bearer",
    "supersedes",
    "survey",
    "form",
    "id",
];

/// A 0-based index as people count: 第 1 位.
pub fn ordinal(i: usize) -> Arg<'static> {
    Arg::from((i + 1).to_string())
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    /// Every argument name any message uses, set to a value with no Latin letters.
    const ARGS: [&str; 39] = [
        "id",
        "offset",
        "status",
        "line",
        "column",
        "form",
        "forms",
        "field",
        "member",
        "index",
        "part",
        "kind",
        "other",
        "region",
        "county",
        "km",
        "household",
        "hours",
        "days",
        "other_part",
        "detail",
        "allow",
        "name",
        "limit",
        "unit",
        "seconds",
        "type",
        "per_minute",
        "level",
        "values",
        "low",
        "high",
        "members",
        "max",
        "newer",
        "seq",
        "responsible",
        "surveyor",
        "reason",
    ];

    fn placeholder_args() -> Vec<(&'static str, Arg<'static>)> {
        ARGS.iter().map(|a| (*a, Arg::from("〇"))).collect()
    }

    #[test]
    fn the_catalogue_parses_and_has_every_key_once() {
        let resource = FluentResource::try_new(ZH_CN.to_owned());
        assert!(resource.is_ok(), "{:?}", resource.err().map(|e| e.1));
        let mut bundle = FluentBundle::new_concurrent(vec!["zh-CN".parse().expect("locale")]);
        assert!(bundle.add_resource(resource.expect("parsed")).is_ok());
        for m in Msg::ALL {
            assert!(
                bundle.has_message(m.key()),
                "{} is not in zh-CN.ftl",
                m.key()
            );
        }
        let keys: Vec<&str> = ZH_CN
            .lines()
            .filter_map(|l| l.split_once(" = ").map(|(k, _)| k))
            .filter(|k| !k.starts_with([' ', '#', '-']))
            .collect();
        for k in &keys {
            assert!(
                Msg::ALL.iter().any(|m| m.key() == *k),
                "{k} is in zh-CN.ftl but no Msg names it"
            );
        }
    }

    #[test]
    fn every_status_and_level_has_a_name() {
        for s in crate::vocab::Status::ALL {
            let name = say(Msg::StatusName, &[("status", Arg::from(s.as_str()))]);
            assert!(!name.is_ascii(), "{} has no name: {name}", s.as_str());
        }
        for l in crate::vocab::OrgLevel::ALL {
            let name = say(Msg::LevelName, &[("level", Arg::from(l.as_str()))]);
            assert!(!name.is_ascii(), "{} has no name: {name}", l.as_str());
        }
    }

    #[test]
    fn no_message_is_left_in_english() {
        // The two name look-ups answer an unknown code with the code (tested above).
        for m in Msg::ALL
            .iter()
            .filter(|m| !matches!(m, Msg::StatusName | Msg::LevelName))
        {
            let text = say(*m, &placeholder_args());
            assert!(
                !text.contains('{'),
                "{}: an argument is missing: {text}",
                m.key()
            );
            let mut rest = text.clone();
            for a in IDENTIFIERS {
                rest = rest.replace(a, "");
            }
            assert!(
                !rest.chars().any(|c| c.is_ascii_alphabetic()),
                "{} has untranslated English: {text}",
                m.key()
            );
            assert!(
                text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{} is not in Chinese: {text}",
                m.key()
            );
        }
    }

    #[test]
    fn arguments_are_placed_and_selected() {
        assert_eq!(
            say(Msg::IdCheck, &[("member", ordinal(0))]),
            "第 1 位成员的身份证号校验码不对"
        );
        assert_eq!(
            say(
                Msg::PhotoKindMissing,
                &[("kind", Arg::from("household_with_verifier"))]
            ),
            "缺少核实人与农户合影照片"
        );
        assert_eq!(
            say(Msg::PhotoKindMissing, &[("kind", Arg::from("house"))]),
            "缺少住房照片"
        );
    }
}
