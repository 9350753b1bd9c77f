//! Submissions and their photos: ingest (row + photos + outbox row in one transaction) and the
//! worker's guarded state change.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::models::{NewOutbox, Submission, SubmissionPhoto};
use crate::schema::{outbox, stage_runs, submission_photos as p, submissions as s};
use crate::{Conn, DbError, DbResult, Tx, with_conn, with_tx};
use fieldsurvey_core::vocab::{LedgerAction, OrgLevel, Stage, Status};

pub enum Ingested {
    /// Stored now, with its outbox row.
    New,
    /// A submission with this id already exists (the caller compares digests).
    Existing(Box<Submission>),
}

/// Store a new submission, its photos and its outbox row atomically; a second insert of the same
/// id (a resend, possibly concurrent) stores nothing and returns the existing row.
///
/// On PostgreSQL this is one statement in one round trip (see [`INGEST_PG`]); on SQLite, where a
/// statement cannot carry several inserts, a transaction of three.
pub fn ingest(
    conn: &mut Conn,
    sub: &Submission,
    photos: &[SubmissionPhoto],
    message: &NewOutbox,
) -> DbResult<Ingested> {
    let inserted = match conn {
        Conn::Pg(pooled) => ingest_pg(pooled, sub, photos, message)?,
        Conn::Sqlite(_) => conn.transaction(|tx| {
            let inserted = with_tx!(tx, |c| diesel::insert_into(s::table)
                .values(sub)
                .on_conflict(s::id)
                .do_nothing()
                .execute(c))?;
            if inserted == 0 {
                return Ok::<_, DbError>(false);
            }
            with_tx!(tx, |c| diesel::insert_into(p::table)
                .values(photos)
                .execute(c))?;
            with_tx!(tx, |c| diesel::insert_into(outbox::table)
                .values(message)
                .execute(c))?;
            Ok(true)
        })?,
    };
    if inserted {
        return Ok(Ingested::New);
    }
    let existing = with_conn!(conn, |c| s::table
        .filter(s::id.eq(&sub.id))
        .select(Submission::as_select())
        .first(c))?;
    Ok(Ingested::Existing(Box::new(existing)))
}

/// The ingest as one PostgreSQL statement, committed on its own: the submission row, then its
/// photos and its outbox row only when the submission row was inserted (`FROM s`), so a resend
/// stores nothing. A statement is atomic as a transaction is, and the foreign keys of the photo
/// rows are checked at its end, after the submission row is in. One round trip and one commit
/// instead of five round trips (BEGIN, three inserts, COMMIT): the upload's path spends its
/// database time on round trips, not on the rows.
const INGEST_PG: &str = "\
WITH s AS (
    INSERT INTO submissions (id, household_code, village_code, surveyor_id, content_digest,
        document, status, received_at, processed_at, request_id, supersedes, signer_key_id,
        outcome, rejections, flags, superseded_by)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
    ON CONFLICT (id) DO NOTHING
    RETURNING id
), p AS (
    INSERT INTO submission_photos (submission_id, part, sha256, size_bytes, content_type, kind,
        width, height, exif_time, exif_lat, exif_lon, orientation, phash)
    SELECT s.id, x.* FROM s, unnest($17::text[], $18::text[], $19::int8[], $20::text[],
        $21::text[], $22::int4[], $23::int4[], $24::text[], $25::float8[], $26::float8[],
        $27::int4[], $28::int8[])
        AS x(part, sha256, size_bytes, content_type, kind, width, height, exif_time, exif_lat,
             exif_lon, orientation, phash)
), o AS (
    INSERT INTO outbox (message_id, kind, routing_key, payload, request_id, created_at)
    SELECT $29, $30, $31, $32, $33, $34 FROM s
)
SELECT COUNT(*) AS inserted FROM s";

#[derive(QueryableByName)]
struct InsertedRows {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    inserted: i64,
}

