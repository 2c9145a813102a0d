-- Missing-person cases. What identifies anyone (names, numbers, descriptions, places)
-- is in details, sealed with AES-256-GCM by the application under its key ring; the
-- clear columns are what status answers, statistics, retention and look-ups need.
CREATE TABLE cases (
    ref             TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,                 -- missing
    status          TEXT NOT NULL,                 -- received, in_progress, closed
    test            BOOLEAN NOT NULL DEFAULT FALSE, -- simulator traffic: never exported
    channel         TEXT NOT NULL,
    lang            TEXT NOT NULL,
    consent_version TEXT NOT NULL,
    share_rcrc      BOOLEAN NOT NULL,               -- consent to share with Red Cross / Red Crescent tracing
    route           TEXT NOT NULL DEFAULT '',       -- a route key from the content, or ''
    nationality     TEXT NOT NULL DEFAULT '',       -- as the family gave it, for counts only
    contact_key     TEXT NOT NULL,                  -- HMAC of the enquirer's channel and address
    person_key      TEXT NOT NULL DEFAULT '',       -- HMAC of the missing person's name and birth year
    name_key        TEXT NOT NULL DEFAULT '',       -- HMAC of the enquirer and the missing person's name
    details         BLOB,                           -- sealed JSON; NULL once reduced to a stub
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    closed_at       TIMESTAMP,
    reduced_at      TIMESTAMP                       -- personal data removed (retention or erasure)
);

CREATE INDEX cases_contact_key ON cases (contact_key);
CREATE INDEX cases_person_key ON cases (person_key);
CREATE INDEX cases_name_key ON cases (name_key);
CREATE INDEX cases_closed_at ON cases (closed_at);

-- Dated additions to a case, by the family or by an operator; sealed like details.
CREATE TABLE case_notes (
    id       INTEGER PRIMARY KEY,
    case_ref TEXT NOT NULL REFERENCES cases (ref),
    note_key TEXT NOT NULL UNIQUE,                 -- idempotency: the message that added it
    at       TIMESTAMP NOT NULL,
    author   TEXT NOT NULL,                        -- family, operator:<id>
    body     BLOB                                  -- sealed; NULL once reduced
);

CREATE INDEX case_notes_case_ref ON case_notes (case_ref, id);

-- Likely duplicates, for an operator to review: never merged automatically.
CREATE TABLE case_links (
    case_ref    TEXT NOT NULL REFERENCES cases (ref),
    other_ref   TEXT NOT NULL REFERENCES cases (ref),
    reason      TEXT NOT NULL,                     -- same_person, same_enquirer
    at          TIMESTAMP NOT NULL,
    reviewed_at TIMESTAMP,
    PRIMARY KEY (case_ref, other_ref)
);
