// Package twiliotest is a fake Twilio REST API on a local HTTP server, for tests and
// benchmarks that point the real twilio-go client at it, and signs webhooks like Twilio.
package twiliotest
