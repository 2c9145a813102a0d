package channels

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash/fnv"
	"strconv"
	"strings"
)

// DefaultShards is the number of shards when a deployment does not set one. It is fixed
// for the life of a deployment: changing it moves contacts between shards.
const DefaultShards = 16

// ShardOf is the shard that owns a contact's conversation on a channel. Everything about
// one contact lives under that shard's hash tag, so one Lua script can touch it all.
func ShardOf(ch Channel, contact string, shards int) int {
	h := fnv.New32a()
	h.Write([]byte(ch))
	h.Write([]byte{0})
	h.Write([]byte(contact))
	return int(h.Sum32() % uint32(shards))
}

// Tag is the key prefix of a shard: prefix + "{sN}:". The braces are a Redis Cluster
// hash tag, so every key of a shard maps to one slot; prefix must hold no braces.
func Tag(prefix string, shard int) string {
	return prefix + "{s" + strconv.Itoa(shard) + "}:"
}

// BulkKey is a shard's bulk lane: route alerts wait there behind nothing and in front
// of nothing, sent with the capacity replies leave.
func BulkKey(prefix string, shard int) string { return Tag(prefix, shard) + "outbox:bulk" }

// AlertKey is where a shard counts a route alert's messages (queued, sent, held…).
func AlertKey(prefix string, shard int, alert string) string {
	return Tag(prefix, shard) + "bcast:" + alert
}

// SubsKey is the hash of a shard's route alert subscribers' sealed details, by
// contact hash: without an entry there, nobody gets an alert.
func SubsKey(prefix string, shard int) string { return Tag(prefix, shard) + "subs:info" }

// AlertMessageID is the outbound ID of route alert alert's message to the subscriber
// hashed h: one per subscriber and alert, so that the outbox sends it once.
func AlertMessageID(alert, h string) string { return "b:" + alert + ":" + h }

// AlertOfMessage is the route alert and the subscriber hash of an alert message's
// outbound ID; "" for any other message, including the template sent for one (a
// provider's delivery report names only the ID).
func AlertOfMessage(id string) (alert, h string) {
	rest, ok := strings.CutPrefix(id, "b:")
	if !ok {
		return "", ""
	}
	alert, h, ok = strings.Cut(rest, ":")
	if !ok || h == "" || strings.Contains(h, ":") {
		return "", ""
	}
	return alert, h
}

// ContactHasher names a contact in Redis keys and logs without their address: a keyed
// hash (HOTLINE_LOOKUP_KEY), so that a leaked key list cannot be matched against a
// phone book.
func ContactHasher(key []byte) func(Channel, string) string {
	return func(ch Channel, contact string) string {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(string(ch) + ":" + contact))
		return hex.EncodeToString(m.Sum(nil))[:32]
	}
}
