// Command bench measures signed SMS turns through the hotline against a minimal floor
// server on the same Redis and fake Twilio API, and prints a markdown report. With
// -broadcast N it measures one route alert to N SMS subscribers instead: the Redis
// memory the subscriptions take and how fast the alert reaches the provider.
package main
