ALTER TABLE submissions DROP COLUMN superseded_by;
DROP TABLE reviews;
DROP TABLE ledger_checkpoints;
