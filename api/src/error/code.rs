//! Every `code` the API answers with, top-level and in `errors[]`: one enum, one text each.
//! The texts are the contract (clients branch on them; tests and CONTRACT.md quote them), so a
//! variant's text never changes once it is answered.

use serde::{Serialize, Serializer};

/// A problem answer's code, sent as its snake_case text (`as_str`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    // The answer's own code, one per kind of answer.
    /// 400: the request is wrong; `errors` names each fault.
    BadRequest,
    /// 401: no bearer token, or one that is invalid or expired, or the account is gone.
    Unauthorized,
    /// 403: the caller may not do this.
    Forbidden,
    /// 404: no such thing, or not the caller's to see.
    NotFound,
    /// 405: the path takes other methods (`Allow` names them).
    MethodNotAllowed,
    /// 413: a part or the whole request is over a limit (`errors` names which).
    PayloadTooLarge,
    /// 415: the body is not of a type this resource takes.
    UnsupportedMediaType,
    /// 503: the service or one of its dependencies is down or busy; retry later.
    Unavailable,
    /// 503: the process reads as many uploads as it takes at once; retry after `Retry-After`.
    Busy,
    /// 408: the request body stopped arriving; send it again.
    RequestTimeout,
    /// 500: the service failed; nothing the client can fix.
    Internal,

    // Beside a 413.
    /// The named limit (`field`) was exceeded.
    LimitExceeded,

    // 403 for a reason with its own code.
    /// A key is enrolled only with a one-time enrolment code, and none was given.
    EnrolmentCodeRequired,
    /// The enrolment code is unknown, used, expired or someone else's.
    InvalidEnrolmentCode,
    /// The decision was signed with a key not enrolled for the caller.
    UnknownKey,
    /// The decision was signed with a revoked key; enrol a new one.
    KeyRevoked,
    /// The signature does not verify over this decision's document.
    BadSignature,

    // 409: the state is not what the request expects.
    /// A concurrent change got there first; read the current state and retry if still needed.
    Conflict,
    /// The record changed since it was read; read it again.
    Stale,
    /// A different submission already has this id.
    IdConflict,
    /// The digest is not the current version's content digest.
    StaleDigest,
    /// The version is not in a state this decision applies to.
    NotReviewable,
    /// The record is not in an open spot-check sample drawn at the caller's level.
    NotSampled,
    /// The clue is already closed.
    NotOpen,
    /// The photo cannot be made into a thumbnail.
    NoThumbnail,
    /// This signed decision was already taken (a replay).
    ReplayedDecision,

    // 429, with `Retry-After`.
    /// Too many failed sign-ins for the account or from the address; wait and retry.
    SignInLocked,
    /// The account sent more uploads than its rate; send the rest later.
    UploadRate,

    // In `errors[]` of a 400, each at its `field` where there is one.
    /// The body is not the JSON this resource reads.
    InvalidJson,
    /// The query string cannot be read.
    InvalidQuery,
    /// The survey part is not a well-formed survey document.
    InvalidDocument,
    /// The multipart body is malformed (a part unnamed, repeated or unreadable).
    MalformedMultipart,
    /// The upload has no `survey` part.
    MissingSurvey,
    /// A spot-check rate outside (0, 1].
    InvalidRate,
    /// A spot-check seed that is empty or too long.
    InvalidSeed,
    /// A decision that is not one of those the resource takes.
    InvalidDecision,
    /// A digest that is not a content digest.
    InvalidDigest,
    /// A reason that cannot be read or is too long.
    InvalidReason,
    /// The decision needs a reason and none was given.
    ReasonRequired,
    /// More reasons than a decision may carry.
    TooManyReasons,
    /// A ledger position or range outside the ledger.
    InvalidRange,
    /// A status that is not one of the listed ones.
    InvalidStatus,
    /// A page number outside 1 to 100000.
    InvalidPage,
    /// A flag code that is not lower-case letters and `_`.
    InvalidFlag,
    /// A public key that is not 32 bytes of base64url.
    InvalidPublicKey,
    /// A signed decision without `decided_at`, `key_id` or `signature`.
    SignatureRequired,
    /// A signature that is not 64 bytes of base64url without padding.
    InvalidSignature,
    /// A `decided_at` that is not RFC 3339 with an offset.
    InvalidTime,
    /// A `decided_at` too far from the server's clock.
    StaleDecision,
    // Resumable uploads (tus 1.0.0) and JSON submissions.
    /// 412: the request is not tus 1.0.0 (`Tus-Resumable: 1.0.0` missing or other; `Tus-Version` says which is).
    TusVersion,
    /// 410: the resumable upload expired (7 days after its creation); start a new one.
    UploadExpired,
    /// 410: the bytes received for the upload are not in this server's spool; start a new one.
    UploadLost,
    /// 460: the chunk does not match its `Upload-Checksum`; nothing of it was kept.
    ChecksumMismatch,
    /// 409: `Upload-Offset` is not the upload's offset (HEAD says what it is).
    OffsetMismatch,
    /// 409: another request is writing this upload now; HEAD, then go on.
    UploadBusy,
    /// 429: the account has as many unfinished uploads as it may; finish or delete some.
    TooManyUploads,
    /// In `errors[]` of a 400: a tus header (`Upload-Length`, `Upload-Offset`, `Upload-Metadata`, `Upload-Checksum`) missing or unreadable.
    InvalidUploadHeader,
    /// In `errors[]` of a 400: a JSON submission names an upload that is not there, expired, or not the caller's.
    UnknownUpload,
    /// In `errors[]` of a 400: a JSON submission names an upload that is not complete.
    UploadIncomplete,
    /// In `errors[]` of a 400: an upload's SHA-256 is not the one the signed survey declares for its part.
    UploadHashMismatch,
    /// In `errors[]` of a 400: an upload is given for a part the signed survey does not list.
    UploadPartNotListed,
    /// A surveyor who may not be responsible for the household: unknown, not an active
    /// surveyor, or of a unit that does not contain its village.
    InvalidSurveyor,
    /// 409: confirming or reopening a clue that is not closed and awaiting confirmation.
    NotClosed,
    /// In `errors[]` of a 400: a clue source the request may not name.
    InvalidSource,
    /// In `errors[]` of a 400: not a clue kind.
    InvalidKind,
    /// In `errors[]` of a 400: an org unit that does not exist or lies outside the caller's jurisdiction.
    InvalidUnit,
    /// In `errors[]` of a 400: a clue's deadline unreadable or not in the future.
    InvalidDeadline,
    /// In `errors[]` of a 400: evidence that is not a list of photo SHA-256s.
    InvalidEvidence,
    /// In `errors[]` of a 400: a clue's description empty or too long.
    InvalidDescription,
    /// In `errors[]` of a 400: not a clue severity.
    InvalidSeverity,
    /// In `errors[]` of a 400: `overdue` neither `true` nor `false`.
    InvalidOverdue,
    /// In `errors[]` of a 400: a household code malformed or outside the assigned unit.
    InvalidHousehold,
    /// 409: the job has no result to download yet (queued or running), or it failed.
    JobNotReady,
    /// In `errors[]` of a 400: an export's `dataset` is not one the service exports.
    InvalidDataset,
    /// In `errors[]` of a 400: an export's `format` is neither `csv` nor `xlsx`.
    InvalidFormat,
}

