package main

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/voice"
	"github.com/hotline-org/hotline/dialogs"
	"github.com/hotline-org/hotline/locales"
)

// newVoice wires the voice IVR: the runner takes a call's turns, Redis keeps each
// turn's TwiML for Twilio's retries, the inbox hears that a call ended.
func (a *app) newVoice() (*voice.Handler, error) {
	voices, err := locales.Voices()
	if err != nil {
		return nil, err
	}
	speakers := map[string]voice.Speaker{}
	for lang, v := range voices {
		if a.bundle.Has(lang) {
			speakers[lang] = voice.Speaker{Say: v.Say, Voice: v.Voice, Speech: v.Speech, Recorded: v.Recorded}
		}
	}
	if a.cfg.Operator == "" {
		a.log.Warn("no HOTLINE_OPERATOR_NUMBER: a caller who asks for a person hears the emergency numbers instead")
	}
	if a.cfg.Fallback == "" {
		a.log.Warn("no HOTLINE_FALLBACK_NUMBER: when Redis is away a caller hears the emergency guidance and nobody is dialled")
	}
	return voice.New(a.runner, voice.Config{Verifier: a.verifier, PublicURL: a.cfg.PublicURL, Speakers: speakers,
		Clip: func(lang, clip string) (string, bool) {
			file, ok := a.clips.File(lang, clip)
			// Both names are checked: letters, digits, dots and dashes only.
			return a.cfg.PublicURL + "/audio/" + lang + "/" + file, ok
		},
		Unsaid:   func(lang, clip string) { a.metrics.unsaid.WithLabelValues(lang, clip).Inc() },
		Operator: a.cfg.Operator, Fallback: a.cfg.Fallback, Guidance: a.voiceGuidance,
		Again: func(lang string) string { return a.bundle.Localize(lang, "voice.fallback.again", nil) },
		Cache: a.voiceStore(), Answers: a.voiceStore(),
		Now: a.now, Log: a.log,
		Reject: a.rejected(channels.Voice),
		Ended: func(ctx context.Context, call string) error {
			_, err := a.inbox.Enqueue(ctx, channels.Inbound{ID: call + ":ended", Channel: channels.Voice, Contact: call,
				Received: a.now(), Effect: &channels.EffectResult{Kind: channels.EventCallEnded, OK: true}})
			return err
		}}), nil
}

// offerVoices sets the languages a call offers: those Twilio speaks, and those with
// recordings of all that the greeting, the language menu and their main menu say in
// them. A language without is not offered, and the log says which recordings it
// lacks. Leaving one out moves the keys of those after it: they are looked at again.
func offerVoices(m *dialogs.Machine, b *locales.Bundle, voices map[string]locales.Voice, clips *locales.Clips, log *slog.Logger) []string {
	var langs []string
	for _, l := range b.Languages() {
		if _, ok := voices[l]; ok {
			langs = append(langs, l)
		}
	}
	for {
		m.WithVoiceLanguages(langs)
		i := slices.IndexFunc(langs, func(l string) bool { return voices[l].Recorded && len(unrecorded(b, m, clips, l)) > 0 })
		if i < 0 {
			return langs
		}
		log.Warn("a language with only recordings is not offered on calls: recordings are missing (see locales/audio/README.md)",
			"lang", langs[i], "missing", strings.Join(unrecorded(b, m, clips, langs[i]), ", "))
		langs = slices.Delete(langs, i, i+1)
	}
}

// unrecorded lists the recordings a call in lang needs and lacks.
func unrecorded(b *locales.Bundle, m *dialogs.Machine, clips *locales.Clips, lang string) []string {
	var missing []string
	for _, c := range dialogs.VoiceClips(b, m, lang) {
		if !clips.Has(lang, c) && !slices.Contains(missing, c) {
			missing = append(missing, c)
		}
	}
	return missing
}

// handleAudio serves the recordings calls play (<Play>). Twilio fetches them without
// credentials; they are the hotline's fixed messages, nothing about a caller.
func handleAudio(clips *locales.Clips, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		r, err := clips.Open(c.Param("lang"), c.Param("file"))
		if errors.Is(err, fs.ErrNotExist) {
			c.AbortWithStatus(http.StatusNotFound)
			return
		}
		if err != nil {
			log.Error("open a recording", "err", err)
			c.AbortWithStatus(http.StatusInternalServerError)
			return
		}
		defer r.Close()
		// Twilio keeps a recording it played as long as this says: a replaced one
		// plays within ten minutes.
		c.Header("Cache-Control", "public, max-age=600")
		c.Header("Content-Type", r.Type)
		http.ServeContent(c.Writer, c.Request, c.Param("file"), r.Modified, r)
	}
}

// voiceGuidance is what a call hears when the hotline cannot run it: the emergency
// numbers, from the embedded messages and content, which need neither Redis nor the
// database.
func (a *app) voiceGuidance(lang string) string {
	lines := []string{a.bundle.Localize(lang, "voice.fallback", nil)}
	for _, n := range a.content.Current().Numbers() {
		lines = append(lines, n.LabelIn(lang)+": "+n.Number+".")
	}
	return strings.Join(lines, " ")
}

// voiceStore keeps in Redis, per call, each turn's TwiML for 15 minutes (Twilio asking
// again) and which attempts to put the call through a person took.
// A turn's TwiML can hold a report's summary and a case reference: it is sealed under
// the data keys, and the call is named by its keyed hash, like a conversation.
type voiceStore struct {
	rdb    redis.UniversalClient
	prefix string
	seal   dialogs.Sealer
	hash   func(channels.Channel, string) string
}

func (a *app) voiceStore() voiceStore {
	return voiceStore{rdb: a.rdb, prefix: a.cfg.RedisPrefix, seal: a.cfg.DataKeys, hash: a.hash}
}

func (c voiceStore) key(call string, turn int) string {
	return c.prefix + "voice:" + c.hash(channels.Voice, call) + ":" + strconv.Itoa(turn)
}

func (c voiceStore) Get(ctx context.Context, call string, turn int) (string, bool) {
	key := c.key(call, turn)
	b, err := c.rdb.Get(ctx, key).Bytes()
	if err != nil {
		return "", false
	}
	if b, err = c.seal.Open(b, []byte(key)); err != nil {
		// Sealed under a key no longer held: the turn is taken again instead.
		return "", false
	}
	return string(b), true
}

// Take marks an attempt to put a call through as taken by a person.
func (c voiceStore) Take(ctx context.Context, call string, turn int) error {
	return c.rdb.Set(ctx, c.key(call, turn)+":taken", "1", time.Hour).Err()
}

// Taken reports whether a person took that attempt.
func (c voiceStore) Taken(ctx context.Context, call string, turn int) bool {
	n, err := c.rdb.Exists(ctx, c.key(call, turn)+":taken").Result()
	return err == nil && n > 0
}

func (c voiceStore) Set(ctx context.Context, call string, turn int, x string) {
	key := c.key(call, turn)
	b, err := c.seal.Seal([]byte(x), []byte(key))
	if err != nil {
		return // a lost entry only costs a retried turn its echo
	}
	_ = c.rdb.Set(ctx, key, b, 15*time.Minute).Err()
}
