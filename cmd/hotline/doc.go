// Command hotline runs the hotline: webhooks, runners, outbox and effect workers, the
// simulator; with no REDIS_URL or DATABASE_URL it runs embedded, needing no servers.
package main
