// Package cases is the durable store of personal data — missing-person and distress
// cases and the audit log of who read them — on PostgreSQL or an embedded SQLite file.
package cases
