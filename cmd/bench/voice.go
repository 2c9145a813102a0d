package main

import (
	"context"
	"database/sql"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // the register's SQLite file, read after the run

	"github.com/hotline-org/hotline/cases/ref"
	"github.com/hotline-org/hotline/channels/twilio/twiliotest"
	voicech "github.com/hotline-org/hotline/channels/voice"
	"github.com/hotline-org/hotline/dialogs"
)

const (
	// maxVoiceCallers bounds -voice.
	maxVoiceCallers = 2000
	// The numbers the hotline puts calls through to: set so that a degraded answer (a
	// Dial to the fallback number) can be told from any other.
	voiceOperator = "+15005550500"
	voiceFallback = "+15005550911"
	// twilioPatience is how long Twilio waits for a call's webhook before it gives up.
	twilioPatience = 15 * time.Second
	// turnBudget is the hotline's time for a call's turn (voice.Config.TurnTimeout,
	// left at its default): past it the caller gets the degraded answer.
	turnBudget = time.Second
	// maxWaitTurns is how many "one moment" answers a caller sits through after the
	// save before the missing reference counts as an error.
	maxWaitTurns = 10
	// callerNumbers starts every call's number (a UK mobile); 8 digits follow, the
	// call's count: each call is another family, and none calls back to an unfinished
	// report (which a call given up on leaves, and which changes how a call starts).
	callerNumbers = "+4477"
)

// spelledRef is a case reference read out on a call: "H, K, 7. Q, M, 4. X, T, N, 9"
// (as cmd/hotline's call scripts find it).
var spelledRef = regexp.MustCompile(`([2-9A-Z]), ([2-9A-Z]), ([2-9A-Z])\. ([2-9A-Z]), ([2-9A-Z]), ([2-9A-Z])\. ([2-9A-Z]), ([2-9A-Z]), ([2-9A-Z]), ([2-9A-Z])`)

// reqKind is which of a call's requests a sample is.
type reqKind uint8

const (
	reqStart  reqKind = iota // the call arriving
	reqGather                // keys pressed or words said into the last <Gather>
	reqSave                  // 1 at the summary: the turn that waits for the reference
	reqWait                  // after "one moment": the <Redirect> followed
)

// voiceErr is how a request or a save went wrong; 0 when it did not.
type voiceErr uint8

const (
	errNone      voiceErr = iota
	errTransport          // no answer (refused, reset, past Twilio's 15 s)
	errStatus             // an HTTP status other than 200 (204 for the status callback)
	errTwiML              // not TwiML, or without the verb the call needs next
	errNoRef              // the save never carried a reference
	errBadRef             // a reference that fails its check, or changed within a call
)

// voiceSample is one request a call waited for (TwiML answered).
type voiceSample struct {
	start    time.Time
	took     time.Duration // request sent → whole body read
	kind     reqKind
	status   int
	degraded bool // the fallback answer: guidance and a Dial to the fallback number
	err      voiceErr
}

// saveSample is one save turn, and what followed it until the reference was heard.
type saveSample struct {
	start  time.Time
	took   time.Duration // the save request itself
	atOnce bool          // its answer spelled the reference
	waits  int           // "one moment" answers before the reference
	toRef  time.Duration // save sent → reference heard (waits included)
	err    voiceErr      // errNoRef, errBadRef, or the save request's own failure
	degr   bool          // the save was answered with the fallback
}

// statusSample is one status callback (the call's end).
type statusSample struct {
	start time.Time
	took  time.Duration
	err   voiceErr
}

// voiceLoad is what every caller shares.
type voiceLoad struct {
	client     *http.Client
	base       string // the hotline, http://127.0.0.1:port
	authToken  string
	accountSID string
	runID      uint32
	fields     []string // the report's questions, in order
	calls      atomic.Int64
}

// newVoiceLoad checks that the script has an answer for each of the report's questions.
func newVoiceLoad(client *http.Client, base, authToken, accountSID string, runID uint32) (*voiceLoad, error) {
	fields := dialogs.ReportFields()
	for _, f := range fields {
		if _, ok := reportAnswer(f, 0); !ok {
			return nil, fmt.Errorf("the report asks %q, which the voice benchmark has no answer for: add one to reportAnswer in cmd/bench/voice.go", f)
		}
	}
	return &voiceLoad{client: client, base: base, authToken: authToken, accountSID: accountSID, runID: runID, fields: fields}, nil
}

// callerInput is what a caller does at one turn: keys, or words as speech recognition
// hands them to Twilio.
type callerInput struct {
	digits, speech string
}

