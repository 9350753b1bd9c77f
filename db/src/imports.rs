//! Registry imports on record: each org-unit or household file imported is a ledger entry
//! naming the operator, the file's SHA-256 and what came of it. Importing the registry's latest
//! file again is recognised by its digest and not recorded twice; an older file imported again
//! is recorded (it changes the registry back).

use diesel::prelude::*;
use fieldsurvey_core::ledger::{Actor, Entry, LedgerKey};

use crate::schema::registry_imports as ri;
use crate::{Conn, DbResult, with_tx};
use fieldsurvey_core::vocab::LedgerAction;

/// What an import came to.
pub struct Imported<'a> {
    /// `org_units` or `households`.
    pub registry: &'a str,
    /// Lower-case hex SHA-256 of the file as read.
    pub sha256: &'a str,
    pub imported: usize,
    pub refused: usize,
}

/// What an import of `registry` is on record as: the grids (responsible surveyors) are not
/// the registry itself.
fn action(registry: &str) -> LedgerAction {
    match registry {
        "grids" => LedgerAction::GridsImported,
        _ => LedgerAction::RegistryImported,
    }
}

/// Record an import by `actor`. Returns the entry's sequence number, or `None` when this very
/// file is the registry's latest on record.
pub fn record(
    conn: &mut Conn,
    import: &Imported<'_>,
    actor: &Actor,
    key: &LedgerKey,
) -> DbResult<Option<i64>> {
    record_in(conn, import, actor, key, true)
}

/// Record an import that changed something, even when this file is the latest on record (a
/// grid file imported again after reviewers moved households puts them back: that is on
/// record too).
pub fn record_change(
    conn: &mut Conn,
    import: &Imported<'_>,
    actor: &Actor,
    key: &LedgerKey,
) -> DbResult<Option<i64>> {
    record_in(conn, import, actor, key, false)
}

fn record_in(
    conn: &mut Conn,
    import: &Imported<'_>,
    actor: &Actor,
    key: &LedgerKey,
    once_per_file: bool,
) -> DbResult<Option<i64>> {
    let at = crate::now();
    conn.transaction(|tx| {
        let latest: Option<String> = with_tx!(tx, |c| ri::table
            .filter(ri::registry.eq(import.registry))
            .order(ri::ledger_seq.desc())
            .select(ri::sha256)
            .first(c)
            .optional())?;
        if once_per_file && latest.as_deref() == Some(import.sha256) {
            return Ok(None);
        }
        let mut e = Entry::new(action(import.registry), actor.clone());
        e.detail = serde_json::json!({
            "registry": import.registry,
            "sha256": import.sha256,
            "imported": import.imported,
            "refused": import.refused,
        });
        let seq = crate::ledger::append_in(tx, vec![(e, None)], key, at)?
            .first()
            .map(|(seq, _)| *seq)
            .unwrap_or_default();
        with_tx!(tx, |c| diesel::insert_into(ri::table)
            .values((
                ri::registry.eq(import.registry),
                ri::sha256.eq(import.sha256),
                ri::ledger_seq.eq(seq),
                ri::imported_at.eq(at),
            ))
            .execute(c))?;
        Ok(Some(seq))
    })
}