fn ingest_pg(
    c: &mut diesel::pg::PgConnection,
    sub: &Submission,
    photos: &[SubmissionPhoto],
    message: &NewOutbox,
) -> DbResult<bool> {
    use diesel::sql_types::{Array, BigInt, Double, Integer, Nullable, Text, Timestamp};
    fn column<T>(photos: &[SubmissionPhoto], f: impl Fn(&SubmissionPhoto) -> T) -> Vec<T> {
        photos.iter().map(f).collect()
    }
    let row: InsertedRows = diesel::sql_query(INGEST_PG)
        .bind::<Text, _>(&sub.id)
        .bind::<Text, _>(&sub.household_code)
        .bind::<Text, _>(&sub.village_code)
        .bind::<Text, _>(&sub.surveyor_id)
        .bind::<Text, _>(&sub.content_digest)
        .bind::<Text, _>(&sub.document)
        .bind::<Text, _>(sub.status)
        .bind::<Timestamp, _>(sub.received_at)
        .bind::<Nullable<Timestamp>, _>(sub.processed_at)
        .bind::<Nullable<Text>, _>(&sub.request_id)
        .bind::<Nullable<Text>, _>(&sub.supersedes)
        .bind::<Nullable<Text>, _>(&sub.signer_key_id)
        .bind::<Nullable<Text>, _>(&sub.outcome)
        .bind::<Text, _>(&sub.rejections)
        .bind::<Text, _>(&sub.flags)
        .bind::<Nullable<Text>, _>(&sub.superseded_by)
        .bind::<Array<Text>, _>(column(photos, |p| p.part.clone()))
        .bind::<Array<Text>, _>(column(photos, |p| p.sha256.clone()))
        .bind::<Array<BigInt>, _>(column(photos, |p| p.size_bytes))
        .bind::<Array<Nullable<Text>>, _>(column(photos, |p| p.content_type.clone()))
        .bind::<Array<Nullable<Text>>, _>(column(photos, |p| p.kind))
        .bind::<Array<Nullable<Integer>>, _>(column(photos, |p| p.width))
        .bind::<Array<Nullable<Integer>>, _>(column(photos, |p| p.height))
        .bind::<Array<Nullable<Text>>, _>(column(photos, |p| p.exif_time.clone()))
        .bind::<Array<Nullable<Double>>, _>(column(photos, |p| p.exif_lat))
        .bind::<Array<Nullable<Double>>, _>(column(photos, |p| p.exif_lon))
        .bind::<Array<Nullable<Integer>>, _>(column(photos, |p| p.orientation))
        .bind::<Array<Nullable<BigInt>>, _>(column(photos, |p| p.phash))
        .bind::<Text, _>(&message.message_id)
        .bind::<Text, _>(message.kind)
        .bind::<Text, _>(&message.routing_key)
        .bind::<Text, _>(&message.payload)
        .bind::<Nullable<Text>, _>(&message.request_id)
        .bind::<Timestamp, _>(message.created_at)
        .get_result(c)?;
    Ok(row.inserted > 0)
}

pub fn get(conn: &mut Conn, id: &str) -> DbResult<Option<Submission>> {
    with_conn!(conn, |c| Ok(s::table
        .filter(s::id.eq(id))
        .select(Submission::as_select())
        .first(c)
        .optional()?))
}

/// The indicators' outcomes of the submissions `ids` that have one, by id.
pub fn outcomes(
    conn: &mut Conn,
    ids: &[String],
) -> DbResult<std::collections::HashMap<String, String>> {
    let rows: Vec<(String, Option<String>)> = with_conn!(conn, |c| s::table
        .filter(s::id.eq_any(ids))
        .select((s::id, s::outcome))
        .load(c))?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, o)| Some((id, o?)))
        .collect())
}

pub fn photos(conn: &mut Conn, id: &str) -> DbResult<Vec<SubmissionPhoto>> {
    with_conn!(conn, |c| Ok(p::table
        .filter(p::submission_id.eq(id))
        .order(p::part.asc())
        .select(SubmissionPhoto::as_select())
        .load(c)?))
}

/// `status = 'queued' AND processed_at IS NULL`: what every listing of the queue filters on.
/// The second half is always true of a queued submission (a check says so); it is there
/// because the queue's partial index has this predicate, which no statement naming a single
/// submission implies, so the planner never reads the whole queue to find one row in it
/// (migration 15).
pub type InQueue =
    diesel::dsl::And<diesel::dsl::Eq<s::status, Status>, diesel::dsl::IsNull<s::processed_at>>;