func keys(d string) callerInput   { return callerInput{digits: d} }
func speech(s string) callerInput { return callerInput{speech: s} }

var (
	firstNames  = []string{"Amina", "Ibrahim", "Fatima", "Yusuf", "Mariam", "Abdi", "Khadija", "Omar", "Halima", "Musa", "Aisha", "Idris", "Zainab", "Bilal", "Hawa", "Tesfay", "Saba", "Dawit", "Selam", "Moussa"}
	middleNames = []string{"Ali", "Hassan", "Mohamed", "Ahmed", "Osman", "Abdullahi", "Said", "Adam", "Ismail", "Suleiman", "Mahmoud", "Hussein", "Jama", "Kebede", "Haile", "Diallo", "Traore", "Keita", "Camara", "Bah"}
	familyNames = []string{"Yusuf", "Abdirahman", "Tesfaye", "Gebremedhin", "Kamara", "Sesay", "Conteh", "Mansaray", "Barry", "Sow", "Ndiaye", "Faye", "Okafor", "Eze", "Mensah", "Osei", "Nour", "Haddad", "Saleh", "Karimi"}
	relations   = []string{"His mother.", "Her brother.", "His wife.", "Her cousin.", "A friend from home.", "His father."}
	nations     = []string{"Sudanese", "Eritrean", "Somali", "Guinean", "Malian", "Syrian", "Afghan", "Nigerian"}
	places      = []string{"Tripoli, Libya.", "Sfax, Tunisia.", "Agadez, Niger.", "Zuwara.", "Oujda, Morocco."}
)

// personName is a different full name for each of the first 8,000 calls, so that the
// register does not link thousands of reports as duplicates of one person.
func personName(k int) string {
	return firstNames[k%20] + " " + middleNames[(k/20)%20] + " " + familyNames[(k/400)%20]
}

// reportAnswer is what the k-th call answers to a question of the report: words said
// for most, keys for dates, numbers and choices, 2 (skip) at a few.
func reportAnswer(field string, k int) (callerInput, bool) {
	switch field {
	case "e_name":
		return speech(firstNames[(k+7)%20] + " " + familyNames[(k+3)%20]), true
	case "e_relationship":
		return speech(relations[k%len(relations)]), true
	case "e_safe_contact":
		return speech("Yes, in the evening."), true
	case "m_names":
		return speech(personName(k)), true
	case "m_other_names":
		return keys("2"), true
	case "m_sex":
		return keys("1"), true
	case "m_birth":
		return keys(fmt.Sprintf("%02d%02d%d", 1+k%28, 1+(k/28)%12, 1970+(k/336)%35)), true
	case "m_nationality":
		return speech(nations[k%len(nations)]), true
	case "m_languages":
		return speech("Arabic and a little English."), true
	case "m_description":
		return speech("Tall and thin, a scar on his left hand."), true
	case "m_clothing":
		return keys("2"), true
	case "m_phones":
		return keys(fmt.Sprintf("00249912%06d", k%1000000)), true
	case "j_last_contact_date":
		return keys("05032024"), true
	case "j_last_contact_place":
		return speech(places[k%len(places)]), true
	case "j_contact_how":
		return speech("A WhatsApp voice message."), true
	case "j_route":
		return speech("Niger and Libya, then the sea."), true
	case "j_departure_place":
		return speech("Khartoum"), true
	case "j_departure_date":
		return keys("01112023"), true
	case "j_destination":
		return speech("Italy"), true
	case "j_companions":
		return keys("2"), true
	case "j_circumstances":
		return keys("1"), true
	}
	return callerInput{}, false
}

// script is the k-th call up to the summary: English, report, consent, share, then
// each question's answer. The save (1 at the summary) follows.
func (v *voiceLoad) script(k int) []callerInput {
	in := []callerInput{keys("1"), keys("2"), keys("1"), keys("1")}
	for _, f := range v.fields {
		a, _ := reportAnswer(f, k)
		in = append(in, a)
	}
	return in
}

// requestsPerCall is how many requests a call makes when all goes well: the call, the
// script, the save, the status callback.
func (v *voiceLoad) requestsPerCall() int { return 1 + 4 + len(v.fields) + 1 + 1 }

