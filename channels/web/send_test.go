package web

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/redistest"
)

func TestSenderIsASender(t *testing.T) {
	var _ channels.Sender = NewSender(nil, "", time.Now)
}

func TestRender(t *testing.T) {
	langs := []channels.Choice{{Key: "1", Label: "English"}, {Key: "2", Label: "Français"}, {Key: "3", Label: "العربية"}}
	long := strings.Repeat("Stay with the group and keep your phone charged. ", 10)
	tests := []struct {
		name   string
		o      channels.Outbound
		texts  []string
		markup string // on the last piece
	}{
		{
			name:  "plain text",
			o:     channels.Outbound{ID: "m1", Parts: []string{"Hello"}},
			texts: []string{"Hello"},
		},
		{
			name:   "choices join the last part and become buttons",
			o:      channels.Outbound{ID: "m1", Parts: []string{"Choose your language"}, Choices: langs},
			texts:  []string{"Choose your language\n1 English\n2 Français\n3 العربية"},
			markup: `[{"key":"1","label":"English"},{"key":"2","label":"Français"},{"key":"3","label":"العربية"}]`,
		},
		{
			name:   "choices alone",
			o:      channels.Outbound{ID: "m1", Choices: langs[:1]},
			texts:  []string{"1 English"},
			markup: `[{"key":"1","label":"English"}]`,
		},
		{
			name:  "long text split like SMS",
			o:     channels.Outbound{ID: "m1", Parts: []string{long}},
			texts: channels.SplitSMS(long),
		},
		{
			name: "nothing to say",
			o:    channels.Outbound{ID: "m1"},
		},
	}
	s := NewSender(nil, "", time.Now)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pieces := s.Render(tt.o)
			if len(pieces) != len(tt.texts) {
				t.Fatalf("got %d pieces, want %d: %+v", len(pieces), len(tt.texts), pieces)
			}
			for i, p := range pieces {
				if p.Seq != i {
					t.Errorf("piece %d: seq %d", i, p.Seq)
				}
				if p.Text != tt.texts[i] {
					t.Errorf("piece %d: text %q, want %q", i, p.Text, tt.texts[i])
				}
				want := ""
				if i == len(pieces)-1 {
					want = tt.markup
				}
				if p.Markup != want {
					t.Errorf("piece %d: markup %q, want %q", i, p.Markup, want)
				}
			}
			if again := s.Render(tt.o); fmt.Sprint(again) != fmt.Sprint(pieces) {
				t.Errorf("render is not deterministic: %v then %v", pieces, again)
			}
		})
	}
}

func TestSendThenRead(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Single(t)
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	s := NewSender(rdb, prefix, func() time.Time { return at })
	h := newHistory(rdb, prefix)
	ctx := context.Background()

	tests := []struct {
		name     string
		o        channels.Outbound
		segments []int
	}{
		{
			name: "menu with choices",
			o: channels.Outbound{ID: "in1/0", Channel: channels.Web, Contact: "sim-0000000000000001", Lang: "en",
				Parts:   []string{"Choose your language"},
				Choices: []channels.Choice{{Key: "1", Label: "English"}, {Key: "4", Label: "العربية"}}},
			segments: []int{1},
		},
		{
			name: "arabic",
			o: channels.Outbound{ID: "in2/0", Channel: channels.Web, Contact: "sim-0000000000000002", Lang: "ar",
				Parts: []string{"إذا كنت في خطر، اتصل برقم الطوارئ أولاً. هل أنت في خطر الآن؟ " + strings.Repeat("ابقَ مع المجموعة. ", 3)}},
			segments: []int{2},
		},
		{
			name: "two parts",
			o: channels.Outbound{ID: "in3/0", Channel: channels.Web, Contact: "sim-0000000000000003", Lang: "en",
				Parts: []string{strings.Repeat("Keep water with you. ", 20)}},
			segments: []int{2, 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pieces := s.Render(tt.o)
			for _, p := range pieces {
				if err := s.Send(ctx, tt.o, p); err != nil {
					t.Fatalf("send: %v", err)
				}
			}
			msgs, next, err := h.since(ctx, tt.o.Contact, 0)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if len(msgs) != len(pieces) || next != int64(len(pieces)) {
				t.Fatalf("got %d messages, next %d; want %d", len(msgs), next, len(pieces))
			}
			for i, m := range msgs {
				want := message{
					N: int64(i), ID: tt.o.ID + "/" + fmt.Sprint(i), Text: pieces[i].Text,
					Lang: tt.o.Lang, Segments: tt.segments[i], At: at,
				}
				if i == len(msgs)-1 {
					want.Choices = tt.o.Choices
				}
				if fmt.Sprint(m) != fmt.Sprint(want) {
					t.Errorf("message %d:\n got %+v\nwant %+v", i, m, want)
				}
			}
		})
	}
}