pub fn in_queue() -> InQueue {
    s::status.eq(Status::Queued).and(s::processed_at.is_null())
}

/// Ids of submissions still `queued`, oldest first (the embedded queue re-feeds them on start).
pub fn queued_ids(conn: &mut Conn, limit: i64) -> DbResult<Vec<String>> {
    with_conn!(conn, |c| Ok(s::table
        .filter(in_queue())
        .order(s::received_at.asc())
        .limit(limit)
        .select(s::id)
        .load(c)?))
}

pub fn count_by_status(conn: &mut Conn, status: Status) -> DbResult<i64> {
    with_conn!(conn, |c| Ok(s::table
        .filter(s::status.eq(status))
        .count()
        .get_result(c)?))
}

/// What the pipeline decided about one submission, committed by its last stage.
pub struct StageOutcome<'a> {
    pub submission_id: &'a str,
    /// The stages that ran and when each finished: one `stage_runs` row each.
    pub stages: Vec<(Stage, NaiveDateTime)>,
    pub worker: &'a str,
    pub status: Status,
    pub outcome: Option<String>,
    pub rejections: String,
    pub flags: String,
    pub signer_key_id: Option<String>,
    pub photo_meta: &'a [PhotoMeta],
    pub at: NaiveDateTime,
    /// The ledger entry recording this change (R2), appended in the same transaction.
    pub entry: fieldsurvey_core::ledger::Entry,
    pub ledger_key: fieldsurvey_core::ledger::LedgerKey,
    /// For a signed-off correction: the version it replaces, which becomes `superseded` in the
    /// same transaction, with its own entry (its earlier entries stay).
    pub supersedes: Option<String>,
    /// For a sign-off: what the queue, the stats and the data comparison keep.
    pub signed_off: Option<SignedOff>,
}

/// What a sign-off records beside the status.
pub struct SignedOff {
    pub household_code: String,
    pub village_code: String,
    pub township_code: String,
    pub meets_standard: bool,
    pub review_due_at: NaiveDateTime,
    /// The level that decides this version (`township`, or the level that returned the
    /// version it corrects).
    pub review_level: OrgLevel,
    /// `(HMAC of the ID number, member index)` of this version's members: the household's
    /// entries in the person index are replaced by these.
    pub people: Vec<(String, i32)>,
    /// `(kind, detail JSON)` of the clues this version raises (failing indicators and
    /// clue-opening flags); a kind already open for the household is not opened twice.
    pub clues: Vec<(fieldsurvey_core::vocab::ClueKind, String)>,
    /// This version's photos and what its reuse look-up found (see `photos::find_reuse`,
    /// `photos::record_fingerprints` and, after the commit, `photos::reconcile`).
    pub fingerprints: Vec<crate::photos::Fingerprint>,
    pub reuse: Vec<crate::photos::Reuse>,
}

pub struct PhotoMeta {
    pub part: String,
    pub kind: Option<fieldsurvey_core::form::PhotoKind>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub exif_time: Option<String>,
    pub exif_gps: Option<(f64, f64)>,
    pub orientation: Option<i32>,
    pub phash: Option<u64>,
}

