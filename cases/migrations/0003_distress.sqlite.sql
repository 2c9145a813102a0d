-- Distress cases: someone said they are in danger. The facts a rescue centre needs come
-- one at a time, each kept as a dated event (positions make a track, never overwritten).
-- What identifies anyone is sealed by the application, as in cases.
CREATE TABLE distress (
    ref         TEXT PRIMARY KEY,
    test        BOOLEAN NOT NULL DEFAULT FALSE,
    channel     TEXT NOT NULL,
    lang        TEXT NOT NULL,
    contact_key TEXT NOT NULL,        -- HMAC of the channel and address, for erasure
    contact     BLOB,                 -- sealed: the address, so that a person can answer
    status      TEXT NOT NULL,        -- open, closed
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    reduced_at  TIMESTAMP
);

CREATE INDEX distress_contact_key ON distress (contact_key);

CREATE TABLE distress_events (
    id        INTEGER PRIMARY KEY,
    case_ref  TEXT NOT NULL REFERENCES distress (ref),
    event_key TEXT NOT NULL UNIQUE,   -- idempotency: the message that brought it
    at        TIMESTAMP NOT NULL,
    kind      TEXT NOT NULL,          -- position, people, children, injured, situation, boat, water, engine, note
    value     BLOB                    -- sealed
);

CREATE INDEX distress_events_case ON distress_events (case_ref, id);
