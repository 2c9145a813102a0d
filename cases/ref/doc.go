// Package ref makes the case references that families read aloud, type and hear: short, hard to
// guess, checked for typos, reserved once in Redis, with wrong guesses throttled.
package ref
