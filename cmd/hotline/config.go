package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-org/hotline/cases/keyring"
	"github.com/hotline-org/hotline/channels/ratelimit"
	"github.com/hotline-org/hotline/channels/twilio"
	"github.com/hotline-org/hotline/handoff/notify"
)

// config is everything the hotline reads from its environment. The README's
// configuration table lists the same names and defaults.
type config struct {
	Addr        string
	PublicURL   string
	RedisURL    string
	RedisPrefix string
	RedisPool   int
	Cluster     bool
	DatabaseURL string
	DataDir     string
	Shards      int
	LogLevel    string

	// RedisFlights is how many round trips of scripts and simple commands may be
	// under way at once; what is issued meanwhile goes together. 0: no limit.
	RedisFlights int

	TwilioAccountSID string
	TwilioAuthToken  string
	TwilioSMSFrom    string
	TwilioWhatsApp   string
	// WhatsAppTemplates: language → approved template Content SID ("" the fallback).
	WhatsAppTemplates map[string]string

	TelegramToken  string
	TelegramSecret string
	TelegramAPIURL string
	TwilioAPIURL   string

	LookupKey []byte
	// DataKeys encrypts what identifies people in the case register.
	DataKeys *keyring.Ring
	// CaseRetention is how long a closed case keeps its personal data.
	CaseRetention time.Duration
	// Notify configures who hears of a distress alert, level by level.
	Notify   notify.Config
	Escalate []time.Duration
	Hours    hours
	// Operator is the number a caller who asks for a person is put through to;
	// Fallback the one a call goes to when the hotline cannot run it.
	Operator string
	Fallback string
	APIToken string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names the client
	// (the per-address limits and the login throttle count by it); none by default.
	TrustedProxies []string
	Simulator      string // on, operators, off
	LeaseTTL       time.Duration
	SpoolPath      string
	Embedded       bool
	DevKeyNote     string

	// SimulatorRate bounds the simulator's messages per client address (per operator
	// behind the console's login); LoginRate the console's login requests per address.
	SimulatorRate, LoginRate ratelimit.Rate

	// ContentDir overrides the shipped route information and emergency numbers.
	ContentDir string
	// AlertsFor is how long a route alert subscription lasts.
	AlertsFor time.Duration
	// Rates are each channel's provider limit, messages a second for the whole
	// deployment (0: none); route alerts take only what replies leave of it.
	Rates map[string]int
	// ContactLimit is how many messages one contact may send in each ContactWindow
	// before the rest get no turn of the bot (HOTLINE_CONTACT_RATE; 0: no limit).
	ContactLimit  int
	ContactWindow time.Duration
}