func TestSendSetsTTL(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Single(t)
	s := NewSender(rdb, prefix, time.Now)
	o := channels.Outbound{ID: "in1/0", Contact: "sim-00000000000000aa", Parts: []string{"Hi"}}
	if err := s.Send(context.Background(), o, s.Render(o)[0]); err != nil {
		t.Fatal(err)
	}
	ttl, err := rdb.PTTL(context.Background(), prefix+"web:"+o.Contact).Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= historyTTL-time.Minute || ttl > historyTTL {
		t.Errorf("TTL %v, want about %v", ttl, historyTTL)
	}
}

func TestReadPaging(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	send := func(t *testing.T, s *Sender, contact string, from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			o := channels.Outbound{ID: fmt.Sprintf("in%d/0", i), Contact: contact, Parts: []string{fmt.Sprint("reply ", i)}}
			if err := s.Send(ctx, o, s.Render(o)[0]); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name      string
		sent      int   // replies sent, numbered 0…
		repeat    int   // then the reply numbered repeat is sent again (-1: none)
		after     int64 // what the page asks for
		wantFirst int   // the first reply returned, -1 for none
		wantCount int
		wantNext  int64
	}{
		{name: "empty conversation", sent: 0, repeat: -1, after: 0, wantFirst: -1, wantNext: 0},
		{name: "from the start", sent: 3, repeat: -1, after: 0, wantFirst: 0, wantCount: 3, wantNext: 3},
		{name: "only new ones", sent: 5, repeat: -1, after: 3, wantFirst: 3, wantCount: 2, wantNext: 5},
		{name: "nothing new", sent: 5, repeat: -1, after: 5, wantFirst: -1, wantNext: 5},
		{name: "a repeat delivery shows once", sent: 2, repeat: 1, after: 0, wantFirst: 0, wantCount: 2, wantNext: 3},
		{name: "trimmed: positions stay", sent: historyCap + 5, repeat: -1, after: historyCap + 2,
			wantFirst: historyCap + 2, wantCount: 3, wantNext: historyCap + 5},
		{name: "trimmed: behind the oldest kept", sent: historyCap + 5, repeat: -1, after: 0,
			wantFirst: 5, wantCount: historyCap, wantNext: historyCap + 5},
		{name: "page ahead of an expired list", sent: 2, repeat: -1, after: 40, wantFirst: 0, wantCount: 2, wantNext: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rdb, prefix := redistest.Single(t)
			s := NewSender(rdb, prefix, time.Now)
			const contact = "sim-0123456789abcdef"
			send(t, s, contact, 0, tt.sent)
			if tt.repeat >= 0 {
				send(t, s, contact, tt.repeat, tt.repeat+1)
			}
			msgs, next, err := newHistory(rdb, prefix).since(ctx, contact, tt.after)
			if err != nil {
				t.Fatal(err)
			}
			if next != tt.wantNext {
				t.Errorf("next %d, want %d", next, tt.wantNext)
			}
			if len(msgs) != tt.wantCount {
				t.Fatalf("got %d messages, want %d", len(msgs), tt.wantCount)
			}
			for i, m := range msgs {
				if want := fmt.Sprintf("in%d/0/0", tt.wantFirst+i); m.ID != want {
					t.Fatalf("message %d is %s, want %s", i, m.ID, want)
				}
			}
		})
	}
}

func TestSendBadMarkupIsPermanent(t *testing.T) {
	s := NewSender(nil, "", time.Now)
	err := s.Send(context.Background(), channels.Outbound{ID: "x"}, channels.Piece{Text: "hi", Markup: "{"})
	se, ok := err.(*channels.SendError)
	if !ok || !se.Permanent {
		t.Fatalf("got %v, want a permanent SendError", err)
	}
}

func TestStoredStartsWithID(t *testing.T) {
	// The append script splices the position in front of "id"; a field moved above it
	// would make every position 0.
	raw, _ := json.Marshal(stored{ID: "x"})
	if !strings.HasPrefix(string(raw), `{"id":`) {
		t.Fatalf("stored record starts %s", raw)
	}
}