/// Commit the pipeline's outcome exactly once: the status change, guarded on `queued`, decides
/// which run writes; a (submission, stage) row records each stage that ran. Returns false when
/// the submission had already been processed (a redelivery, or another worker's run), in which
/// case nothing changes.
///
/// No lock that every sign-off takes: the transaction locks its own rows and its household
/// (two versions of one household take turns), figures change by inserted deltas, and its
/// ledger entries are queued (`ledger::enqueue`) for the next `ledger::sequence`, which every
/// process runs every 250 ms (`ledger::spawn_sequencer`).
pub fn record_stage(conn: &mut Conn, o: &StageOutcome<'_>) -> DbResult<bool> {
    conn.transaction(|tx| {
        // The status first: of two runs of the stage (a redelivery, a re-sent message) only the
        // one that moves the submission out of `queued` writes anything. (The other way round,
        // a run that lost to a parking committed its `stage_runs` row alone, and after a
        // re-drive every later run found that row and did nothing: stuck `queued`.)
        let changed = with_tx!(tx, |c| diesel::update(
            s::table
                .filter(s::id.eq(o.submission_id))
                .filter(s::status.eq(Status::Queued)),
        )
        .set((
            s::status.eq(o.status),
            s::processed_at.eq(Some(o.at)),
            s::outcome.eq(&o.outcome),
            s::rejections.eq(&o.rejections),
            s::flags.eq(&o.flags),
            s::signer_key_id.eq(&o.signer_key_id),
        ))
        .execute(c))?;
        if changed != 1 {
            // Processed by another run meanwhile (its result stands), or parked: nothing written.
            return Ok(false);
        }
        // One statement for the stages' rows.
        let runs: Vec<_> = o
            .stages
            .iter()
            .map(|(stage, completed_at)| {
                (
                    stage_runs::submission_id.eq(o.submission_id),
                    stage_runs::stage.eq(*stage),
                    stage_runs::completed_at.eq(*completed_at),
                    stage_runs::worker.eq(o.worker),
                )
            })
            .collect();
        with_tx!(tx, |c| diesel::insert_into(stage_runs::table)
            .values(&runs)
            .on_conflict((stage_runs::submission_id, stage_runs::stage))
            .do_nothing()
            .execute(c))?;
        if let Some(so) = &o.signed_off {
            crate::progress::lock_household(tx, &so.household_code)?;
        }
        for m in o.photo_meta {
            with_tx!(tx, |c| diesel::update(
                p::table
                    .filter(p::submission_id.eq(o.submission_id))
                    .filter(p::part.eq(&m.part)),
            )
            .set((
                p::kind.eq(&m.kind),
                p::width.eq(m.width),
                p::height.eq(m.height),
                p::exif_time.eq(&m.exif_time),
                p::exif_lat.eq(m.exif_gps.map(|g| g.0)),
                p::exif_lon.eq(m.exif_gps.map(|g| g.1)),
                p::orientation.eq(m.orientation),
                p::phash.eq(m.phash.map(|h| h as i64)),
            ))
            .execute(c))?;
        }
        let superseded = match &o.supersedes {
            Some(old) => Some(supersede(tx, old, o.submission_id, &o.entry.actor)?),
            None => None,
        };
        if let Some(so) = &o.signed_off {
            crate::clues::record_sign_off(tx, o.submission_id, so, o.at)?;
            crate::progress::household_changed(tx, &so.village_code, &so.household_code)?;
        }
        let mut mirrors = Vec::new();
        if let Some(so) = &o.signed_off {
            mirrors = crate::photos::record_fingerprints(
                tx,
                o.submission_id,
                &so.household_code,
                &so.fingerprints,
                &so.reuse,
                &o.entry.actor,
                o.at,
            )?;
        }
        let mut entries: Vec<(fieldsurvey_core::ledger::Entry, Option<&str>)> =
            vec![(o.entry.clone(), Some(o.submission_id))];
        entries.extend(
            mirrors
                .iter()
                .map(|(e, other)| (e.clone(), Some(other.as_str()))),
        );
        if let (Some(old), Some(e)) = (&o.supersedes, superseded) {
            entries.push((e, Some(old.as_str())));
        }
        crate::ledger::enqueue(tx, &entries, o.at)?;
        Ok(true)
    })
}

