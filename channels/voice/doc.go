// Package voice is the Twilio Voice IVR: it runs a call's turns through the same
// dialogs, synchronously, and answers each with TwiML (keypad menus, speech, a person).
package voice
