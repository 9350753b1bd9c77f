-- Monthly bulletins (通报, issue 19 item 3): a dated snapshot of a unit and its child units as
-- of the end of a month in the office's calendar (docs/bulletins.md). One per (unit, month).
-- `snapshot` is the bulletin's RFC 8785 JSON, `digest` the SHA-256 (lower-case hex) of those
-- bytes, and `ledger_seq` the `bulletin_issued` ledger entry that carries the unit, the month
-- and the digest: `fieldsurvey bulletin verify` recomputes each digest and checks it against
-- its entry, so an altered row is found.
--
-- Immutable: an issued bulletin is never updated or deleted. The service only inserts (a
-- repeated issue finds the row and returns it), and the triggers below refuse an UPDATE or a
-- DELETE from anyone, so a change needs a deliberate schema change first (and then the ledger
-- check still finds it).
CREATE TABLE bulletins (
    id TEXT PRIMARY KEY,
    org_code TEXT NOT NULL REFERENCES org_units (code),
    period TEXT NOT NULL,
    issued_at TIMESTAMP NOT NULL,
    snapshot TEXT NOT NULL,
    digest TEXT NOT NULL,
    issued_by TEXT NOT NULL,
    ledger_seq BIGINT NOT NULL,
    UNIQUE (org_code, period)
);
-- The console's and the API's list of a month's bulletins.
CREATE INDEX bulletins_period ON bulletins (period, org_code);

CREATE FUNCTION bulletins_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'an issued bulletin is never updated or deleted (docs/bulletins.md)';
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER bulletins_immutable BEFORE UPDATE OR DELETE ON bulletins
    FOR EACH ROW EXECUTE FUNCTION bulletins_immutable();
