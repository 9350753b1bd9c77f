//! Keep a statement prepared that diesel would prepare afresh on every run.
//!
//! Diesel keeps a connection's prepared statements in a cache, but it leaves out every
//! `UPDATE`, every multi-row `INSERT` and every `sql_query` (their SQL *could* vary without
//! bound). Those are parsed and planned by PostgreSQL on each run. Measured on the sign-off
//! path (pg_stat_statements, 4,000 sign-offs, 2026-11-30): planning alone took 10 s of the
//! server's CPU, 2.5 ms a survey, and the largest single cost was the photo-reuse look-up's
//! `sql_query`, planned 8,000 times (3.0 s). [`Prepared`] wraps such a statement ([`prepared`]) whose SQL is
//! fixed by the code (a constant query, an `UPDATE` setting the same columns every time, an
//! `INSERT` of a bounded number of rows): diesel then caches it under its SQL text, so it is
//! parsed once per connection, and PostgreSQL may keep a generic plan for it (it does only
//! when that plan costs no more than planning each run, so a partial index a parameter
//! selects is still used).
//!
//! Never wrap a statement whose SQL grows with the data (an `IN` list on SQLite, a batch of
//! any size): each distinct text stays prepared for the connection's life. A multi-row
//! `INSERT` goes through [`prepared_rows`], which keeps it only up to [`MAX_ROWS`] rows.

use diesel::QueryResult;
use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::query_dsl::RunQueryDsl;

/// A statement run as usual (`execute`, `load`, `get_result`), kept prepared when `keep`.
#[derive(Debug, Clone, Copy)]
pub struct Prepared<Q> {
    query: Q,
    keep: bool,
}

/// The most rows of a multi-row `INSERT` kept prepared: one statement per count up to here
/// (a survey's photos, a household's members, a sign-off's ledger entries); a larger batch
/// (an import's) is prepared for its one run, as diesel does.
pub const MAX_ROWS: usize = 16;

/// Keep `query` prepared: its SQL must be fixed by the code.
pub fn prepared<Q>(query: Q) -> Prepared<Q> {
    Prepared { query, keep: true }
}

/// Keep a multi-row `INSERT` of `rows` rows prepared if it is small (see [`MAX_ROWS`]).
pub fn prepared_rows<Q>(query: Q, rows: usize) -> Prepared<Q> {
    Prepared {
        query,
        keep: rows <= MAX_ROWS,
    }
}

impl<Q> QueryId for Prepared<Q> {
    // No static id: the cache is keyed by the SQL text and the bind types, so two wrapped
    // statements can never share an entry.
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q, DB> QueryFragment<DB> for Prepared<Q>
where
    DB: Backend,
    Q: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.query.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, backend: &DB) -> QueryResult<bool> {
        if self.keep {
            Ok(true)
        } else {
            self.query.is_safe_to_cache_prepared(backend)
        }
    }
}

impl<Q: Query> Query for Prepared<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, C> RunQueryDsl<C> for Prepared<Q> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ledger_pending as lp;
    use diesel::pg::Pg;
    use diesel::{ExpressionMethods, QueryDsl};

    fn keeps<Q: QueryFragment<Pg>>(q: &Q) -> bool {
        q.is_safe_to_cache_prepared(&Pg).unwrap_or(false)
    }

    fn rows(
        n: usize,
    ) -> Vec<(
        diesel::dsl::Eq<lp::entry, String>,
        diesel::dsl::Eq<lp::created_at, chrono::NaiveDateTime>,
    )> {
        let at = chrono::NaiveDateTime::default();
        (0..n)
            .map(|i| (lp::entry.eq(format!("{i}")), lp::created_at.eq(at)))
            .collect()
    }

    #[test]
    fn what_diesel_would_not_keep_is_kept_and_large_batches_are_not() {
        let few = rows(2);
        let insert = diesel::insert_into(lp::table).values(&few);
        assert!(
            !keeps(&insert),
            "diesel itself does not keep a multi-row INSERT"
        );
        assert!(keeps(&prepared_rows(insert, few.len())));
        let many = rows(MAX_ROWS + 1);
        let batch = diesel::insert_into(lp::table).values(&many);
        assert!(!keeps(&prepared_rows(batch, many.len())));
        let update = diesel::update(lp::table.filter(lp::id.eq(1))).set(lp::entry.eq("x"));
        assert!(!keeps(&update));
        assert!(keeps(&prepared(update)));
    }
}
