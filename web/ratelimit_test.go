package web

import (
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

func TestTokenBucket(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := newLimiter(3, 0.5, func() time.Time { return now }) // 3 at once, one more every 2 s
	for i := 0; i < 3; i++ {
		if ok, _ := l.allow("a"); !ok {
			t.Fatalf("request %d refused within the burst", i+1)
		}
	}
	ok, wait := l.allow("a")
	if ok || wait != 2*time.Second {
		t.Fatalf("4th: ok=%v wait=%v; want refused, 2 s", ok, wait)
	}
	if ok, _ := l.allow("b"); !ok {
		t.Fatal("another key was refused")
	}
	now = now.Add(2 * time.Second)
	if ok, _ := l.allow("a"); !ok {
		t.Fatal("refused after the refill")
	}
	// Sign-in buckets: blocked does not spend, take does.
	s := newLimiter(2, 1.0/60, func() time.Time { return now })
	for i := 0; i < 5; i++ {
		if ok, _ := s.blocked("k"); !ok {
			t.Fatal("checking spent the bucket")
		}
	}
	s.take("k")
	s.take("k")
	s.take("k") // an empty bucket stays at zero, never below
	if ok, wait := s.blocked("k"); ok || wait != time.Minute {
		t.Fatalf("after 2 failures: ok=%v wait=%v", ok, wait)
	}
	now = now.Add(time.Minute)
	if ok, _ := s.blocked("k"); !ok {
		t.Fatal("still blocked a minute later")
	}
}

func TestClientIPBehindTrustedProxies(t *testing.T) {
	s := &Server{auth: newAuthState(AuthConfig{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})}
	cases := []struct {
		remote, xff, want string
	}{
		{"203.0.113.7:5555", "", "203.0.113.7"},
		{"203.0.113.7:5555", "1.2.3.4", "203.0.113.7"},            // an untrusted peer cannot claim another address
		{"10.0.0.5:443", "198.51.100.9", "198.51.100.9"},          // the proxy's word
		{"10.0.0.5:443", "6.6.6.6, 198.51.100.9", "198.51.100.9"}, // the client forged the first hop
		{"10.0.0.5:443", "198.51.100.9, 10.0.0.4", "198.51.100.9"},
		{"10.0.0.5:443", "garbage", "10.0.0.5"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := s.clientIP(r); got != c.want {
			t.Errorf("%s via %q: %s; want %s", c.remote, c.xff, got, c.want)
		}
	}
}

func TestPendingCeremoniesAreBounded(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := ttlCache[int]{now: func() time.Time { return now }}
	for i := 0; i < maxPending; i++ {
		if !c.put(string(rune(i)), i, time.Minute) {
			t.Fatalf("refused at %d", i)
		}
	}
	if c.put("one more", 0, time.Minute) {
		t.Fatal("more than maxPending kept")
	}
	if v, ok := c.take(string(rune(7))); !ok || v != 7 {
		t.Fatalf("take = %d %v", v, ok)
	}
	if _, ok := c.take(string(rune(7))); ok {
		t.Fatal("taken twice")
	}
	now = now.Add(2 * time.Minute)
	if !c.put("later", 1, time.Minute) {
		t.Fatal("expired values still count")
	}
}