impl ErrorCode {
    /// Every code, in declaration order (keep in step with the enum and `as_str`).
    pub const ALL: [ErrorCode; 75] = [
        ErrorCode::BadRequest,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::Unavailable,
        ErrorCode::Busy,
        ErrorCode::RequestTimeout,
        ErrorCode::Internal,
        ErrorCode::LimitExceeded,
        ErrorCode::EnrolmentCodeRequired,
        ErrorCode::InvalidEnrolmentCode,
        ErrorCode::UnknownKey,
        ErrorCode::KeyRevoked,
        ErrorCode::BadSignature,
        ErrorCode::Conflict,
        ErrorCode::Stale,
        ErrorCode::IdConflict,
        ErrorCode::StaleDigest,
        ErrorCode::NotReviewable,
        ErrorCode::NotSampled,
        ErrorCode::NotOpen,
        ErrorCode::NoThumbnail,
        ErrorCode::ReplayedDecision,
        ErrorCode::SignInLocked,
        ErrorCode::UploadRate,
        ErrorCode::InvalidJson,
        ErrorCode::InvalidQuery,
        ErrorCode::InvalidDocument,
        ErrorCode::MalformedMultipart,
        ErrorCode::MissingSurvey,
        ErrorCode::InvalidRate,
        ErrorCode::InvalidSeed,
        ErrorCode::InvalidDecision,
        ErrorCode::InvalidDigest,
        ErrorCode::InvalidReason,
        ErrorCode::ReasonRequired,
        ErrorCode::TooManyReasons,
        ErrorCode::InvalidRange,
        ErrorCode::InvalidStatus,
        ErrorCode::InvalidPage,
        ErrorCode::InvalidFlag,
        ErrorCode::InvalidPublicKey,
        ErrorCode::SignatureRequired,
        ErrorCode::InvalidSignature,
        ErrorCode::InvalidTime,
        ErrorCode::StaleDecision,
        ErrorCode::TusVersion,
        ErrorCode::UploadExpired,
        ErrorCode::UploadLost,
        ErrorCode::ChecksumMismatch,
        ErrorCode::OffsetMismatch,
        ErrorCode::UploadBusy,
        ErrorCode::TooManyUploads,
        ErrorCode::InvalidUploadHeader,
        ErrorCode::UnknownUpload,
        ErrorCode::UploadIncomplete,
        ErrorCode::UploadHashMismatch,
        ErrorCode::UploadPartNotListed,
        ErrorCode::InvalidSurveyor,
        ErrorCode::NotClosed,
        ErrorCode::InvalidSource,
        ErrorCode::InvalidKind,
        ErrorCode::InvalidUnit,
        ErrorCode::InvalidDeadline,
        ErrorCode::InvalidEvidence,
        ErrorCode::InvalidDescription,
        ErrorCode::InvalidSeverity,
        ErrorCode::InvalidOverdue,
        ErrorCode::InvalidHousehold,
        ErrorCode::JobNotReady,
        ErrorCode::InvalidDataset,
        ErrorCode::InvalidFormat,
    ];

