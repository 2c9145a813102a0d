package voice

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/twilio/twilio-go/twiml"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/twilio"
)

// Path is where Twilio posts a call; every action URL of the call is this path with
// its turn in the query string (which the signature covers).
const (
	Path       = "/webhooks/twilio/voice"
	StatusPath = "/webhooks/twilio/voice/status"
	// ScreenPath is what the operator hears on picking up: a key takes the call, so
	// that a voicemail or a pocket does not count as a person answering.
	ScreenPath = "/webhooks/twilio/voice/screen"
)

// Answers remembers which attempts to put a call through a person took (pressed the
// key when screened): an attempt is the call and the turn its Dial answers to.
type Answers interface {
	Take(ctx context.Context, call string, turn int) error
	Taken(ctx context.Context, call string, turn int) bool
}

// Conversation runs one turn of a call and says what to answer.
type Conversation interface {
	Turn(ctx context.Context, in channels.Inbound, turn int) (channels.Outbound, error)
}

// Speaker is how one language is spoken and heard on a call.
type Speaker struct {
	Say    string // <Say language>
	Voice  string // <Say voice>, empty for Twilio's default
	Speech string // <Gather language> for speech; empty: keypad only
	// Recorded: no text-to-speech (Say is empty); the call plays recordings only.
	Recorded bool
}

// Cache keeps the TwiML of a call's turn, so that Twilio asking again for a turn gets
// the same answer.
type Cache interface {
	Get(ctx context.Context, call string, turn int) (string, bool)
	Set(ctx context.Context, call string, turn int, twiml string)
}

// Config sets up the voice webhook.
type Config struct {
	Verifier  *twilio.Verifier
	PublicURL string
	Speakers  map[string]Speaker
	// Clip is the URL of the recording of clip in lang (<Play>), ok false when there is
	// none; nil: no recordings.
	Clip func(lang, clip string) (url string, ok bool)
	// Unsaid hears of what a call could not say: a clip a language without
	// text-to-speech has no recording of ("" for words only text-to-speech can say).
	Unsaid func(lang, clip string)
	// Operator is the number a caller who asks for a person is put through to.
	Operator string
	// Fallback is dialled when the hotline cannot run the call (Redis or the database
	// away); Guidance is what to do in danger, in a language, said before it; Again
	// offers, after the fallback call, to be put through again.
	Fallback string
	Guidance func(lang string) string
	Again    func(lang string) string
	// TurnTimeout bounds a turn (the one second): past it the caller gets the
	// fallback answer, well within Twilio's 15 s, whatever Redis is doing.
	TurnTimeout time.Duration
	Cache       Cache
	Answers     Answers
	// Ended hears that a call is over (its status callback).
	Ended  func(ctx context.Context, call string) error
	Now    func() time.Time
	Log    *slog.Logger
	Reject func(reason string)
}

// Handler answers a call's webhooks.
type Handler struct {
	conv Conversation
	cfg  Config
	// warned holds the (language, clip) pairs already logged as unsaid: once each
	// is enough to know what to record.
	warned sync.Map
}

