// Package redistest gives tests real Redis: a single server from REDIS_URL, or a
// 3-master Redis Cluster on loopback, each test isolated by a unique key prefix.
package redistest