// voiceCaller is one simulated phone. Only its goroutine uses it.
type voiceCaller struct {
	v          *voiceLoad
	end        time.Time // of the measured window: no turn starts after it
	transcript *strings.Builder

	// the call in progress
	sid    string
	number string
	doc    twimlNode
	ref    string

	samples   []voiceSample
	saves     []saveSample
	statuses  []statusSample
	refs      []string // every reference heard, compact
	completed []time.Time
	abandoned int // calls cut off by the end of the run
	failed    int // calls given up on an error or a degraded answer
}

func (v *voiceLoad) newCaller(end time.Time) *voiceCaller {
	return &voiceCaller{v: v, end: end}
}

// answer is the hotline's answer to one request.
type answer struct {
	body     string
	doc      twimlNode
	status   int
	took     time.Duration
	degraded bool
	err      voiceErr
	cause    error
}

// request posts one signed request of the call to u (a public URL, as the TwiML gives
// it) and reads the TwiML answered.
func (c *voiceCaller) request(ctx context.Context, u string, form url.Values) answer {
	form.Set("CallSid", c.sid)
	form.Set("AccountSid", c.v.accountSID)
	form.Set("From", c.number)
	form.Set("Caller", c.number)
	form.Set("To", hotlineNumber)
	form.Set("Called", hotlineNumber)
	form.Set("Direction", "inbound")
	form.Set("ApiVersion", "2010-04-01")
	a := answer{}
	rest, ok := strings.CutPrefix(u, publicURL)
	if !ok {
		a.err, a.cause = errTwiML, fmt.Errorf("an action URL outside the hotline: %q", u)
		return a
	}
	status, body, took, err := c.v.post(ctx, rest, form)
	a.status, a.body, a.took = status, body, took
	switch {
	case err != nil:
		a.err, a.cause = errTransport, err
	case status != http.StatusOK:
		a.err, a.cause = errStatus, fmt.Errorf("status %d", status)
	default:
		if err := xml.Unmarshal([]byte(body), &a.doc); err != nil || a.doc.Name != "Response" {
			a.err, a.cause = errTwiML, fmt.Errorf("not TwiML: %.200q", body)
		}
		// The fallback answer: what to do in danger, and the call put through to the
		// fallback number (a <Dial> with the number as its text; the operator is a
		// <Number> inside one).
		if d, ok := a.doc.find("Dial"); ok && strings.TrimSpace(d.Text) == voiceFallback {
			a.degraded = true
		}
	}
	return a
}