func loadConfig(getenv func(string) string) (config, error) {
	env := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	addr := env("HOTLINE_ADDR", ":8080")
	c := config{
		Addr:             addr,
		PublicURL:        strings.TrimRight(env("HOTLINE_PUBLIC_URL", localURL(addr)), "/"),
		RedisURL:         env("REDIS_URL", ""),
		RedisPrefix:      env("HOTLINE_REDIS_PREFIX", ""),
		Cluster:          env("REDIS_CLUSTER", "") == "1",
		DataDir:          env("HOTLINE_DATA_DIR", "./data"),
		LogLevel:         env("HOTLINE_LOG_LEVEL", "info"),
		TwilioAccountSID: env("TWILIO_ACCOUNT_SID", ""),
		TwilioAuthToken:  env("TWILIO_AUTH_TOKEN", ""),
		TwilioSMSFrom:    env("TWILIO_SMS_FROM", ""),
		TwilioWhatsApp:   env("TWILIO_WHATSAPP_FROM", ""),
		TelegramToken:    env("TELEGRAM_BOT_TOKEN", ""),
		TelegramSecret:   env("TELEGRAM_WEBHOOK_SECRET", ""),
		TelegramAPIURL:   env("TELEGRAM_API_URL", ""),
		TwilioAPIURL:     env("TWILIO_API_URL", ""),
		APIToken:         env("HOTLINE_API_TOKEN", ""),
	}
	c.DatabaseURL = env("DATABASE_URL", "sqlite:"+filepath.Join(c.DataDir, "hotline.db"))
	c.Embedded = c.RedisURL == ""
	if err := checkPublicURL(c.PublicURL); err != nil {
		return c, fmt.Errorf("HOTLINE_PUBLIC_URL: %w", err)
	}
	if c.TwilioWhatsApp != "" && !strings.HasPrefix(c.TwilioWhatsApp, "whatsapp:+") {
		return c, fmt.Errorf("TWILIO_WHATSAPP_FROM must look like whatsapp:+15551234567")
	}
	var err error
	if c.WhatsAppTemplates, err = twilio.ParseTemplates(getenv("TWILIO_WHATSAPP_TEMPLATE_SID")); err != nil {
		return c, fmt.Errorf("TWILIO_WHATSAPP_TEMPLATE_SID: %w", err)
	}
	if c.TelegramToken != "" && len(c.TelegramSecret) < 16 {
		// Without the secret anyone could post updates as Telegram: the check is never
		// skipped, so the channel does not start without it.
		return c, fmt.Errorf("TELEGRAM_WEBHOOK_SECRET must be set (at least 16 characters: A-Z, a-z, 0-9, _ and -) when TELEGRAM_BOT_TOKEN is")
	}
	if strings.ContainsAny(c.RedisPrefix, "{}") {
		return c, fmt.Errorf("HOTLINE_REDIS_PREFIX must not contain braces: they would break the Cluster hash tags")
	}
	if c.Shards, err = strconv.Atoi(env("HOTLINE_SHARDS", "16")); err != nil || c.Shards < 1 || c.Shards > 1024 {
		return c, fmt.Errorf("HOTLINE_SHARDS must be a whole number from 1 to 1024")
	}
	if c.RedisPool, err = strconv.Atoi(env("HOTLINE_REDIS_POOL", "0")); err != nil || c.RedisPool < 0 {
		return c, fmt.Errorf("HOTLINE_REDIS_POOL must be a whole number")
	}
	if c.RedisFlights, err = strconv.Atoi(env("HOTLINE_REDIS_FLIGHTS", "1")); err != nil || c.RedisFlights < 0 || c.RedisFlights > 1024 {
		return c, fmt.Errorf("HOTLINE_REDIS_FLIGHTS must be a whole number from 0 to 1024")
	}
	if c.LeaseTTL, err = time.ParseDuration(env("HOTLINE_LEASE_TTL", "10s")); err != nil || c.LeaseTTL < time.Second {
		return c, fmt.Errorf("HOTLINE_LEASE_TTL must be a duration of at least 1s")
	}
	c.Simulator = env("HOTLINE_SIMULATOR", "")
	if c.Simulator == "" {
		c.Simulator = "off"
		if c.Embedded {
			c.Simulator = "on"
		}
	}
	switch c.Simulator {
	case "on", "off", "operators":
	default:
		return c, fmt.Errorf("HOTLINE_SIMULATOR must be on, operators or off")
	}
	host, _ := os.Hostname()
	c.SpoolPath = env("HOTLINE_SPOOL", filepath.Join(c.DataDir, "spool-"+sanitize(host)+".jsonl"))
	if k := getenv("HOTLINE_LOOKUP_KEY"); k != "" {
		if c.LookupKey, err = base64.StdEncoding.DecodeString(k); err != nil || len(c.LookupKey) < 32 {
			return c, fmt.Errorf("HOTLINE_LOOKUP_KEY must be at least 32 bytes, base64-encoded")
		}
	} else {
		if !c.Embedded || !strings.HasPrefix(c.DatabaseURL, "sqlite:") {
			return c, fmt.Errorf("HOTLINE_LOOKUP_KEY is required outside the embedded mode (32 random bytes, base64: openssl rand -base64 32)")
		}
		if c.LookupKey, err = devKey(filepath.Join(c.DataDir, "lookup.key")); err != nil {
			return c, err
		}
		c.DevKeyNote = "HOTLINE_LOOKUP_KEY is not set: using a development key kept in " + filepath.Join(c.DataDir, "lookup.key")
	}
	spec := getenv("HOTLINE_DATA_KEYS")
	if spec == "" {
		if !c.Embedded || !strings.HasPrefix(c.DatabaseURL, "sqlite:") {
			return c, fmt.Errorf("HOTLINE_DATA_KEYS is required outside the embedded mode (id:base64key,…: go run ./cmd/hotline keys new k1)")
		}
		path := filepath.Join(c.DataDir, "data.keys")
		if spec, err = devDataKeys(path); err != nil {
			return c, err
		}
		c.DevKeyNote += "; HOTLINE_DATA_KEYS is not set: cases are encrypted with a development key kept in " + path
	}
	if c.DataKeys, err = keyring.Parse(spec); err != nil {
		return c, fmt.Errorf("HOTLINE_DATA_KEYS: %w", err)
	}
	if c.CaseRetention, err = parseDays(env("HOTLINE_RETENTION", "730d")); err != nil || c.CaseRetention < 24*time.Hour {
		return c, fmt.Errorf("HOTLINE_RETENTION must be a number of days (730d) or a duration of at least a day")
	}
	c.DevKeyNote = strings.TrimPrefix(c.DevKeyNote, "; ")
	list := func(k string) []string {
		var out []string
		for _, v := range strings.Split(getenv(k), ",") {
			if v = strings.TrimSpace(v); v != "" {
				out = append(out, v)
			}
		}
		return out
	}
	c.Notify = notify.Config{WebhookURL: env("HOTLINE_NOTIFY_WEBHOOK_URL", ""), WebhookSecret: env("HOTLINE_NOTIFY_WEBHOOK_SECRET", ""),
		TelegramToken: c.TelegramToken, TelegramAPIURL: c.TelegramAPIURL, TelegramChat: env("HOTLINE_NOTIFY_TELEGRAM_CHAT", ""),
		TwilioAccountSID: c.TwilioAccountSID, TwilioAuthToken: c.TwilioAuthToken, TwilioAPIURL: c.TwilioAPIURL, SMSFrom: c.TwilioSMSFrom,
		DutySMS: list("HOTLINE_NOTIFY_SMS"), BackupSMS: list("HOTLINE_BACKUP_SMS"), SupervisorSMS: list("HOTLINE_SUPERVISOR_SMS"),
		ConsoleURL: c.PublicURL + "/console"}
	c.TrustedProxies = list("HOTLINE_TRUSTED_PROXIES")
	if err := checkProxies(c.TrustedProxies); err != nil {
		return c, fmt.Errorf("HOTLINE_TRUSTED_PROXIES: %w", err)
	}
	if c.SimulatorRate, err = ratelimit.ParseRate(env("HOTLINE_SIMULATOR_RATE", "30/1m")); err != nil {
		return c, fmt.Errorf("HOTLINE_SIMULATOR_RATE: %w", err)
	}
	if c.LoginRate, err = ratelimit.ParseRate(env("HOTLINE_LOGIN_RATE", "60/10m")); err != nil {
		return c, fmt.Errorf("HOTLINE_LOGIN_RATE: %w", err)
	}
	for _, v := range strings.Split(env("HOTLINE_ESCALATE_AFTER", "2m,5m"), ",") {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d <= 0 || len(c.Escalate) > 0 && d <= c.Escalate[len(c.Escalate)-1] {
			return c, fmt.Errorf("HOTLINE_ESCALATE_AFTER must be increasing durations, like 2m,5m")
		}
		c.Escalate = append(c.Escalate, d)
	}
	if len(c.Escalate) > 2 {
		return c, fmt.Errorf("HOTLINE_ESCALATE_AFTER has one delay per level after duty: backup, then supervisors (like 2m,5m)")
	}
	// A folder that is not there is refused when the content loads, loudly, and the
	// shipped content serves: the hotline still starts.
	c.ContentDir = env("HOTLINE_CONTENT_DIR", "")
	c.Operator, c.Fallback = env("HOTLINE_OPERATOR_NUMBER", ""), env("HOTLINE_FALLBACK_NUMBER", "")
	for name, v := range map[string]string{"HOTLINE_OPERATOR_NUMBER": c.Operator, "HOTLINE_FALLBACK_NUMBER": c.Fallback} {
		if v != "" && !e164.MatchString(v) {
			return c, fmt.Errorf("%s must be an international number like +390612345678", name)
		}
	}
	if c.AlertsFor, err = parseDays(env("HOTLINE_ALERTS_FOR", "90d")); err != nil || c.AlertsFor < 24*time.Hour || c.AlertsFor > 366*24*time.Hour {
		return c, fmt.Errorf("HOTLINE_ALERTS_FOR must be a number of days from 1d to 366d (90d)")
	}
	c.Rates = map[string]int{}
	for ch, def := range map[string]string{"SMS": "10", "WHATSAPP": "20", "TELEGRAM": "30"} {
		n, err := strconv.Atoi(env("HOTLINE_RATE_"+ch, def))
		if err != nil || n < 0 {
			return c, fmt.Errorf("HOTLINE_RATE_%s must be a whole number of messages a second (0 for no limit)", ch)
		}
		c.Rates[strings.ToLower(ch)] = n
	}
	if c.ContactLimit, c.ContactWindow, err = parseContactRate(env("HOTLINE_CONTACT_RATE", "30/1m")); err != nil {
		return c, fmt.Errorf("HOTLINE_CONTACT_RATE: %w", err)
	}
	if c.Hours, err = parseHours(env("HOTLINE_HOURS", "Mon-Sun 00:00-24:00 UTC")); err != nil {
		return c, fmt.Errorf("HOTLINE_HOURS: %w", err)
	}
	return c, nil
}

