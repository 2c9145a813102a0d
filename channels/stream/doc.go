// Package stream reads a shard's Redis streams for the holder of the shard's lease, so
// that a process that lost the lease can never take entries that the new holder needs.
package stream