// post sends a form signed as Twilio signs it for the public URL of path.
func (v *voiceLoad) post(ctx context.Context, path string, form url.Values) (int, string, time.Duration, error) {
	sig := twiliotest.Sign(v.authToken, publicURL+path, form)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, "", 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(twiliotest.SignatureHeader, sig)
	start := time.Now()
	resp, err := v.client.Do(req)
	if err != nil {
		return 0, "", time.Since(start), err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	took := time.Since(start)
	return resp.StatusCode, string(body), took, err
}

// turn makes one request the call waits for, records it, and keeps its TwiML for the
// next; ok is false when the call cannot go on (an error, or the fallback answer).
func (c *voiceCaller) turn(ctx context.Context, kind reqKind, u string, form url.Values, said string) (answer, bool) {
	start := time.Now()
	a := c.request(ctx, u, form)
	if ctx.Err() != nil {
		return a, false // the run was interrupted: nothing to record
	}
	c.samples = append(c.samples, voiceSample{start: start, took: a.took, kind: kind, status: a.status, degraded: a.degraded, err: a.err})
	if c.transcript != nil {
		fmt.Fprintf(c.transcript, "> %s\n", said)
		if a.err != errNone {
			fmt.Fprintf(c.transcript, "< error: %v\n", a.cause)
		} else {
			for _, line := range a.doc.says() {
				fmt.Fprintf(c.transcript, "<   %s\n", line)
			}
		}
	}
	if a.err != errNone || a.degraded {
		return a, false
	}
	c.doc = a.doc
	return a, true
}

// gather answers the last <Gather> with keys or words.
func (c *voiceCaller) gather(ctx context.Context, kind reqKind, in callerInput) (answer, bool) {
	g, ok := c.doc.find("Gather")
	if !ok || g.Attrs["action"] == "" {
		return c.offScript("no <Gather> to answer")
	}
	form := url.Values{"CallStatus": {"in-progress"}}
	said := in.digits
	if in.speech != "" {
		form.Set("SpeechResult", in.speech)
		form.Set("Confidence", "0.91")
		said = "say " + in.speech
	} else {
		form.Set("Digits", in.digits)
		if g.Attrs["finishOnKey"] == "#" {
			form.Set("FinishedOnKey", "#")
		}
	}
	return c.turn(ctx, kind, g.Attrs["action"], form, said)
}

// silence lets the last <Gather> time out, as Twilio does (after its timeout), and
// follows the <Redirect>.
func (c *voiceCaller) silence(ctx context.Context, kind reqKind) (answer, bool) {
	r, ok := c.doc.find("Redirect")
	if !ok || r.Text == "" {
		return c.offScript("no <Redirect> to follow")
	}
	wait := 3 * time.Second
	if g, ok := c.doc.find("Gather"); ok {
		if s, err := strconv.Atoi(g.Attrs["timeout"]); err == nil && s >= 0 && s <= 60 {
			wait = time.Duration(s) * time.Second
		}
	}
	select {
	case <-time.After(wait):
	case <-ctx.Done():
		return answer{}, false
	}
	return c.turn(ctx, kind, r.Text, url.Values{"CallStatus": {"in-progress"}}, "silence")
}

// offScript records an answer the call cannot follow (the TwiML lacks the verb the
// script needs next) against the request that brought it.
func (c *voiceCaller) offScript(why string) (answer, bool) {
	if n := len(c.samples); n > 0 && c.samples[n-1].err == errNone {
		c.samples[n-1].err = errTwiML
	}
	if c.transcript != nil {
		fmt.Fprintf(c.transcript, "! %s\n", why)
	}
	return answer{err: errTwiML, cause: errors.New(why)}, false
}

// call plays one whole call, hangs up, and says whether it completed (the reference
// heard). A call still going at the end of the run is cut off between two turns.
func (c *voiceCaller) call(ctx context.Context) (completed bool) {
	k := int(c.v.calls.Add(1) - 1)
	c.sid = fmt.Sprintf("CA%08x%024x", c.v.runID, k)
	c.number = fmt.Sprintf("%s%08d", callerNumbers, k%100_000_000)
	c.ref = ""
	defer func() {
		if ctx.Err() == nil {
			c.hangUp(ctx, completed)
		}
	}()
	if _, ok := c.turn(ctx, reqStart, publicURL+voicech.Path, url.Values{"CallStatus": {"ringing"}}, "call"); !ok {
		c.failed++
		return false
	}
	for _, in := range c.v.script(k) {
		if !time.Now().Before(c.end) {
			c.abandoned++
			return false
		}
		if _, ok := c.gather(ctx, reqGather, in); !ok {
			c.failed++
			return false
		}
	}
	if !time.Now().Before(c.end) {
		c.abandoned++
		return false
	}
	// The save: 1 at the summary. The hotline waits, within the turn's budget, for the
	// reference; when it is late the caller hears "one moment" and the next turn
	// (after the Gather's timeout) says it.
	s := saveSample{start: time.Now()}
	a, ok := c.gather(ctx, reqSave, keys("1"))
	s.took, s.degr = a.took, a.degraded
	for ok {
		if r := spelledRef.FindStringSubmatch(a.body); r != nil {
			s.toRef = time.Since(s.start)
			s.atOnce = s.waits == 0
			compact := strings.Join(r[1:], "")
			if parsed, err := ref.Parse(compact); err != nil || parsed.Compact() != compact {
				s.err = errBadRef
				ok = false
				break
			}
			c.ref = compact
			c.refs = append(c.refs, compact)
			break
		}
		if s.waits == maxWaitTurns {
			s.err, ok = errNoRef, false
			break
		}
		s.waits++
		a, ok = c.silence(ctx, reqWait)
	}
	if ctx.Err() != nil {
		return false
	}
	s.degr = s.degr || a.degraded
	if !ok && s.err == errNone {
		s.err = a.err
		if s.err == errNone && !a.degraded {
			s.err = errNoRef
		}
	}
	c.saves = append(c.saves, s)
	if !ok {
		c.failed++
		return false
	}
	return true
}

// hangUp posts the call's status callback, as Twilio does when a call ends.
func (c *voiceCaller) hangUp(ctx context.Context, completed bool) {
	form := url.Values{"CallSid": {c.sid}, "AccountSid": {c.v.accountSID}, "From": {c.number}, "To": {hotlineNumber},
		"Direction": {"inbound"}, "ApiVersion": {"2010-04-01"}, "CallStatus": {"completed"}, "CallDuration": {"312"}}
	start := time.Now()
	status, _, took, err := c.v.post(ctx, voicech.StatusPath, form)
	if ctx.Err() != nil {
		return
	}
	s := statusSample{start: start, took: took}
	switch {
	case err != nil:
		s.err = errTransport
	case status != http.StatusNoContent:
		s.err = errStatus
	}
	c.statuses = append(c.statuses, s)
	if completed && s.err == errNone {
		c.completed = append(c.completed, time.Now())
	}
}

// voiceResult is what a run of calls measured.
type voiceResult struct {
	callers  int
	duration time.Duration
	from     time.Time
	end      time.Time
	samples  []voiceSample  // every request a call waited for, the whole run
	saves    []saveSample   // every save, the whole run
	statuses []statusSample // every status callback, the whole run
	refs     []string       // every reference heard
	complete []time.Time    // when each completed call ended
	aband    int
	failed   int
	cpu      cpuUse
}

func (r *voiceResult) inWindow(t time.Time) bool { return !t.Before(r.from) && t.Before(r.end) }

// completedInWindow counts the calls that ended, completed, in the measured window.
func (r *voiceResult) completedInWindow() int {
	n := 0
	for _, t := range r.complete {
		if !t.Before(r.from) && !t.After(r.end) {
			n++
		}
	}
	return n
}

// answered reports whether the hotline answered any request in the window with TwiML.
func (r *voiceResult) answered() bool {
	for _, s := range r.samples {
		if r.inWindow(s.start) && s.status == http.StatusOK {
			return true
		}
	}
	return false
}

// run has n callers each play calls back to back, for warmup+duration.
func (v *voiceLoad) run(ctx context.Context, n int, warmup, duration time.Duration, probe func() cpuSnap) *voiceResult {
	begin := time.Now()
	from, end := begin.Add(warmup), begin.Add(warmup+duration)
	cpuDone := new(load).measureCPU(ctx, probe, from, end)
	cs := make([]*voiceCaller, n)
	var wg sync.WaitGroup
	for i := range cs {
		c := v.newCaller(end)
		cs[i] = c
		wg.Go(func() {
			for time.Now().Before(end) && ctx.Err() == nil {
				if !c.call(ctx) && len(c.samples) > 0 && c.samples[len(c.samples)-1].err == errTransport {
					// The hotline is not answering: no tight loop of failed calls.
					select {
					case <-time.After(100 * time.Millisecond):
					case <-ctx.Done():
					}
				}
			}
		})
	}
	wg.Wait()
	res := &voiceResult{callers: n, duration: duration, from: from, end: end, cpu: <-cpuDone}
	for _, c := range cs {
		res.samples = append(res.samples, c.samples...)
		res.saves = append(res.saves, c.saves...)
		res.statuses = append(res.statuses, c.statuses...)
		res.refs = append(res.refs, c.refs...)
		res.complete = append(res.complete, c.completed...)
		res.aband += c.abandoned
		res.failed += c.failed
	}
	return res
}

// check plays one call by itself before any load, and fails with its transcript when
// it does not end with the reference: the script no longer fits the hotline.
func (v *voiceLoad) check(ctx context.Context) (string, error) {
	far := time.Now().Add(24 * time.Hour)
	c := v.newCaller(far)
	c.transcript = &strings.Builder{}
	if !c.call(ctx) {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("a call by itself did not end with a case reference; what it heard:\n%s", c.transcript.String())
	}
	n := 0
	for _, s := range c.samples {
		if s.kind != reqWait {
			n++
		}
	}
	if n != v.requestsPerCall()-1 { // the status callback is not one
		return "", fmt.Errorf("a call by itself took %d turns, want %d; what it heard:\n%s", n, v.requestsPerCall()-1, c.transcript.String())
	}
	return c.ref, nil
}

// registered counts which of refs the register (the hotline's SQLite file) holds,
// waiting up to 30 s for its writer to catch up: the reference is told before the
// report is written.
func registered(ctx context.Context, dsn string, refs []string) (found int, err error) {
	path, ok := strings.CutPrefix(dsn, "sqlite:")
	if !ok {
		return 0, fmt.Errorf("not an SQLite database: %q", dsn)
	}
	if _, err := os.Stat(path); err != nil {
		return 0, err
	}
	db, err := sql.Open("sqlite", path+"?_busy_timeout=5000")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	want := map[string]bool{}
	for _, r := range refs {
		want[r] = true
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		found = 0
		rows, err := db.QueryContext(ctx, `SELECT ref FROM cases`)
		if err != nil {
			return 0, err
		}
		for rows.Next() {
			var r string
			if err := rows.Scan(&r); err != nil {
				rows.Close()
				return 0, err
			}
			if want[r] {
				found++
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, err
		}
		if found >= len(want) || time.Now().After(deadline) {
			return found, nil
		}
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			return found, ctx.Err()
		}
	}
}

// twimlNode is a TwiML element, parsed.
type twimlNode struct {
	Name  string
	Attrs map[string]string
	Text  string
	Kids  []twimlNode
}

func (n *twimlNode) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	n.Name = start.Name.Local
	n.Attrs = map[string]string{}
	for _, a := range start.Attr {
		n.Attrs[a.Name.Local] = a.Value
	}
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch tt := tok.(type) {
		case xml.StartElement:
			var k twimlNode
			if err := k.UnmarshalXML(d, tt); err != nil {
				return err
			}
			n.Kids = append(n.Kids, k)
		case xml.CharData:
			n.Text += string(tt)
		case xml.EndElement:
			n.Text = strings.TrimSpace(n.Text)
			return nil
		}
	}
}

