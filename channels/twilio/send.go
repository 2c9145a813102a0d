package twilio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
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

// Render makes one SMS of each text part, choices listed as numbers.
func (s *Sender) Render(o channels.Outbound) []channels.Piece {
	texts := channels.RenderText(o)
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
	params := (&openapi.CreateMessageParams{}).SetTo(o.Contact).SetFrom(from).SetBody(p.Text)
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
