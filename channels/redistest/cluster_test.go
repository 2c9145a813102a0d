package redistest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// sumTwo reads two keys that must share a slot, as the hotline's commit
// scripts do.
const sumTwo = `
redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('INCRBY', KEYS[2], ARGV[1])
return tonumber(redis.call('GET', KEYS[1])) + tonumber(redis.call('GET', KEYS[2]))`

func TestClusterIsReal(t *testing.T) {
	RequireCluster(t, cluster, clusterErr)
	rdb, p := ClusterFor(t, cluster)
	ctx := context.Background()

	if got := len(cluster.Addrs()); got != 3 {
		t.Fatalf("%d addresses, want 3", got)
	}
	a, b := p+"{s1}:a", p+"{s1}:b"
	other := p + "{s2}:c"
	slotA := rdb.ClusterKeySlot(ctx, a).Val()
	slotB := rdb.ClusterKeySlot(ctx, b).Val()
	slotOther := rdb.ClusterKeySlot(ctx, other).Val()
	if slotA != slotB || slotA == slotOther {
		t.Fatalf("slots: a=%d b=%d other=%d; want a==b!=other", slotA, slotB, slotOther)
	}

	// Same hash tag: a multi-key script runs.
	if err := rdb.MSet(ctx, a, 1, b, 2).Err(); err != nil {
		t.Fatalf("MSET in one slot: %v", err)
	}
	got, err := rdb.Eval(ctx, sumTwo, []string{a, b}, 10).Int64()
	if err != nil || got != 23 {
		t.Fatalf("EVAL with two keys in slot %d: %d, %v; want 23", slotA, got, err)
	}

	// Different slots: the server refuses the same script.
	err = rdb.Eval(ctx, sumTwo, []string{a, other}, 10).Err()
	if err == nil || !strings.HasPrefix(err.Error(), "CROSSSLOT") {
		t.Fatalf("EVAL across slots %d and %d: err = %v, want CROSSSLOT", slotA, slotOther, err)
	}
	// And a plain multi-key command sent straight to one node, bypassing any
	// client-side routing.
	node := redis.NewClient(&redis.Options{Addr: cluster.Addrs()[0]})
	defer node.Close()
	err = node.Do(ctx, "MSET", a, 1, other, 2).Err()
	if err == nil || !strings.HasPrefix(err.Error(), "CROSSSLOT") {
		t.Fatalf("MSET across slots on one node: err = %v, want CROSSSLOT", err)
	}
	if n := rdb.Exists(ctx, other).Val(); n != 0 {
		t.Fatalf("refused commands wrote %s", other)
	}
}

func TestClusterHasThreeMastersOwningAllSlots(t *testing.T) {
	RequireCluster(t, cluster, clusterErr)
	rdb, _ := ClusterFor(t, cluster)
	ctx := context.Background()
	shards, err := rdb.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	owners := map[string]bool{}
	slots := 0
	for _, s := range shards {
		slots += s.End - s.Start + 1
		if len(s.Nodes) != 1 {
			t.Errorf("slots %d-%d have %d nodes, want 1 master and no replica", s.Start, s.End, len(s.Nodes))
		}
		owners[s.Nodes[0].Addr] = true
	}
	if slots != 16384 || len(owners) != 3 {
		t.Fatalf("%d slots over %d masters (%v), want 16384 over 3", slots, len(owners), owners)
	}
}

func TestClusterForDeletesPrefixOnEveryMaster(t *testing.T) {
	RequireCluster(t, cluster, clusterErr)
	ctx := context.Background()
	shared := cluster.Client()
	keep := newPrefix() + "{s3}:keep" // as if another test wrote it
	if err := shared.Set(ctx, keep, "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shared.Del(context.Background(), keep) })

	var prefix string
	var keys []string
	t.Run("inner", func(t *testing.T) {
		rdb, p := ClusterFor(t, cluster)
		prefix = p
		for i := range 64 { // 64 hash tags land on all three masters
			k := fmt.Sprintf("%s{s%d}:inbox", p, i)
			keys = append(keys, k)
			if err := rdb.Set(ctx, k, i, 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex
		holders := 0
		err := rdb.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			found, _, err := m.Scan(ctx, 0, p+"*", 10000).Result()
			mu.Lock()
			defer mu.Unlock()
			if len(found) > 0 {
				holders++
			}
			return err
		})
		if err != nil || holders != 3 {
			t.Fatalf("keys on %d masters (%v), want all 3", holders, err)
		}
	})
	if t.Failed() {
		return
	}

	err := shared.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		left, _, err := m.Scan(ctx, 0, prefix+"*", 10000).Result()
		if err != nil {
			return err
		}
		if len(left) != 0 {
			return fmt.Errorf("%s still holds %v", m.Options().Addr, left)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if n := shared.Exists(ctx, k).Val(); n != 0 {
			t.Errorf("%s survived", k)
		}
	}
	if got := shared.Get(ctx, keep).Val(); got != "x" {
		t.Errorf("another test's key %s: %q, want untouched", keep, got)
	}
}

func TestRequireCluster(t *testing.T) {
	notInstalled := fmt.Errorf("%w: exec: \"redis-server\": not found", ErrNotInstalled)
	for _, tc := range []struct {
		name       string
		ci         string
		c          *Cluster
		err        error
		wantSkip   bool
		wantFailed bool
	}{
		{"missing, local", "", nil, notInstalled, true, false},
		{"missing, CI", "true", nil, notInstalled, false, true},
		{"broken start, local", "", nil, errors.New("boom"), false, true},
		{"nil cluster", "", nil, nil, false, true},
		{"running", "true", &Cluster{}, nil, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			r := &recorder{TB: t}
			RequireCluster(r, tc.c, tc.err)
			if r.skipped != tc.wantSkip || r.failed != tc.wantFailed {
				t.Fatalf("skipped=%v failed=%v (%s), want skipped=%v failed=%v", r.skipped, r.failed, r.msg, tc.wantSkip, tc.wantFailed)
			}
		})
	}
}

func TestStartClusterWithoutBinaries(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	c, err := StartCluster(context.Background(), t.TempDir())
	if c != nil || !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("StartCluster = %v, %v; want ErrNotInstalled", c, err)
	}
	if !strings.Contains(err.Error(), "redis-server") {
		t.Errorf("error %q does not name what is missing", err)
	}
}
