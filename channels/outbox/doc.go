// Package outbox sends queued replies through the provider adapters: replies before
// bulk traffic, retries with backoff and Retry-After, permanent failures set aside.
package outbox
