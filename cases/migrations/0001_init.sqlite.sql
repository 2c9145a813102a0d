-- Which migrations have run, so that Migrate applies each one once.
-- Times are declared TIMESTAMP so that the driver reads them back as times.
CREATE TABLE schema_migrations (
    version    INTEGER PRIMARY KEY,
    applied_at TIMESTAMP NOT NULL
);

-- Who read, exported or changed which case, and why. Rows are never updated or
-- deleted: the triggers below refuse it even to a hand-typed statement.
CREATE TABLE audit_log (
    id       INTEGER PRIMARY KEY,
    at       TIMESTAMP NOT NULL,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    case_ref TEXT,
    reason   TEXT NOT NULL DEFAULT ''
);

CREATE INDEX audit_log_case_ref ON audit_log (case_ref, id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
