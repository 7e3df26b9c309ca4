package main

import (
	"encoding/binary"
	"io"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// BenchmarkExec measures warm exec round trips, back to back, through the
// protocol (frame in, reader goroutine, execution under the usual limits,
// frame out): "in-process" with a server in this process over in-memory
// pipes (the runner's own cost), "process" with a runner process over real
// pipes (what a host sees).
func BenchmarkExec(b *testing.B) {
	spawned := func(tb testing.TB) *host {
		h, _, _ := spawnRunner(tb)
		return h
	}
	scripts := map[string]string{
		"tengo": `
damage := attacker.attack - defender.armor
if damage < 1 { damage = 1 }
hits := []
for i := 0; i < 3; i++ { hits = append(hits, damage + i) }
result := {damage: damage, hits: hits, dead: defender.hp <= damage * 3}`,
		"zygomys": `
(def damage (- (hget attacker "attack") (hget defender "armor")))
(cond (< damage 1) (set damage 1) null)
(def hits [])
(for [(def i 0) (< i 3) (set i (+ i 1))] (set hits (append hits (+ damage i))))
(def result (hash damage: damage hits: hits dead: (<= (hget defender "hp") (* damage 3))))`,
	}
	limits := map[string]any{
		"timeout_ms": 1000, "cpu_ms": 1000, "memory_bytes": 64 << 20, "max_allocs": 10_000_000,
		"max_output_bytes": 1 << 20, "max_log_lines": 1000, "max_log_bytes": 64 << 10, "max_depth": 64, "max_calls": 1000,
	}
	input := map[string]any{"context": map[string]any{
		"attacker": map[string]any{"attack": 7}, "defender": map[string]any{"armor": 3, "hp": 10},
	}}
	for _, language := range []string{"tengo", "zygomys"} {
		for _, c := range []struct {
			name  string
			start func(testing.TB) *host
		}{
			{"in-process", newHost},
			{"process", spawned},
		} {
			b.Run(language+"/"+c.name, func(b *testing.B) {
				h := c.start(b)
				sum, _ := h.load(language, scripts[language], loadOptions{})
				wantResult(b, h.exec(sum, input, limits), map[string]any{
					"damage": int64(4), "hits": []any{int64(4), int64(5), int64(6)}, "dead": true,
				})
				body, err := msgpack.Marshal(map[string]any{"op": "exec", "id": 1 << 40, "checksum": sum, "input": input, "limits": limits})
				if err != nil {
					b.Fatal(err)
				}
				frame := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
				frame = append(frame, body...)
				var header [4]byte
				reply := make([]byte, 1<<16)
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if _, err := h.w.Write(frame); err != nil {
						b.Fatal(err)
					}
					if _, err := io.ReadFull(h.r, header[:]); err != nil {
						b.Fatal(err)
					}
					if _, err := io.ReadFull(h.r, reply[:binary.BigEndian.Uint32(header[:])]); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
