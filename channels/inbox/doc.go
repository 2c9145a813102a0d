// Package inbox keeps inbound messages durable, de-duplicated and in order per contact
// until a worker has fully handled them, spooling to a local file while Redis is away.
package inbox
