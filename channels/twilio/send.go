package twilio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/hotline-org/hotline/channels"
)

// SenderConfig sets up a Sender.
type SenderConfig struct {
	AccountSID string
	AuthToken  string
	// APIURL replaces https://api.twilio.com (TWILIO_API_URL), for fakes; empty for
	// Twilio itself.
	APIURL string
	// From is the number replies are sent from, unless an Outbound names its own.
	From string
	// StatusCallback is where Twilio reports delivery; empty for no reports.
	StatusCallback string
	// Templates are the approved WhatsApp templates (Content SIDs) asking a contact
	// outside the 24-hour window to write, by language; "" is the fallback. See
	// ParseTemplates.
	Templates map[string]string
	// Timeout bounds each send; 10 s when zero.
	Timeout time.Duration
}

// Validate reports a configuration that cannot send, so that start-up fails rather
// than every send.
func (c SenderConfig) Validate() error {
	switch {
	case c.AccountSID == "":
		return errors.New("twilio: account SID is empty")
	case c.AuthToken == "":
		return errors.New("twilio: auth token is empty")
	case c.From == "":
		return errors.New("twilio: SMS sender number is empty")
	}
	if c.APIURL != "" {
		if _, err := parseBase(c.APIURL); err != nil {
			return err
		}
	}
	if c.StatusCallback != "" {
		if _, err := parseBase(c.StatusCallback); err != nil {
			return fmt.Errorf("twilio: status callback: %w", err)
		}
	}
	return nil
}

// Sender sends SMS or WhatsApp messages through Twilio's REST API with twilio-go.
// It is safe for concurrent use.
type Sender struct {
	cfg     SenderConfig
	client  *restClient
	baseErr error
}

var _ channels.Sender = (*Sender)(nil)

// NewSender returns a Sender for cfg. A cfg that Validate refuses yields a Sender whose
// sends fail, retryably, until the configuration is mended.
func NewSender(cfg SenderConfig) *Sender {
	s := &Sender{cfg: cfg}
	var base *url.URL
	if cfg.APIURL != "" {
		base, s.baseErr = parseBase(cfg.APIURL)
	}
	s.client = newRESTClient(cfg.AccountSID, cfg.AuthToken, base, cfg.Timeout)
	return s
}

// Render makes one message of each text part, choices listed as numbers: SMS parts
// within the SMS budget, WhatsApp messages within WhatsApp's. A template is one piece.
func (s *Sender) Render(o channels.Outbound) []channels.Piece {
	if o.Template {
		return []channels.Piece{{Seq: 0}}
	}
	texts := channels.RenderText(o)
	if o.Channel == channels.WhatsApp {
		texts = channels.RenderWhatsApp(o)
	}
	pieces := make([]channels.Piece, len(texts))
	for i, t := range texts {
		pieces[i] = channels.Piece{Seq: i, Text: t}
	}
	return pieces
}

// Send asks Twilio to send piece p of o. It returns nil once Twilio has accepted the
// message, ctx's error when ctx ends first, or a *channels.SendError.
func (s *Sender) Send(ctx context.Context, o channels.Outbound, p channels.Piece) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if o.Channel != "" && o.Channel != channels.SMS && o.Channel != channels.WhatsApp {
		return &channels.SendError{Message: "twilio sender handles sms and whatsapp, not " + string(o.Channel), Permanent: true}
	}
	if s.baseErr != nil {
		// Retryable: the messages wait in the outbox until the configuration is fixed.
		return &channels.SendError{Message: s.baseErr.Error()}
	}
	from := s.cfg.From
	if o.From != "" {
		from = o.From
	}
	params := (&openapi.CreateMessageParams{}).SetTo(o.Contact).SetFrom(from)
	if o.Template {
		sid := s.template(o.Lang)
		if sid == "" || o.Channel != channels.WhatsApp {
			return &channels.SendError{Message: "no WhatsApp template configured", Permanent: true}
		}
		params.SetContentSid(sid)
	} else {
		params.SetBody(p.Text)
	}
	if s.cfg.StatusCallback != "" {
		// Our IDs ride in the (signed) query, so a report finds its message without
		// a table from Twilio's SIDs to ours.
		params.SetStatusCallback(s.cfg.StatusCallback + "?o=" + url.QueryEscape(o.ID) + "&p=" + strconv.Itoa(p.Seq))
	}

	// twilio-go takes no context; a client bound to this send carries ctx through it.
	// The service is a few small allocations, nothing beside the HTTP round trip.
	c := &boundClient{restClient: s.client, ctx: ctx}
	api := openapi.NewApiServiceWithClient(c)
	// NewApiServiceWithClient read TWILIO_EDGE and TWILIO_REGION from the environment;
	// the client's target ignores them as well, this only keeps the URL plain.
	api.RequestHandler().Edge, api.RequestHandler().Region = "", ""
	_, err := api.CreateMessage(params)
	if err == nil {
		return nil
	}
	var se *channels.SendError
	switch {
	case errors.As(err, &se):
		return se
	case ctx.Err() != nil:
		return ctx.Err()
	case c.status >= 200 && c.status < 300:
		// Twilio accepted the message and only its answer could not be decoded:
		// sending again would send twice.
		return nil
	default:
		return &channels.SendError{Message: "twilio client: " + err.Error()}
	}
}

// template is the Content SID for lang, or the fallback.
func (s *Sender) template(lang string) string {
	if sid, ok := s.cfg.Templates[lang]; ok {
		return sid
	}
	return s.cfg.Templates[""]
}

// ParseTemplates reads TWILIO_WHATSAPP_TEMPLATE_SID: one Content SID for every
// language ("HX…"), or one per language ("en:HX…,fr:HX…,ar:HX…"), the first also
// serving languages without their own. WhatsApp approves a template per language.
func ParseTemplates(v string) (map[string]string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	m := map[string]string{}
	for i, item := range strings.Split(v, ",") {
		lang, sid, ok := strings.Cut(strings.TrimSpace(item), ":")
		if !ok {
			lang, sid = "", lang
		}
		if !contentSID.MatchString(sid) {
			return nil, fmt.Errorf("twilio: template %q is not a Content SID (HX and 32 hex digits)", sid)
		}
		if i > 0 && lang == "" {
			return nil, errors.New("twilio: templates: give one SID alone, or lang:SID pairs")
		}
		if _, dup := m[lang]; dup && lang != "" {
			return nil, fmt.Errorf("twilio: template for %q given twice", lang)
		}
		m[lang] = sid
		if i == 0 {
			m[""] = sid
		}
	}
	return m, nil
}

var contentSID = regexp.MustCompile(`^HX[0-9a-fA-F]{32}$`)

// boundClient is the REST client for one send: it carries that send's context through
// twilio-go and notes the status Twilio answered.
type boundClient struct {
	*restClient
	ctx    context.Context
	status int
}

func (c *boundClient) SendRequest(method, rawURL string, data url.Values,
	headers map[string]any, body ...byte) (*http.Response, error) {
	resp, err := c.do(c.ctx, method, rawURL, data, headers, body)
	if resp != nil {
		c.status = resp.StatusCode
	}
	return resp, err
}

// parseBase checks an absolute http(s) URL from the configuration.
func parseBase(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("twilio: URL %q: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("twilio: URL %q is not an absolute http(s) URL", raw)
	}
	return u, nil
}
