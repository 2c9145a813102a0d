package channels

import "time"

// WhatsApp takes free text only within 24 hours of a contact's last message; outside
// that window only an approved template may go. A reply that finds the window closed is
// held, one template asks the contact to write, and their next message releases what
// was held, before anything else the bot says.
const (
	// WhatsAppWindow is how long after a contact's last message WhatsApp takes free text.
	WhatsAppWindow = 24 * time.Hour
	// WindowMargin is kept short of the window: the provider's clock and ours differ.
	WindowMargin = time.Minute
	// HeldFor is how long held messages wait for the contact to write.
	HeldFor = 7 * 24 * time.Hour
	// NudgeEvery bounds the templates sent to a contact who does not answer.
	NudgeEvery = 24 * time.Hour
)

// WindowKeys names a WhatsApp contact's window keys, in the contact's shard. Contact
// is the contact's HMAC, never the address.
type WindowKeys struct {
	Seen   string // when the contact last wrote, Unix milliseconds
	Held   string // list of Outbound JSON waiting for the contact to write
	Nudged string // present while a template sent to the contact is unanswered
}

// WindowKeysFor returns the window keys of a contact in a shard.
func WindowKeysFor(prefix string, shard int, contactHash string) WindowKeys {
	tag := Tag(prefix, shard)
	return WindowKeys{Seen: tag + "wa:seen:" + contactHash, Held: tag + "wa:held:" + contactHash,
		Nudged: tag + "wa:nudged:" + contactHash}
}