// New returns the voice webhook over conv.
func New(conv Conversation, cfg Config) *Handler {
	if cfg.TurnTimeout <= 0 {
		cfg.TurnTimeout = time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Reject == nil {
		cfg.Reject = func(string) {}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Clip == nil {
		cfg.Clip = func(string, string) (string, bool) { return "", false }
	}
	if cfg.Unsaid == nil {
		cfg.Unsaid = func(string, string) {}
	}
	return &Handler{conv: conv, cfg: cfg}
}

var callSID = regexp.MustCompile(`^CA[0-9a-f]{32}$`)

func (h *Handler) refuse(c *gin.Context) func(status int, reason string, attrs ...any) {
	return func(status int, reason string, attrs ...any) {
		h.cfg.Reject(reason)
		h.cfg.Log.Warn("voice webhook refused", append(attrs, "reason", reason, "status", status)...)
		c.AbortWithStatus(status)
	}
}

// Call answers the incoming call and each of its turns.
func (h *Handler) Call(c *gin.Context) {
	form, ok := twilio.ReadSigned(c, h.cfg.Verifier, h.refuse(c))
	if !ok {
		return
	}
	call := form.Get("CallSid")
	// The call's first request is turn 1: a retry of it is then a turn already taken.
	turn, err := strconv.Atoi(c.DefaultQuery("t", "1"))
	if !callSID.MatchString(call) || err != nil || turn < 1 || turn > 100000 {
		h.refuse(c)(http.StatusBadRequest, "bad_fields")
		return
	}
	lang := c.Query("l")
	if _, ok := h.cfg.Speakers[lang]; !ok {
		lang = "en"
	}
	ev := c.Query("ev")
	if ev == "redial" {
		// From the fallback answer: put through again, without touching Redis.
		writeXML(c, h.degraded(lang, turn, false))
		return
	}
	// One deadline for all of it: whatever Redis does, Twilio has an answer in time.
	ctx, cancel := context.WithTimeout(c.Request.Context(), h.cfg.TurnTimeout)
	defer cancel()
	if h.cfg.Cache != nil {
		gctx, gcancel := context.WithTimeout(ctx, h.cfg.TurnTimeout/5)
		x, ok := h.cfg.Cache.Get(gctx, call, turn)
		gcancel()
		if ok {
			writeXML(c, x)
			return
		}
	}
	in := channels.Inbound{ID: call + ":" + strconv.Itoa(turn), Channel: channels.Voice, Contact: call,
		To: form.Get("To"), Caller: form.Get("From"), Received: h.cfg.Now()}
	switch ev {
	case "gather":
		in.Text = form.Get("Digits")
		if in.Text == "" {
			in.Text, in.Spoken = form.Get("SpeechResult"), form.Get("SpeechResult") != ""
		}
	case "recorded":
		// A message the caller chose to leave: its address, never its sound, here.
		if u := form.Get("RecordingUrl"); strings.HasPrefix(u, "https://") && form.Get("RecordingDuration") != "0" {
			in.Media = []channels.Media{{URL: u, ContentType: "audio/wav"}}
		}
	case "dialed":
		// Back from the person, or nobody answered: only a person who took the call
		// by its key counts (a voicemail picks up too).
		kind := channels.EventDialUnanswered
		if h.cfg.Answers != nil && h.cfg.Answers.Taken(ctx, call, turn) && form.Get("DialCallStatus") == "completed" {
			kind = channels.EventDialDone
		}
		in.Effect = &channels.EffectResult{Kind: kind, OK: true}
	}
	o, err := h.conv.Turn(ctx, in, turn)
	if err != nil {
		h.cfg.Log.Error("voice turn failed; fallback answer", "turn", turn, "err", err)
		// Back from the fallback call already: offer it again rather than dial at once.
		writeXML(c, h.degraded(lang, turn, ev == "fallback"))
		return
	}
	x, err := h.render(o, turn+1)
	if err != nil {
		h.cfg.Log.Error("render TwiML; fallback answer", "turn", turn, "err", err)
		writeXML(c, h.degraded(lang, turn, false))
		return
	}
	if h.cfg.Cache != nil {
		// Kept for Twilio asking again; not worth holding the answer for.
		go func() {
			sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			defer scancel()
			h.cfg.Cache.Set(sctx, call, turn, x)
		}()
	}
	writeXML(c, x)
}

// Screen answers the operator's leg of a call put through: a key takes the call;
// nothing (a voicemail, a missed key) hangs up that leg, and the caller hears that
// nobody answered.
func (h *Handler) Screen(c *gin.Context) {
	form, ok := twilio.ReadSigned(c, h.cfg.Verifier, h.refuse(c))
	if !ok {
		return
	}
	parent := form.Get("ParentCallSid")
	turn, err := strconv.Atoi(c.Query("t"))
	if !callSID.MatchString(parent) || err != nil || turn < 1 {
		h.refuse(c)(http.StatusBadRequest, "bad_fields")
		return
	}
	var verbs []twiml.Element
	switch {
	case c.Query("ev") == "accept" && form.Get("Digits") == "1":
		if h.cfg.Answers != nil {
			ctx, cancel := context.WithTimeout(c.Request.Context(), h.cfg.TurnTimeout)
			err := h.cfg.Answers.Take(ctx, parent, turn)
			cancel()
			if err != nil {
				// Connected all the same: a person for someone who may be in danger
				// matters more than the caller later hearing "nobody could answer".
				h.cfg.Log.Error("record a taken call", "err", err)
			}
		}
		// An empty answer connects the two.
	case c.Query("ev") == "accept":
		verbs = append(verbs, &twiml.VoiceHangup{})
	default:
		say := &twiml.VoiceSay{Message: "A call from the hotline. To take it, press 1."}
		verbs = append(verbs, &twiml.VoiceGather{Input: "dtmf", NumDigits: "1", Timeout: "8",
			Action: h.cfg.PublicURL + ScreenPath + "?ev=accept&t=" + strconv.Itoa(turn), InnerElements: []twiml.Element{say, say}},
			&twiml.VoiceHangup{})
	}
	x, err := twiml.Voice(verbs)
	if err != nil {
		h.cfg.Log.Error("render screening TwiML", "err", err)
		x = `<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>`
	}
	writeXML(c, x)
}

// Status takes a call's status callback: a call that ended closes its conversation.
func (h *Handler) Status(c *gin.Context) {
	form, ok := twilio.ReadSigned(c, h.cfg.Verifier, h.refuse(c))
	if !ok {
		return
	}
	call := form.Get("CallSid")
	if !callSID.MatchString(call) {
		h.refuse(c)(http.StatusBadRequest, "bad_fields")
		return
	}
	switch form.Get("CallStatus") {
	case "completed", "busy", "no-answer", "failed", "canceled":
		if h.cfg.Ended != nil {
			if err := h.cfg.Ended(c.Request.Context(), call); err != nil {
				h.refuse(c)(http.StatusInternalServerError, "enqueue_failed", "err", err)
				return
			}
		}
	}
	c.Status(http.StatusNoContent)
}

func writeXML(c *gin.Context, x string) {
	c.Data(http.StatusOK, "application/xml; charset=utf-8", []byte(x))
}

// action is the URL of the call's next turn.
func (h *Handler) action(turn int, lang, ev string) string {
	q := url.Values{"t": {strconv.Itoa(turn)}, "l": {lang}, "ev": {ev}}
	return h.cfg.PublicURL + Path + "?" + q.Encode()
}

// says turns utterances into verbs: the recordings of an utterance when its language
// has every one of them (<Play>), else <Say> in its language's voice. An utterance in
// a language the call cannot speak is left out, and so is one a language without
// text-to-speech has no recording of.
func (h *Handler) says(us []channels.Utterance) []twiml.Element {
	var out []twiml.Element
	for _, u := range us {
		sp, ok := h.cfg.Speakers[u.Lang]
		if !ok || u.Text == "" && len(u.Clips) == 0 {
			continue
		}
		plays, missing := h.plays(u)
		switch {
		case len(plays) > 0:
			out = append(out, plays...)
		case sp.Recorded && u.Fallback != "" && h.cfg.Speakers["en"].Say != "":
			// Better in English than not at all (the emergency numbers above all).
			en := h.cfg.Speakers["en"]
			out = append(out, &twiml.VoiceSay{Message: spoken(u.Fallback), Language: en.Say, Voice: en.Voice})
			h.unsaid(u.Lang, missing)
		case sp.Recorded:
			h.unsaid(u.Lang, missing)
		case u.Text != "":
			out = append(out, &twiml.VoiceSay{Message: spoken(u.Text), Language: sp.Say, Voice: sp.Voice})
		}
	}
	return out
}

// plays is an utterance as its recordings, one <Play> each; none when a clip has no
// recording (which one: missing), since half of it would make no sense.
func (h *Handler) plays(u channels.Utterance) (plays []twiml.Element, missing string) {
	for _, c := range u.Clips {
		url, ok := h.cfg.Clip(u.Lang, c)
		if !ok {
			return nil, c
		}
		plays = append(plays, &twiml.VoicePlay{Url: url})
	}
	return plays, ""
}

// unsaid notes what a call in lang could not say: counted each time, logged once (the
// clip's name, never what the call is about).
func (h *Handler) unsaid(lang, clip string) {
	h.cfg.Unsaid(lang, clip)
	if _, seen := h.warned.LoadOrStore(lang+"/"+clip, true); seen {
		return
	}
	if clip == "" {
		h.cfg.Log.Warn("a call left out words: its language has no text-to-speech, and only recordings of fixed messages", "lang", lang)
		return
	}
	h.cfg.Log.Warn("a call left out a message: its language has no text-to-speech and no recording of it", "lang", lang, "clip", clip)
}

// render answers a turn: what to say, and how the caller answers it.
func (h *Handler) render(o channels.Outbound, next int) (string, error) {
	lang := o.Lang
	if _, ok := h.cfg.Speakers[lang]; !ok {
		lang = "en"
	}
	says := h.says(o.Speech)
	var verbs []twiml.Element
	switch o.Expect {
	case channels.ExpectPerson:
		verbs = append(verbs, says...)
		if h.cfg.Operator == "" {
			// Nobody to put the call through to: the conversation hears it as a call
			// nobody answered (the numbers, and the menu).
			verbs = append(verbs, &twiml.VoiceRedirect{Url: h.action(next, lang, "dialed")})
			break
		}
		// Star stops the waiting: the caller hears what to do and can leave a message.
		verbs = append(verbs, &twiml.VoiceDial{Action: h.action(next, lang, "dialed"), Timeout: "30", HangupOnStar: "true",
			InnerElements: []twiml.Element{&twiml.VoiceNumber{PhoneNumber: h.cfg.Operator,
				Url: h.cfg.PublicURL + ScreenPath + "?t=" + strconv.Itoa(next)}}})
	case channels.ExpectChoice, channels.ExpectYesNo:
		// Keys work while the prompt plays; silence falls through to the Redirect.
		verbs = append(verbs, &twiml.VoiceGather{Input: "dtmf", NumDigits: "1", Timeout: "6",
			Action: h.action(next, lang, "gather"), InnerElements: says},
			&twiml.VoiceRedirect{Url: h.action(next, lang, "silence")})
	case channels.ExpectRecord:
		verbs = append(verbs, says...)
		verbs = append(verbs, &twiml.VoiceRecord{Action: h.action(next, lang, "recorded"), MaxLength: "120",
			FinishOnKey: "#", PlayBeep: "true", Timeout: "10"},
			&twiml.VoiceRedirect{Url: h.action(next, lang, "silence")})
	case channels.ExpectText:
		// Words are said; a key (don't know, skip, record, and 9, star, 0) is one press.
		g := &twiml.VoiceGather{Input: "dtmf", NumDigits: "1", Timeout: "8", Action: h.action(next, lang, "gather"), InnerElements: says}
		h.listen(g, lang)
		verbs = append(verbs, g, &twiml.VoiceRedirect{Url: h.action(next, lang, "silence")})
	case channels.ExpectNumber:
		// A date or a number: typed and ended with hash, or said.
		g := &twiml.VoiceGather{Input: "dtmf", FinishOnKey: "#", Timeout: "8",
			Action: h.action(next, lang, "gather"), InnerElements: says}
		h.listen(g, lang)
		verbs = append(verbs, g, &twiml.VoiceRedirect{Url: h.action(next, lang, "silence")})
	default:
		// Nothing asked: say it with the keypad open (9, 0 and star work everywhere),
		// then the next turn.
		verbs = append(verbs, &twiml.VoiceGather{Input: "dtmf", NumDigits: "1", Timeout: "3",
			Action: h.action(next, lang, "gather"), InnerElements: says},
			&twiml.VoiceRedirect{Url: h.action(next, lang, "silence")})
	}
	return twiml.Voice(verbs)
}

// listen adds speech to a gather, in the call's language, where Twilio recognises it.
func (h *Handler) listen(g *twiml.VoiceGather, lang string) {
	if sp := h.cfg.Speakers[lang]; sp.Speech != "" {
		g.Input, g.Language, g.SpeechTimeout = "dtmf speech", sp.Speech, "auto"
	}
}

// degraded is the answer when the hotline cannot run the call: what to do in danger,
// in the caller's language when known, and the call put through to the fallback
// number. Back from that call (again), the caller can press 1 to be put through once
// more; otherwise the turn is tried again after a pause. Never a hang-up.
func (h *Handler) degraded(lang string, turn int, again bool) string {
	sp, in := h.cfg.Speakers[lang], lang
	if sp.Recorded {
		// The guidance holds the organisation's numbers, which no recording says:
		// in English rather than not at all.
		sp, in = h.cfg.Speakers["en"], "en"
	}
	guidance := "If you are in danger, call 112 now, or 911 in the Americas."
	if h.cfg.Guidance != nil {
		guidance = h.cfg.Guidance(in)
	}
	say := &twiml.VoiceSay{Message: spoken(guidance), Language: sp.Say, Voice: sp.Voice}
	var verbs []twiml.Element
	switch {
	case h.cfg.Fallback != "" && !again:
		verbs = append(verbs, say, &twiml.VoiceDial{Number: h.cfg.Fallback, Timeout: "30", Action: h.action(turn, lang, "fallback")})
	case h.cfg.Fallback != "" && h.cfg.Again != nil:
		verbs = append(verbs, &twiml.VoiceGather{Input: "dtmf", NumDigits: "1", Timeout: "5", Action: h.action(turn, lang, "redial"),
			InnerElements: []twiml.Element{say, &twiml.VoiceSay{Message: h.cfg.Again(in), Language: sp.Say, Voice: sp.Voice}}},
			&twiml.VoiceRedirect{Url: h.action(turn, lang, "fallback")})
	default:
		verbs = append(verbs, say, &twiml.VoicePause{Length: "5"}, &twiml.VoiceRedirect{Url: h.action(turn, lang, "silence")})
	}
	x, err := twiml.Voice(verbs)
	if err != nil {
		// Static content: cannot fail; if it does, the smallest valid answer.
		return `<?xml version="1.0" encoding="UTF-8"?><Response><Say>If you are in danger, call 1 1 2 now.</Say></Response>`
	}
	return x
}

var (
	longNumber = regexp.MustCompile(`\x{2060}?\+?\d[\d ]*\d{2}`)
	controls   = regexp.MustCompile(`[\x00-\x08\x0b\x0c\x0e-\x1f]`)
)

// spoken makes a text ready for text-to-speech: numbers of three digits or more (112,
// a phone number) are read digit by digit, not as amounts ("one one two", not "one
// hundred and twelve"), except a year, which the text marks with a word joiner
// (U+2060); control characters, which make TwiML invalid, go.
func spoken(text string) string {
	text = controls.ReplaceAllString(text, "")
	return longNumber.ReplaceAllStringFunc(text, func(n string) string {
		if y, ok := strings.CutPrefix(n, "\u2060"); ok {
			// Marked as a year: said as a number.
			return y
		}
		var b strings.Builder
		for _, r := range n {
			switch {
			case r == '+':
				b.WriteString("+ ")
			case r == ' ':
				b.WriteString(", ")
			default:
				b.WriteRune(r)
				b.WriteByte(' ')
			}
		}
		return strings.TrimSpace(strings.ReplaceAll(b.String(), " ,", ","))
	})
}
