package adt_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relais-onco/relais/hl7"
	"github.com/relais-onco/relais/internal/testdb"
)

// BenchmarkADTDurableAck sends ADT messages (A04 registering a patient,
// then A08 updating it) over MLLP from 64 connections to a real listener
// with SQLite storage (synchronous=FULL: each commit is on disk before the
// ACK), and, in the same run, the same number of messages to a bare MLLP
// echo server over loopback. It reports both rates and their ratio, and the
// largest group commit:
//
//	go test -run '^$' -bench ADTDurableAck -benchtime 6000x ./hl7/adt
//
// A connection waits for each ACK (MLLP original mode), and an ACK waits for
// a disk write: one connection alone gets one message per commit. The rate
// comes from many connections committed together, which is how a busy feed
// (several interface engines, several threads) arrives.
func BenchmarkADTDurableAck(b *testing.B) {
	const conns = 64
	r := newRig(b, testdb.SQLite(b))
	fixed := []byte("MSH|^~\\&|ECHO|X|DPI|CHG|20250101||ACK^A04^ACK|1|P|2.5\rMSA|AA|1\r")
	echo := &hl7.Server{Handler: hl7.HandlerFunc(func(ctx context.Context, peer string, m []byte) []byte { return fixed }), Log: quiet()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go echo.Serve(ln)
	defer echo.Shutdown(context.Background())

	msgs := make([][]byte, b.N)
	for i := range msgs {
		ipp := fmt.Sprintf("B%07d", i/2)
		trig, used := "A04", ""
		if i%2 == 1 {
			trig, used = "A08", "~MARTIN^Anne^^^^^D"
		}
		msgs[i] = []byte(adtMsg(trig, fmt.Sprintf("BENCH-%d", i), pidOf(map[int]string{3: ipp + "^^^CHG^PI",
			5: "LEROY^Anne^^^^^L" + used, 7: "19800101", 8: "F", 32: "PROV"})))
	}
	// Each connection sends a contiguous share, so an A08 follows its A04.
	send := func(addr string, check bool) time.Duration {
		var wg sync.WaitGroup
		var failed atomic.Int64
		start := time.Now()
		per := (len(msgs) + conns - 1) / conns
		for c := 0; c < conns; c++ {
			lo, hi := c*per, min((c+1)*per, len(msgs))
			if lo%2 == 1 {
				lo++
			}
			if hi%2 == 1 && hi < len(msgs) {
				hi++
			}
			if lo >= hi {
				continue
			}
			wg.Add(1)
			go func(part [][]byte) {
				defer wg.Done()
				cl := &hl7.Client{Addr: addr, Timeout: time.Minute}
				defer cl.Close()
				for _, m := range part {
					reply, err := cl.Send(context.Background(), m)
					if err != nil {
						failed.Add(1)
						continue
					}
					if check {
						ack, err := hl7.Parse(reply)
						if err != nil || ack.Segment("MSA").Get(1) != hl7.AA {
							failed.Add(1)
						}
					}
				}
			}(msgs[lo:hi])
		}
		wg.Wait()
		if n := failed.Load(); n > 0 {
			b.Fatalf("%d messages not acknowledged AA", n)
		}
		return time.Since(start)
	}
	b.ResetTimer()
	echoTook := send(ln.Addr().String(), false)
	relaisTook := send(r.addr, true)
	b.StopTimer()
	n := float64(len(msgs))
	relaisRate, echoRate := n/relaisTook.Seconds(), n/echoTook.Seconds()
	b.ReportMetric(relaisRate, "msg/s")
	b.ReportMetric(echoRate, "echo-msg/s")
	b.ReportMetric(relaisRate/echoRate, "ratio-to-echo")
	b.ReportMetric(float64(r.store.maxBatch), "max-batch")
}
