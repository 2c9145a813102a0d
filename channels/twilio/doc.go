// Package twilio receives SMS (and later WhatsApp) webhooks from Twilio and sends
// replies through Twilio's REST API with twilio-go.
package twilio
