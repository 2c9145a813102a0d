package telegram

import (
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/hotline-org/hotline/channels"
)

// The update is decoded into these few structs rather than go-telegram/bot's
// models.Update: the webhook reads a dozen fields of two update kinds, and models.Update
// decodes every kind Telegram has (with custom unmarshalers for polymorphic fields), all
// of it on bytes anyone can post before the secret could mean much. Small structs keep
// the parser's surface — and what the fuzz test has to cover — to what is used.
type update struct {
	UpdateID      int64          `json:"update_id"`
	Message       *message       `json:"message"`
	CallbackQuery *callbackQuery `json:"callback_query"`
}

type message struct {
	Chat      chat      `json:"chat"`
	Text      string    `json:"text"`
	Caption   string    `json:"caption"`
	Location  *location `json:"location"`
	Contact   *struct{} `json:"contact"` // only its presence: the number is personal data
	Voice     *file     `json:"voice"`
	Audio     *file     `json:"audio"`
	Photo     []file    `json:"photo"`
	Document  *file     `json:"document"`
	Video     *file     `json:"video"`
	VideoNote *file     `json:"video_note"`
}

type chat struct {
	ID   int64  `json:"id"`
	Type string `json:"type"`
}

type location struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
}

type file struct {
	FileID   string `json:"file_id"`
	MimeType string `json:"mime_type"`
}

type callbackQuery struct {
	ID      string   `json:"id"`
	Message *message `json:"message"`
	Data    string   `json:"data"`
}

// parsed is what the webhook makes of an update.
type parsed struct {
	updateID int64
	in       channels.Inbound
	// use is false for updates the hotline does not take (edited messages, channel
	// posts, membership changes, group chats): they are answered 200 and dropped.
	use bool
	// callbackID is the callback query to answer, so that the pressed button stops
	// spinning; empty when the update was not a button press.
	callbackID string
}

var errNoUpdateID = errors.New("update_id missing")

// parseUpdate reads a webhook body. Its errors never quote the body.
func parseUpdate(body []byte, received time.Time) (parsed, error) {
	var u update
	if err := json.Unmarshal(body, &u); err != nil {
		return parsed{}, errors.New("update is not JSON of the expected shape")
	}
	if u.UpdateID <= 0 {
		return parsed{}, errNoUpdateID
	}
	p := parsed{updateID: u.UpdateID}
	in := channels.Inbound{
		ID:       "tg-" + strconv.FormatInt(u.UpdateID, 10),
		Channel:  channels.Telegram,
		Received: received,
	}
	switch {
	case u.Message != nil:
		m := u.Message
		if m.Chat.Type != "private" || m.Chat.ID == 0 {
			return p, nil
		}
		in.Contact = strconv.FormatInt(m.Chat.ID, 10)
		in.Text = m.Text
		if in.Text == "" {
			in.Text = m.Caption
		}
		if m.Location != nil {
			in.Location = &channels.Location{Lat: m.Location.Latitude, Lon: m.Location.Longitude}
		}
		in.Media = media(m)
	case u.CallbackQuery != nil:
		q := u.CallbackQuery
		p.callbackID = q.ID
		// A button under an inline-mode message has no chat; the hotline sends none.
		if q.Message == nil || q.Message.Chat.Type != "private" || q.Message.Chat.ID == 0 {
			return p, nil
		}
		in.Contact = strconv.FormatInt(q.Message.Chat.ID, 10)
		in.Text = q.Data
	default:
		return p, nil
	}
	p.in, p.use = in, true
	return p, nil
}

// media lists a message's attachments as Media whose URL names the Telegram file
// ("tg-file:" + file_id); fetching it needs the bot token (getFile).
func media(m *message) []channels.Media {
	var out []channels.Media
	add := func(f *file, fallback string) {
		if f == nil || f.FileID == "" {
			return
		}
		ct := f.MimeType
		if ct == "" {
			ct = fallback
		}
		out = append(out, channels.Media{URL: "tg-file:" + f.FileID, ContentType: ct})
	}
	if m.Contact != nil {
		// A shared contact card is marked, never kept: its number and name stay out.
		out = append(out, channels.Media{ContentType: "contact"})
	}
	add(m.Voice, "audio/ogg")
	add(m.Audio, "audio/mpeg")
	if len(m.Photo) > 0 {
		// Telegram lists a photo's sizes smallest first: keep the largest.
		largest := m.Photo[len(m.Photo)-1]
		add(&file{FileID: largest.FileID}, "image")
	}
	add(m.Document, "application/octet-stream")
	add(m.Video, "video/mp4")
	add(m.VideoNote, "video/mp4")
	return out
}
