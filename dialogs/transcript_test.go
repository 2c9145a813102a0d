package dialogs

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/locales"
	"github.com/hotline-org/hotline/locales/content"
)

var update = flag.Bool("update", false, "rewrite the golden transcripts in testdata/transcripts")

// TestTranscripts plays each conversation in testdata/transcripts through Step and the
// SMS rendering, and compares the whole transcript. Lines:
//
//	> text          what the person sends
//	> [voice note]  a voice note or other media, without text
//	> [location 35.2,12.5]  a shared location
//	>! kind k=v     the result of an effect coming back (ok); >!fail kind … when it failed
//	@resumed LANG   (first line) the contact's earlier session expired; LANG survived
//	@held N         the next message releases N replies held outside WhatsApp's window
//	< text          what the bot answers (one line per line; "< ~~~" between SMS parts)
//	! kind          an effect the turn asked for
//	= owner …       the session's owner and place after the turn
func TestTranscripts(t *testing.T) {
	b, err := locales.Load(func(lang, id string) { t.Errorf("message %s missing in %s", id, lang) })
	if err != nil {
		t.Fatal(err)
	}
	m := newMachine(t, b.Languages())
	files, _ := filepath.Glob("testdata/transcripts/*.txt")
	if len(files) == 0 {
		t.Fatal("no transcripts")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got := play(t, m, b, string(raw))
			if *update {
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != string(raw) {
				t.Errorf("transcript differs (run go test ./dialogs -update and read the diff):\n%s", diffLines(string(raw), got))
			}
		})
	}
}

func play(t *testing.T, m *Machine, b *locales.Bundle, script string) string {
	var out strings.Builder
	s := Session{Channel: channels.SMS}
	now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	for _, line := range strings.Split(script, "\n") {
		switch {
		case strings.HasPrefix(line, "#"):
			out.WriteString(line + "\n")
		case strings.HasPrefix(line, "@resumed "):
			s.Resumed, s.Lang = true, strings.TrimPrefix(line, "@resumed ")
			out.WriteString(line + "\n")
		case strings.HasPrefix(line, "@held "):
			s.Held, _ = strconv.Atoi(strings.TrimPrefix(line, "@held "))
			out.WriteString(line + "\n")
		case strings.HasPrefix(line, ">!"):
			out.WriteString(line + "\n")
			s = turnOnce(&out, m, b, s, Event{Kind: EventEffect, Effect: parseEffect(t, line)}, now)
		case line == "> [voice note]":
			out.WriteString(line + "\n")
			s = turnOnce(&out, m, b, s, Event{Kind: EventMedia}, now)
		case strings.HasPrefix(line, "> [location "):
			out.WriteString(line + "\n")
			var loc channels.Location
			fmt.Sscanf(strings.TrimPrefix(line, "> [location "), "%f,%f]", &loc.Lat, &loc.Lon)
			s = turnOnce(&out, m, b, s, Event{Kind: EventLocation, Location: &loc}, now)
		case strings.HasPrefix(line, "> "):
			out.WriteString(line + "\n")
			s = turnOnce(&out, m, b, s, Event{Kind: EventText, Text: strings.TrimPrefix(line, "> ")}, now)
		}
		now = now.Add(time.Minute)
	}
	return out.String()
}

func turnOnce(out *strings.Builder, m *Machine, b *locales.Bundle, s Session, ev Event, now time.Time) Session {
	s, prompts, effects := m.Step(s, ev, now)
	s.Version++
	s.Resumed, s.Held = false, 0
	if o, ok := Localize(b, s, prompts); ok {
		for i, part := range channels.RenderText(o) {
			if i > 0 {
				out.WriteString("< ~~~\n")
			}
			for _, l := range strings.Split(part, "\n") {
				out.WriteString("< " + l + "\n")
			}
		}
	}
	for _, e := range effects {
		out.WriteString("! " + e.Kind + "\n")
	}
	if s.Erase {
		// The runner deletes an erased session and its remembered language.
		s = Session{Channel: s.Channel}
		out.WriteString("= erased\n\n")
		return s
	}
	fmt.Fprintf(out, "= owner %s, at %s.%s, lang %s", s.Owner, s.At.Flow, s.At.Step, s.Lang)
	if s.OptedOut {
		out.WriteString(", opted out")
	}
	if s.Blocked {
		out.WriteString(", blocked")
	}
	out.WriteString("\n\n")
	return s
}