// checkProxies refuses what gin would not read, and a range that holds every
// address: trusting all of them lets any client name its own address and escape
// every per-address limit.
func checkProxies(proxies []string) error {
	for _, p := range proxies {
		bits := 1
		if strings.Contains(p, "/") {
			pfx, err := netip.ParsePrefix(p)
			if err != nil {
				return fmt.Errorf("%q is not an address or a CIDR like 10.0.0.0/8", p)
			}
			bits = pfx.Bits()
		} else if _, err := netip.ParseAddr(p); err != nil {
			return fmt.Errorf("%q is not an address or a CIDR like 10.0.0.0/8", p)
		}
		if bits == 0 {
			return fmt.Errorf("%q trusts every address: any client could then choose its own; name the proxies", p)
		}
	}
	return nil
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// hours are when operators are on duty: days of the week and a time range in a zone.
type hours struct {
	from, to   time.Weekday
	start, end int // minutes after midnight; end may be 24*60
	loc        *time.Location
}

var weekdays = map[string]time.Weekday{"Sun": time.Sunday, "Mon": time.Monday, "Tue": time.Tuesday,
	"Wed": time.Wednesday, "Thu": time.Thursday, "Fri": time.Friday, "Sat": time.Saturday}

// parseHours reads "Mon-Fri 08:00-20:00 Europe/Rome" (the zone defaults to UTC).
func parseHours(s string) (hours, error) {
	f := strings.Fields(s)
	if len(f) < 2 || len(f) > 3 {
		return hours{}, fmt.Errorf("want like Mon-Sun 00:00-24:00 UTC, got %q", s)
	}
	var h hours
	d1, d2, ok := strings.Cut(f[0], "-")
	a, ok1 := weekdays[d1]
	b, ok2 := weekdays[d2]
	if !ok || !ok1 || !ok2 {
		return hours{}, fmt.Errorf("days %q: want like Mon-Fri", f[0])
	}
	h.from, h.to = a, b
	t1, t2, ok := strings.Cut(f[1], "-")
	mins := func(v string) (int, bool) {
		hh, mm, ok := strings.Cut(v, ":")
		x, e1 := strconv.Atoi(hh)
		y, e2 := strconv.Atoi(mm)
		return x*60 + y, ok && e1 == nil && e2 == nil && x >= 0 && x <= 24 && y >= 0 && y < 60 && x*60+y <= 24*60
	}
	var ok3, ok4 bool
	h.start, ok3 = mins(t1)
	h.end, ok4 = mins(t2)
	if !ok || !ok3 || !ok4 || h.end <= h.start {
		return hours{}, fmt.Errorf("times %q: want like 08:00-20:00", f[1])
	}
	h.loc = time.UTC
	if len(f) == 3 {
		loc, err := time.LoadLocation(f[2])
		if err != nil {
			return hours{}, fmt.Errorf("zone %q: %w", f[2], err)
		}
		h.loc = loc
	}
	return h, nil
}

// Open reports whether t falls in the hours.
func (h hours) Open(t time.Time) bool {
	if h.loc == nil {
		return true
	}
	t = t.In(h.loc)
	d := t.Weekday()
	inDays := h.from <= h.to && d >= h.from && d <= h.to || h.from > h.to && (d >= h.from || d <= h.to)
	m := t.Hour()*60 + t.Minute()
	return inDays && m >= h.start && m < h.end
}

// localURL is the public URL of a hotline tried on this machine: localhost at the
// port it listens on (8080 when that port is chosen by the system).
func localURL(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" || port == "0" {
		port = "8080"
	}
	return "http://localhost:" + port
}

