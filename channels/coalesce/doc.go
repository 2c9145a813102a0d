// Package coalesce sends the Redis scripts and simple commands that a process's
// goroutines issue at the same moment in one round trip, as a pipeline.
package coalesce
