package twilio

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/hotline-org/hotline/channels"
)

// Limits on what a webhook may carry. Twilio sends at most 10 media per message;
// the others are far above anything Twilio sends and only stop abuse.
const (
	maxMedia       = 10
	maxAddress     = 64
	maxMediaURL    = 2048
	maxContentType = 255
)

// ErrInvalidMessage is wrapped by every error ParseMessage returns: the request was
// signed by Twilio but does not describe a message the hotline can take.
var ErrInvalidMessage = errors.New("twilio: invalid message")

// FieldError names the webhook parameter that was missing or malformed. It never
// carries the parameter's value, which may be a phone number or a message.
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string {
	return "twilio: parameter " + e.Field + " " + e.Problem
}

// Unwrap lets callers test for ErrInvalidMessage.
func (e *FieldError) Unwrap() error { return ErrInvalidMessage }

// ParseMessage reads an inbound message webhook's parameters into a channels.Inbound
// received at now, for channels.SMS or channels.WhatsApp.
func ParseMessage(ch channels.Channel, form url.Values, now time.Time) (channels.Inbound, error) {
	sid := form.Get("MessageSid")
	switch {
	case sid == "":
		return channels.Inbound{}, &FieldError{"MessageSid", "is missing"}
	case !isMessageSID(sid):
		return channels.Inbound{}, &FieldError{"MessageSid", "is not a message SID"}
	}
	from, err := address(ch, "From", form.Get("From"))
	if err != nil {
		return channels.Inbound{}, err
	}
	var to string
	if raw := form.Get("To"); raw != "" {
		if to, err = address(ch, "To", raw); err != nil {
			return channels.Inbound{}, err
		}
	}
	media, err := parseMedia(form)
	if err != nil {
		return channels.Inbound{}, err
	}
	in := channels.Inbound{
		ID:      sid,
		Channel: ch,
		Contact: from,
		To:      to,
		// Twilio sends UTF-8; a stray invalid byte must not make the queued JSON lie.
		Text:     strings.ToValidUTF8(form.Get("Body"), "\uFFFD"),
		Media:    media,
		Received: now,
	}
	if ch == channels.WhatsApp {
		if in.Location, err = parseLocation(form); err != nil {
			return channels.Inbound{}, err
		}
		// A tapped quick-reply button carries its text, not a Body.
		if in.Text == "" {
			in.Text = strings.ToValidUTF8(form.Get("ButtonText"), "\uFFFD")
		}
	}
	return in, nil
}

// parseLocation reads a WhatsApp location message; nil when the message has none.
func parseLocation(form url.Values) (*channels.Location, error) {
	lat, lon := form.Get("Latitude"), form.Get("Longitude")
	if lat == "" && lon == "" {
		return nil, nil
	}
	la, err1 := strconv.ParseFloat(lat, 64)
	lo, err2 := strconv.ParseFloat(lon, 64)
	switch {
	case err1 != nil || la < -90 || la > 90 || la != la:
		return nil, &FieldError{"Latitude", "is not a latitude"}
	case err2 != nil || lo < -180 || lo > 180 || lo != lo:
		return nil, &FieldError{"Longitude", "is not a longitude"}
	}
	clip := func(s string) string {
		s = strings.ToValidUTF8(strings.TrimSpace(s), "\uFFFD")
		if len(s) > 512 {
			s = s[:512]
		}
		return s
	}
	return &channels.Location{Lat: la, Lon: lo, Address: clip(form.Get("Address")), Label: clip(form.Get("Label"))}, nil
}

// address checks a From or To parameter for channel ch. Each channel has its own
// address form: SMS a bare number (E.164, a short code, or a sender name); WhatsApp
// "whatsapp:+…", kept whole, since replies go to that same address.
func address(ch channels.Channel, field, raw string) (string, error) {
	a := strings.TrimSpace(raw)
	switch {
	case a == "":
		return "", &FieldError{field, "is missing"}
	case len(a) > maxAddress:
		return "", &FieldError{field, "is too long"}
	case strings.ContainsFunc(a, unicode.IsControl):
		return "", &FieldError{field, "holds control characters"}
	}
	switch ch {
	case channels.SMS:
		// A prefixed address ("whatsapp:+…") on the SMS webhook is a sender configured
		// to the wrong URL; replying by SMS would go nowhere useful.
		if strings.Contains(a, ":") {
			return "", &FieldError{field, "is not an SMS address"}
		}
		return a, nil
	case channels.WhatsApp:
		num, ok := strings.CutPrefix(a, "whatsapp:")
		if !ok || !isE164(num) {
			return "", &FieldError{field, "is not a WhatsApp address"}
		}
		return a, nil
	default:
		return "", &FieldError{"channel", "is not handled by the Twilio adapter"}
	}
}

func parseMedia(form url.Values) ([]channels.Media, error) {
	raw := form.Get("NumMedia")
	if raw == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 || n > maxMedia {
		return nil, &FieldError{"NumMedia", "is not a count from 0 to 10"}
	}
	var media []channels.Media
	for i := range n {
		key := "MediaUrl" + strconv.Itoa(i)
		u := form.Get(key)
		if u == "" {
			return nil, &FieldError{key, "is missing"}
		}
		if len(u) > maxMediaURL {
			return nil, &FieldError{key, "is too long"}
		}
		if p, err := url.Parse(u); err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			return nil, &FieldError{key, "is not an http(s) URL"}
		}
		typeKey := "MediaContentType" + strconv.Itoa(i)
		ct := strings.TrimSpace(form.Get(typeKey))
		if len(ct) > maxContentType || strings.ContainsFunc(ct, unicode.IsControl) {
			return nil, &FieldError{typeKey, "is not a media type"}
		}
		media = append(media, channels.Media{URL: u, ContentType: ct})
	}
	return media, nil
}

// isMessageSID reports whether s looks like a Twilio message SID: SM (SMS, WhatsApp)
// or MM (MMS) and 32 hex digits. It is the dedupe key, so anything else is refused.
func isMessageSID(s string) bool {
	if len(s) != 34 || (s[:2] != "SM" && s[:2] != "MM") {
		return false
	}
	for _, c := range []byte(s[2:]) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// isE164 reports whether s is "+" and 6 to 15 digits.
func isE164(s string) bool {
	d, ok := strings.CutPrefix(s, "+")
	if !ok || len(d) < 6 || len(d) > 15 {
		return false
	}
	for _, r := range d {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