func parseEffect(t *testing.T, line string) *channels.EffectResult {
	fields := strings.Fields(strings.TrimPrefix(line, ">!"))
	r := &channels.EffectResult{OK: true, Data: map[string]string{}}
	if len(fields) > 0 && fields[0] == "fail" {
		r.OK = false
		fields = fields[1:]
	}
	if len(fields) == 0 {
		t.Fatalf("effect line without a kind: %q", line)
	}
	r.Kind = fields[0]
	for _, kv := range fields[1:] {
		k, v, _ := strings.Cut(kv, "=")
		r.Data[k] = v
	}
	return r
}

// diffLines shows the first lines where two transcripts part.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 12; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d\n  want: %s\n  got:  %s\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}

// TestEveryFlowStepIsReachableAndLocalized guards the flows table: every Goto names a
// real flow or step, and every prompt and label exists in every language.
func TestEveryFlowStepIsReachableAndLocalized(t *testing.T) {
	var missing []string
	b, err := locales.Load(func(lang, id string) { missing = append(missing, lang+":"+id) })
	if err != nil {
		t.Fatal(err)
	}
	m := newMachine(t, b.Languages())
	ids := map[string]bool{}
	for name, f := range m.flows {
		if _, ok := f.Steps[f.Start]; !ok {
			t.Errorf("flow %s starts at missing step %s", name, f.Start)
		}
		for sname, st := range f.Steps {
			if st.Prompt != "" {
				ids[st.Prompt] = true
			}
			if st.Next != "" {
				flow, step, _ := strings.Cut(st.Next, ".")
				if _, ok := m.flows[flow].Steps[step]; !ok {
					t.Errorf("%s.%s goes next to missing step %q", name, sname, st.Next)
				}
			}
			for _, c := range st.Choices {
				ids[c.Label] = true
				if c.Say != "" {
					ids[c.Say] = true
				}
				if c.Fix != "" {
					if _, ok := m.flows[FlowReport].Steps["q."+c.Fix]; !ok {
						t.Errorf("%s.%s choice %s corrects a field with no question: %q", name, sname, c.Key, c.Fix)
					}
					continue
				}
				flow, step, _ := strings.Cut(c.Goto, ".")
				target, ok := m.flows[flow]
				if !ok {
					t.Errorf("%s.%s choice %s goes to missing flow %q", name, sname, c.Key, flow)
				}
				if step != "" {
					if _, ok := target.Steps[step]; !ok {
						t.Errorf("%s.%s choice %s goes to missing step %q", name, sname, c.Key, c.Goto)
					}
				}
			}
		}
	}
	var sorted []string
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	for _, lang := range b.Languages() {
		for _, id := range sorted {
			b.Localize(lang, id, nil)
		}
	}
	if len(missing) > 0 {
		t.Errorf("flow messages missing: %v", missing)
	}
	// A menu and its question arrive as one SMS in every language: split, the options
	// could arrive before the question.
	for _, lang := range b.Languages() {
		for name, f := range m.flows {
			for sname, st := range f.Steps {
				if len(st.Choices) == 0 {
					continue
				}
				t0 := &turn{m: m, s: Session{Lang: lang, At: Position{name, sname}}}
				t0.prompt()
				if st.Summary {
					// The answers come first and may take several parts; the question
					// and its options must still arrive together, in the last one.
					t0.prompts = t0.prompts[len(t0.prompts)-1:]
				}
				o, _ := Localize(b, t0.s, t0.prompts)
				if parts := channels.RenderText(o); len(parts) != 1 {
					t.Errorf("%s: menu %s.%s takes %d SMS parts", lang, name, sname, len(parts))
				}
			}
		}
	}
}

// TestShippedContentFitsTheFlow: every route menu of the shipped content arrives as one
// SMS in every language, and every section with the line after it stays short.
func TestShippedContentFitsTheFlow(t *testing.T) {
	b, err := locales.Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := content.Parse(content.Shipped(), b.Languages())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range CheckContent(b, c) {
		t.Error(p)
	}
}
