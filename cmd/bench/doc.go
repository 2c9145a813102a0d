// Command bench measures signed SMS turns through the hotline against a minimal floor
// server on the same Redis and fake Twilio API, and prints a markdown report.
package main
