// Command bench measures signed SMS turns through the hotline against two minimal floor
// servers (reply through the REST API, reply inline as TwiML) on the same Redis and fake
// Twilio API, times the hotline binary's start-up, measures a flood from one number
// against the per-contact limit, and prints a markdown report. With -broadcast N it
// measures one route alert to N SMS subscribers instead: the Redis memory the
// subscriptions take and how fast the alert reaches the provider.
package main
