// Package notify tells duty operators of a distress alert outside the console: a signed
// HTTP webhook, a Telegram duty group, SMS to duty phones.
package notify
