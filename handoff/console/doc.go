// Package console is the operators' web console: logging in (sessions, CSRF,
// throttling, roles) and the pages where people take conversations over from the bot.
package console
