//! Keep a look-up prepared that diesel would parse and plan afresh on every run.
//!
//! Diesel keeps a connection's prepared statements in a cache, but never a `sql_query` (its
//! SQL *could* vary without bound), so PostgreSQL parses and plans each run. Measured on the
//! sign-off path (pg_stat_statements, 4,000 sign-offs, 2026-11-30): planning took 10 s of the
//! server's CPU, 2.5 ms a survey, and the largest single cost was the photo-reuse look-up, a
//! `sql_query` planned 8,000 times (3.0 s). [`prepared`] wraps such a statement whose SQL the
//! code fixes: diesel then caches it under its SQL text, so it is parsed once per connection,
//! and PostgreSQL may keep a generic plan for it (only when that plan costs no more than
//! planning each run).
//!
//! **Only for statements that return rows** (`load`, `get_result`, `get_results`): diesel
//! hands a statement to `execute` by reference, and its `QueryFragment` for `&T` asks the
//! wrapped statement itself whether it may be cached, which an `UPDATE`, a multi-row `INSERT`
//! or a `sql_query` refuses. So wrapping one run by `execute` changes nothing (a test on
//! PostgreSQL found such an `UPDATE` was not kept).
//!
//! Never wrap a statement whose SQL grows with the data (an `IN` list on SQLite): each
//! distinct text stays prepared for the connection's life.

use diesel::QueryResult;
use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::query_dsl::RunQueryDsl;

/// A row-returning statement kept prepared (see the module documentation).
#[derive(Debug, Clone, Copy)]
pub struct Prepared<Q>(Q);

/// Keep `query` prepared: its SQL must be fixed by the code, and it must be run by `load`,
/// `get_result` or `get_results`.
pub fn prepared<Q>(query: Q) -> Prepared<Q> {
    Prepared(query)
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
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q: Query> Query for Prepared<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, C> RunQueryDsl<C> for Prepared<Q> {}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::pg::Pg;

    fn keeps<Q: QueryFragment<Pg>>(q: &Q) -> bool {
        q.is_safe_to_cache_prepared(&Pg).unwrap_or(false)
    }

    #[test]
    fn a_wrapped_look_up_is_kept_but_not_through_a_reference() {
        let look_up = diesel::sql_query("SELECT 1 AS n");
        assert!(!keeps(&look_up), "diesel itself never keeps a sql_query");
        let wrapped = prepared(look_up);
        assert!(keeps(&wrapped), "`load` hands the statement over by value");
        // What `execute` does: the reference's own answer is the wrapped statement's.
        assert!(!keeps(&&wrapped), "`execute` hands it over by reference");
    }
}
