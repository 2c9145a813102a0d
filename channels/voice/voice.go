package voice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
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
)

// Conversation runs one turn of a call and says what to answer.
type Conversation interface {
	Turn(ctx context.Context, in channels.Inbound, turn int) (channels.Outbound, error)
}

// Speaker is how one language is spoken and heard on a call.
type Speaker struct {
	Say    string // <Say language>
	Voice  string // <Say voice>, empty for Twilio's default
	Speech string // <Gather language> for speech; empty: keypad only
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
	// Operator is the number a caller who asks for a person is put through to.
	Operator string
	// Fallback is dialled when the hotline cannot run the call (Redis or the database
	// away); Guidance is what to do in danger, in a language, said before it.
	Fallback string
	Guidance func(lang string) string
	// TurnTimeout bounds a turn: Twilio must have its answer well within its 15 s.
	TurnTimeout time.Duration
	Cache       Cache
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
	turn, err := strconv.Atoi(c.DefaultQuery("t", "0"))
	if !callSID.MatchString(call) || err != nil || turn < 0 || turn > 100000 {
		h.refuse(c)(http.StatusBadRequest, "bad_fields")
		return
	}
	lang := c.Query("l")
	if _, ok := h.cfg.Speakers[lang]; !ok {
		lang = "en"
	}
	ctx := c.Request.Context()
	if h.cfg.Cache != nil {
		if x, ok := h.cfg.Cache.Get(ctx, call, turn); ok {
			writeXML(c, x)
			return
		}
	}
	in := channels.Inbound{ID: call + ":" + strconv.Itoa(turn), Channel: channels.Voice, Contact: call,
		To: form.Get("To"), Received: h.cfg.Now()}
	switch c.Query("ev") {
	case "gather":
		in.Text = form.Get("Digits")
		if in.Text == "" {
			in.Text = form.Get("SpeechResult")
		}
	case "dialed":
		// Back from the person, or nobody answered.
		kind := channels.EventDialUnanswered
		if form.Get("DialCallStatus") == "completed" {
			kind = channels.EventDialDone
		}
		in.Effect = &channels.EffectResult{Kind: kind, OK: true}
	}
	tctx, cancel := context.WithTimeout(ctx, h.cfg.TurnTimeout)
	o, err := h.conv.Turn(tctx, in, turn)
	cancel()
	if err != nil {
		h.cfg.Log.Error("voice turn failed; fallback answer", "call", call, "turn", turn, "err", err)
		writeXML(c, h.degraded(lang, turn))
		return
	}
	x, err := h.render(o, turn+1)
	if err != nil {
		h.cfg.Log.Error("render TwiML; fallback answer", "call", call, "turn", turn, "err", err)
		writeXML(c, h.degraded(lang, turn))
		return
	}
	if h.cfg.Cache != nil {
		h.cfg.Cache.Set(ctx, call, turn, x)
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

// says turns utterances into <Say> verbs, each in its language's voice; an utterance
// in a language the call cannot speak is left out.
func (h *Handler) says(us []channels.Utterance) []twiml.Element {
	var out []twiml.Element
	for _, u := range us {
		sp, ok := h.cfg.Speakers[u.Lang]
		if !ok || u.Text == "" {
			continue
		}
		out = append(out, &twiml.VoiceSay{Message: u.Text, Language: sp.Say, Voice: sp.Voice})
	}
	return out
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
			return "", errors.New("a person was asked for and no operator number is set")
		}
		verbs = append(verbs, &twiml.VoiceDial{Number: h.cfg.Operator, Action: h.action(next, lang, "dialed"), Timeout: "30"})
	case channels.ExpectChoice, channels.ExpectYesNo:
		// Keys work while the prompt plays; silence falls through to the Redirect.
		verbs = append(verbs, &twiml.VoiceGather{Input: "dtmf", NumDigits: "1", Timeout: "6",
			Action: h.action(next, lang, "gather"), InnerElements: says},
			&twiml.VoiceRedirect{Url: h.action(next, lang, "silence")})
	case channels.ExpectText:
		g := &twiml.VoiceGather{Input: "dtmf", FinishOnKey: "#", Timeout: "8", Action: h.action(next, lang, "gather"), InnerElements: says}
		if sp := h.cfg.Speakers[lang]; sp.Speech != "" {
			g.Input, g.Language, g.SpeechTimeout = "dtmf speech", sp.Speech, "auto"
		}
		verbs = append(verbs, g, &twiml.VoiceRedirect{Url: h.action(next, lang, "silence")})
	case channels.ExpectNumber:
		verbs = append(verbs, &twiml.VoiceGather{Input: "dtmf", FinishOnKey: "#", Timeout: "8",
			Action: h.action(next, lang, "gather"), InnerElements: says},
			&twiml.VoiceRedirect{Url: h.action(next, lang, "silence")})
	default:
		// Nothing asked (the hotline is waiting on something): say it, then ask again.
		verbs = append(verbs, says...)
		verbs = append(verbs, &twiml.VoicePause{Length: "1"}, &twiml.VoiceRedirect{Url: h.action(next, lang, "silence")})
	}
	return twiml.Voice(verbs)
}

// degraded is the answer when the hotline cannot run the call: what to do in danger,
// in the caller's language when known, and the call put through to the fallback
// number; without one, the guidance again after a pause and a new try, never a hang-up.
func (h *Handler) degraded(lang string, turn int) string {
	sp := h.cfg.Speakers[lang]
	guidance := "If you are in danger, call 112 now, or 911 in the Americas."
	if h.cfg.Guidance != nil {
		guidance = h.cfg.Guidance(lang)
	}
	verbs := []twiml.Element{&twiml.VoiceSay{Message: guidance, Language: sp.Say, Voice: sp.Voice}}
	if h.cfg.Fallback != "" {
		verbs = append(verbs, &twiml.VoiceDial{Number: h.cfg.Fallback, Timeout: "30"})
	}
	verbs = append(verbs, &twiml.VoicePause{Length: "5"}, &twiml.VoiceRedirect{Url: h.action(turn, lang, "silence")})
	x, err := twiml.Voice(verbs)
	if err != nil {
		// Static content: cannot fail; if it does, the smallest valid answer.
		return fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?><Response><Say>%s</Say></Response>`, "If you are in danger, call 112 now.")
	}
	return x
}
