package cases

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/hotline-org/hotline/cases/keyring"
)

// TestRekeyMovesEveryValueToTheNewKey: after a new key joins the ring and rekey runs,
// the old key can leave and every case and note still opens.
func TestRekeyMovesEveryValueToTheNewKey(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := migratedStore(t, b)
		k1, err := keyring.Generate("k1")
		if err != nil {
			t.Fatal(err)
		}
		k2, _ := keyring.Generate("k2")
		old, _ := keyring.Parse(k1)
		g, _ := newRegister(t, s, old)
		for i := range 3 {
			ref := fmt.Sprintf("REKEY0000%d", i)
			if _, _, err := g.Save(ctx, report(ref, "c", "N"+ref, 1990)); err != nil {
				t.Fatal(err)
			}
			if err := g.AddNote(ctx, ref, "note-"+ref, "family", "note "+ref, t0); err != nil {
				t.Fatal(err)
			}
		}
		both, _ := keyring.Parse(k2 + "," + k1)
		g, _ = newRegister(t, s, both)
		n, err := g.Rekey(ctx, both, "admin:cli")
		if err != nil || n != 6 {
			t.Fatalf("rekey: %d values, %v; want 6", n, err)
		}
		if n, _ := g.Rekey(ctx, both, "admin:cli"); n != 0 {
			t.Errorf("second rekey re-sealed %d", n)
		}
		onlyNew, _ := keyring.Parse(k2)
		g, _ = newRegister(t, s, onlyNew)
		for i := range 3 {
			ref := fmt.Sprintf("REKEY0000%d", i)
			c, err := g.Read(ctx, ref, "operator:1", "check")
			if err != nil || c.Details.Missing.Names != "N"+ref || len(c.Notes) != 1 || c.Notes[0].Text != "note "+ref {
				t.Errorf("%s under the new key alone: %+v, %v", ref, c.Details.Missing, err)
			}
		}
		if log, _ := s.AuditLog(ctx, ""); len(log) != 2 || log[0].Action != "keys.rekey" {
			t.Errorf("audit without a case: %+v", log)
		}
	})
}

// TestExportFollowsTheDictionaryAndSkipsTests: CSV and JSON carry the documented
// columns, decrypted; simulator cases are never exported; every export is audited.
func TestExportFollowsTheDictionaryAndSkipsTests(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := migratedStore(t, b)
		g, _ := newRegister(t, s, testRing(t, "k1"))
		real := report("EXPORT0001", "c1", "Mamadou Diallo", 1998)
		real.Details.Missing.Clothing = DontKnow
		real.Details.Missing.Phones = "+224 620 00 00 00"
		real.Details.Missing.Description = "=HYPERLINK(\"http://x\")"
		test := report("EXPORT0002", "c2", "Test Person", 1990)
		test.Test = true
		for _, r := range []Report{real, test} {
			if _, _, err := g.Save(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		var buf bytes.Buffer
		if _, err := g.Export(ctx, &buf, "csv", "admin:cli", ""); err == nil {
			t.Error("export without a reason accepted")
		}
		n, err := g.Export(ctx, &buf, "csv", "admin:cli", "transfer to tracing")
		if err != nil || n != 1 {
			t.Fatalf("csv export: %d, %v", n, err)
		}
		rows, err := csv.NewReader(&buf).ReadAll()
		if err != nil || len(rows) != 2 {
			t.Fatalf("csv rows %d, %v", len(rows), err)
		}
		for i, c := range Columns {
			if rows[0][i] != c.Name {
				t.Errorf("column %d is %q, want %q", i, rows[0][i], c.Name)
			}
		}
		col := func(name string) string {
			for i, c := range Columns {
				if c.Name == name {
					return rows[1][i]
				}
			}
			t.Fatalf("no column %s", name)
			return ""
		}
		if col("ref") != "EXPORT0001" || col("missing_names") != "Mamadou Diallo" || col("missing_clothing") != DontKnow ||
			col("share_rcrc") != "true" || col("contact") != "whatsapp:+33612345678" ||
			col("missing_phones") != "'+224 620 00 00 00" || col("missing_description") != "'=HYPERLINK(\"http://x\")" {
			t.Errorf("csv row %v", rows[1])
		}
		buf.Reset()
		if _, err := g.Export(ctx, &buf, "json", "admin:cli", "transfer to tracing"); err != nil {
			t.Fatal(err)
		}
		var objs []map[string]string
		if err := json.Unmarshal(buf.Bytes(), &objs); err != nil || len(objs) != 1 || objs[0]["enquirer_name"] != "Amina K." ||
			objs[0]["missing_phones"] != "+224 620 00 00 00" {
			t.Errorf("json export %v: %s", err, buf.String())
		}
		log, _ := s.AuditLog(ctx, "EXPORT0001")
		if len(log) != 3 || log[1].Action != "case.export" || log[1].Reason != "transfer to tracing" {
			t.Errorf("audit of the exported case: %+v", log)
		}
		if log, _ := s.AuditLog(ctx, "EXPORT0002"); len(log) != 1 {
			t.Errorf("simulator case audited as exported: %+v", log)
		}
	})
}

// TestStatsAreCountsOnly: counts by month, route, nationality and status, small ones
// suppressed, the simulator's left out, and no field that is not counted.
func TestStatsAreCountsOnly(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := migratedStore(t, b)
		g, _ := newRegister(t, s, testRing(t, "k1"))
		for i := range 7 {
			r := report(fmt.Sprintf("STATS0000%d", i), fmt.Sprint("c", i), fmt.Sprint("P", i), 1990)
			if i == 6 {
				r.Details.Missing.Nationality = "Soudan"
			}
			if _, _, err := g.Save(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		test := report("STATS00009", "c9", "T", 1990)
		test.Test = true
		g.Save(ctx, test)
		stats, err := g.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range stats {
			got = append(got, s.By+"="+s.Value+":"+s.Shown)
		}
		want := "month=2026-11:7 route=central-med:7 nationality=(others, each under 5):<5 each nationality=guinée:6 status=received:7"
		if strings.Join(got, " ") != want {
			t.Errorf("stats\n got %s\nwant %s", strings.Join(got, " "), want)
		}
	})
}

// TestREADMEHasTheColumnDictionary: the README's export table is the one the code
// writes, in the same order.
func TestREADMEHasTheColumnDictionary(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	at := 0
	for _, c := range Columns {
		row := "| `" + c.Name + "` | " + c.Meaning + " |"
		i := strings.Index(string(readme[at:]), row)
		if i < 0 {
			t.Fatalf("README lacks, or has out of order, the row %s", row)
		}
		at += i + len(row)
	}
}