// checkPublicURL refuses a public URL that Twilio's signatures could never match, so
// that a typo stops the start instead of answering every webhook 403: the hotline
// signs and checks "public URL + path", so it must be an absolute http(s) address
// with a host and nothing after its path.
func checkPublicURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("not a URL: %w", err)
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("%q must start with https:// (http:// for a local test)", s)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("%q has no host", s)
	case u.RawQuery != "" || u.Fragment != "" || strings.Contains(s, "?") || strings.Contains(s, "#"):
		return fmt.Errorf("%q must not carry a query or a fragment", s)
	case u.User != nil:
		return fmt.Errorf("%q must not carry a user or password", s)
	}
	return nil
}

// parseContactRate reads HOTLINE_CONTACT_RATE as the other rates read ("30/1m": 30
// messages in each minute; "off"), and "0" as off too.
func parseContactRate(s string) (int, time.Duration, error) {
	if s == "0" {
		return 0, 0, nil
	}
	r, err := ratelimit.ParseRate(s)
	return r.N, r.Per, err
}

// parseDays reads "730d" as days, or any Go duration.
func parseDays(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad number of days %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// devDataKeys reads, or creates once, the embedded mode's data key ring file.
func devDataKeys(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	spec, err := keyring.Generate("dev1")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("create data dir: %w", err)
	}
	if err := os.WriteFile(path, []byte(spec+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write development data keys: %w", err)
	}
	return spec, nil
}

// devKey reads, or creates once, a random key file for the embedded mode.
func devKey(path string) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil {
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(k) < 32 {
			return nil, fmt.Errorf("development key %s is damaged: remove it to make a new one", path)
		}
		return k, nil
	}
	k := make([]byte, 32)
	rand.Read(k)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(k)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write development key: %w", err)
	}
	return k, nil
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, s)
}
