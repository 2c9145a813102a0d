package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
)

func main() {
	gin.SetMode(gin.ReleaseMode)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "hotline:", err)
		os.Exit(1)
	}
}

const usage = `usage: hotline [command]

commands:
  serve     run the hotline (the default)
  migrate   apply the database migrations and exit
  cases     export, stats, purge, rekey: the case register (hotline cases for details)
  operators add, reset, disable, enable, list: console accounts (hotline operators for details)
  keys new ID             print a new data key entry for HOTLINE_DATA_KEYS
  content check DIR       check a content folder (HOTLINE_CONTENT_DIR) as the hotline would load it
  telegram set-webhook    point Telegram at HOTLINE_PUBLIC_URL/webhooks/telegram, with the secret
  telegram webhook-info   show what Telegram has for the bot's webhook
  help      show this text

Configuration comes from the environment; see the README.
`

// run is the whole program, so that tests can start it as it runs in production.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return runAt(ctx, args, getenv, stdout, stderr, time.Now)
}

// runAt is run with its clock given, so that a test can live through a day (WhatsApp's
// 24-hour window) in a second.
func runAt(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, now func() time.Time) error {
	cmd := "serve"
	if len(args) > 1 {
		cmd = args[1]
	}
	switch cmd {
	case "serve":
		return serve(ctx, getenv, stdout, stderr, now)
	case "migrate":
		return migrate(ctx, getenv, stderr)
	case "cases":
		return casesCommand(ctx, args[2:], getenv, stdout, stderr, now)
	case "operators":
		return operatorsCommand(ctx, args[2:], getenv, os.Stdin, stdout, stderr, now)
	case "keys":
		return keysCommand(args[2:], stdout, stderr)
	case "content":
		return contentCommand(args[2:], stdout)
	case "telegram":
		sub := ""
		if len(args) > 2 {
			sub = args[2]
		}
		return telegramCommand(ctx, sub, getenv, stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}