    /// The text sent as `code` (and in the problem's `type` URL).
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Busy => "busy",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::Internal => "internal",
            ErrorCode::LimitExceeded => "limit_exceeded",
            ErrorCode::EnrolmentCodeRequired => "enrolment_code_required",
            ErrorCode::InvalidEnrolmentCode => "invalid_enrolment_code",
            ErrorCode::UnknownKey => "unknown_key",
            ErrorCode::KeyRevoked => "key_revoked",
            ErrorCode::BadSignature => "bad_signature",
            ErrorCode::Conflict => "conflict",
            ErrorCode::Stale => "stale",
            ErrorCode::IdConflict => "id_conflict",
            ErrorCode::StaleDigest => "stale_digest",
            ErrorCode::NotReviewable => "not_reviewable",
            ErrorCode::NotSampled => "not_sampled",
            ErrorCode::NotOpen => "not_open",
            ErrorCode::NoThumbnail => "no_thumbnail",
            ErrorCode::ReplayedDecision => "replayed_decision",
            ErrorCode::SignInLocked => "sign_in_locked",
            ErrorCode::UploadRate => "upload_rate",
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::InvalidQuery => "invalid_query",
            ErrorCode::InvalidDocument => "invalid_document",
            ErrorCode::MalformedMultipart => "malformed_multipart",
            ErrorCode::MissingSurvey => "missing_survey",
            ErrorCode::InvalidRate => "invalid_rate",
            ErrorCode::InvalidSeed => "invalid_seed",
            ErrorCode::InvalidDecision => "invalid_decision",
            ErrorCode::InvalidDigest => "invalid_digest",
            ErrorCode::InvalidReason => "invalid_reason",
            ErrorCode::ReasonRequired => "reason_required",
            ErrorCode::TooManyReasons => "too_many_reasons",
            ErrorCode::InvalidRange => "invalid_range",
            ErrorCode::InvalidStatus => "invalid_status",
            ErrorCode::InvalidPage => "invalid_page",
            ErrorCode::InvalidFlag => "invalid_flag",
            ErrorCode::InvalidPublicKey => "invalid_public_key",
            ErrorCode::SignatureRequired => "signature_required",
            ErrorCode::InvalidSignature => "invalid_signature",
            ErrorCode::InvalidTime => "invalid_time",
            ErrorCode::StaleDecision => "stale_decision",
            ErrorCode::TusVersion => "unsupported_tus_version",
            ErrorCode::UploadExpired => "upload_expired",
            ErrorCode::UploadLost => "upload_lost",
            ErrorCode::ChecksumMismatch => "checksum_mismatch",
            ErrorCode::OffsetMismatch => "offset_mismatch",
            ErrorCode::UploadBusy => "upload_busy",
            ErrorCode::TooManyUploads => "too_many_uploads",
            ErrorCode::InvalidUploadHeader => "invalid_upload_header",
            ErrorCode::UnknownUpload => "unknown_upload",
            ErrorCode::UploadIncomplete => "upload_incomplete",
            ErrorCode::UploadHashMismatch => "upload_hash_mismatch",
            ErrorCode::UploadPartNotListed => "upload_part_not_listed",
            ErrorCode::InvalidSurveyor => "invalid_surveyor",
            ErrorCode::NotClosed => "not_closed",
            ErrorCode::InvalidSource => "invalid_source",
            ErrorCode::InvalidKind => "invalid_kind",
            ErrorCode::InvalidUnit => "invalid_unit",
            ErrorCode::InvalidDeadline => "invalid_deadline",
            ErrorCode::InvalidEvidence => "invalid_evidence",
            ErrorCode::InvalidDescription => "invalid_description",
            ErrorCode::InvalidSeverity => "invalid_severity",
            ErrorCode::InvalidOverdue => "invalid_overdue",
            ErrorCode::InvalidHousehold => "invalid_household",
            ErrorCode::JobNotReady => "job_not_ready",
            ErrorCode::InvalidDataset => "invalid_dataset",
            ErrorCode::InvalidFormat => "invalid_format",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}