// find returns the first element called name, depth first.
func (n twimlNode) find(name string) (twimlNode, bool) {
	if n.Name == name {
		return n, true
	}
	for _, k := range n.Kids {
		if f, ok := k.find(name); ok {
			return f, true
		}
	}
	return twimlNode{}, false
}

// says lists what the answer says and does, one verb a line, for a transcript.
func (n twimlNode) says() []string {
	var out []string
	var walk func(twimlNode)
	walk = func(n twimlNode) {
		switch n.Name {
		case "Say":
			out = append(out, n.Text)
		case "Response", "Gather":
		default:
			out = append(out, "<"+n.Name+"> "+n.Text)
		}
		for _, k := range n.Kids {
			walk(k)
		}
	}
	walk(n)
	return out
}

// benchVoice measures calls to the voice IVR: o.voice callers each play whole report
// calls back to back against the hotline, which answers every turn synchronously.
func benchVoice(ctx context.Context, o options, command string, progress func(string, ...any), stdout io.Writer) (err error) {
	r, err := setUp(ctx, o, progress)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, r.tearDown()) }()
	r.env["HOTLINE_OPERATOR_NUMBER"] = voiceOperator
	r.env["HOTLINE_FALLBACK_NUMBER"] = voiceFallback
	// Nothing on a call's path sends a message: counted to be sure.
	var sent atomic.Int64
	r.fake.OnMessage(func(twiliotest.Message) { sent.Add(1) })

	progress("starting the hotline")
	h, err := startHotline(ctx, r.bin, hotlineEnv(os.Environ(), r.env))
	if err != nil {
		return err
	}
	defer func() {
		if serr := h.stop(); serr != nil {
			progress("hotline shutdown: %v", serr)
		}
	}()

	atStart := h.logs.lines() // what it says at start (no notifier…) is not about calls
	client := newClient(o.voice)
	client.Timeout = twilioPatience
	defer client.CloseIdleConnections()
	v, err := newVoiceLoad(client, h.base, r.authToken, r.accountSID, r.runID)
	if err != nil {
		return err
	}
	progress("checking one call by itself")
	first, err := v.check(ctx)
	if err != nil {
		return fmt.Errorf("%w\nhotline logs:\n%s", err, h.logs.String())
	}
	progress("%d callers, %s warm-up + %s", o.voice, o.warmup, o.duration)
	res := v.run(ctx, o.voice, o.warmup, o.duration, cpuProbe(r.rdb, h.cmd.Process.Pid))
	if ctx.Err() != nil {
		return ctx.Err()
	}
	res.refs = append(res.refs, first)
	rep := &voiceReport{opts: o, command: command, facts: r.facts, res: res, perCall: v.requestsPerCall(), fields: len(v.fields)}
	progress("looking for the %d references heard in the register", len(res.refs))
	if rep.registered, err = registered(ctx, r.env["DATABASE_URL"], res.refs); err != nil {
		return fmt.Errorf("reading the register: %w", err)
	}
	rep.sent = sent.Load()
	rep.logLines = h.logs.lines() - atStart
	if rep.logLines > 0 {
		progress("the hotline logged %d line(s) at warn or above; the last of them:\n%s", rep.logLines, lastLines(h.logs.String(), 20))
	}
	rep.write(stdout)
	// Calls that fail or degrade are results; no answer at all is a failed measurement.
	if !res.answered() {
		return fmt.Errorf("the hotline answered no request in the %s measured (hotline logs: %s)", o.duration, lastLines(h.logs.String(), 20))
	}
	return nil
}