/// A signed-off correction replaces `old`, which becomes `superseded` with its own entry (its
/// earlier entries stay), returned for the caller to append.
fn supersede(
    tx: &mut Tx<'_>,
    old: &str,
    by: &str,
    actor: &fieldsurvey_core::ledger::Actor,
) -> DbResult<fieldsurvey_core::ledger::Entry> {
    use crate::schema::photo_fingerprints as f;
    let replaced = with_tx!(tx, |c| diesel::update(
        s::table
            .filter(s::id.eq(old))
            .filter(s::superseded_by.is_null())
            // Not processed yet (or its processing stopped and waits for an operator).
            .filter(s::status.ne_all([Status::Queued, Status::NeedsAttention])),
    )
    .set((
        s::status.eq(Status::Superseded),
        s::superseded_by.eq(Some(by))
    ))
    .execute(c))?;
    if replaced != 1 {
        // Not yet processed, or corrected by another version first: roll back and let the
        // stage run again, when `supersedes` is judged afresh.
        return Err(DbError::Stale(format!(
            "submission {old} cannot be superseded now"
        )));
    }
    // The replaced version's photos no longer stand for the household: only current versions
    // are compared for reuse.
    with_tx!(tx, |c| diesel::delete(
        f::table.filter(f::submission_id.eq(old))
    )
    .execute(c))?;
    let (household, village, digest): (String, String, String) = with_tx!(tx, |c| s::table
        .filter(s::id.eq(old))
        .select((s::household_code, s::village_code, s::content_digest))
        .first(c))?;
    crate::progress::household_changed(tx, &village, &household)?;
    let mut entry = fieldsurvey_core::ledger::Entry::new(LedgerAction::Superseded, actor.clone());
    entry.submission_id = Some(old.to_owned());
    entry.household_code = Some(household);
    entry.content_digest = Some(digest);
    entry.detail = serde_json::json!({ "superseded_by": by });
    Ok(entry)
}

/// Every version of a household's record, oldest first.
pub fn for_household(conn: &mut Conn, household_code: &str) -> DbResult<Vec<Submission>> {
    with_conn!(conn, |c| Ok(s::table
        .filter(s::household_code.eq(household_code))
        .order((s::received_at.asc(), s::id.asc()))
        .select(Submission::as_select())
        .load(c)?))
}

/// `(id, content_digest, document)` of the submissions named, for checking many verifiers'
/// signatures with one query.
pub fn documents(conn: &mut Conn, ids: &[String]) -> DbResult<Vec<(String, String, String)>> {
    with_conn!(conn, |c| Ok(s::table
        .filter(s::id.eq_any(ids))
        .select((s::id, s::content_digest, s::document))
        .load(c)?))
}

/// The level that last sent this version back (a township's return, or a county's or
/// prefecture's overturn in a spot-check), if any.
pub fn returned_at_level(conn: &mut Conn, id: &str) -> DbResult<Option<OrgLevel>> {
    use crate::schema::{reviews as r, spot_check_items as it, spot_checks as sc};
    let review: Option<(OrgLevel, NaiveDateTime)> = with_conn!(conn, |c| r::table
        .filter(r::submission_id.eq(id))
        .filter(r::decision.eq(Status::Returned))
        .order(r::decided_at.desc())
        .select((r::org_level, r::decided_at))
        .first(c)
        .optional())?;
    let spot: Option<(OrgLevel, Option<NaiveDateTime>)> = with_conn!(conn, |c| it::table
        .inner_join(sc::table.on(sc::id.eq(it::spot_check_id)))
        .filter(it::submission_id.eq(id))
        .filter(it::decision.eq("overturned"))
        .order(it::decided_at.desc())
        .select((sc::level, it::decided_at))
        .first(c)
        .optional())?;
    Ok(match (review, spot) {
        (Some((l, a)), Some((m, b))) => Some(if b.is_some_and(|b| b > a) { m } else { l }),
        (Some((l, _)), None) => Some(l),
        (None, Some((m, _))) => Some(m),
        (None, None) => None,
    })
}

/// Which of `sha256s` some submission or clue names (any version, any status): the photos the
/// store must keep.
pub fn referenced_photos(
    conn: &mut Conn,
    sha256s: &[String],
) -> DbResult<std::collections::HashSet<String>> {
    use crate::schema::submission_photos as p;
    let mut out = std::collections::HashSet::new();
    for chunk in sha256s.chunks(1_000) {
        let found: Vec<String> = with_conn!(conn, |c| p::table
            .filter(p::sha256.eq_any(chunk))
            .select(p::sha256)
            .distinct()
            .load(c))?;
        out.extend(found);
        // A finished resumable upload's bytes wait in the store for the submission that will
        // name them, until the upload expires.
        out.extend(crate::uploads::named_photos(conn, chunk)?);
        // A clue's evidence (a reported 疑似漏评 household's photo, a rectification's).
        out.extend(crate::compare::clue_photos(conn, chunk)?);
    }
    Ok(out)
}
