package web

import (
	"encoding/json"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Rate limits, by token bucket: a key may spend up to burst requests at
// once, and earns rate more each second. They live in memory (one Relais
// serves one site from one process; the standby starts empty, which is
// harmless). Three buckets:
//   - sign-in failures per address and username: guessing one account's
//     password is slow (a lock-out follows anyway after a few);
//   - sign-in failures per address: trying many accounts is slow too;
//   - API requests per token, session, account (Basic) or address: one
//     runaway script cannot starve the wards.

// RateLimits tune the buckets; zero fields take the defaults.
type RateLimits struct {
	SignInBurst    int     // failed sign-ins at once per address and username (default 10)
	SignInPerMin   float64 // regained per minute (default 10)
	SignInIPBurst  int     // failed sign-ins at once per address, all usernames (default 50)
	SignInIPPerMin float64 // regained per minute (default 30)
	APIBurst       int     // API requests at once per client (default 600)
	APIPerSecond   float64 // regained per second (default 50)
}

func (l RateLimits) withDefaults() RateLimits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	deff := func(v *float64, d float64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.SignInBurst, 10)
	deff(&l.SignInPerMin, 10)
	def(&l.SignInIPBurst, 50)
	deff(&l.SignInIPPerMin, 30)
	def(&l.APIBurst, 600)
	deff(&l.APIPerSecond, 50)
	return l
}

type limiter struct {
	rate  float64 // tokens per second
	burst float64
	now   func() time.Time

	mu    sync.Mutex
	m     map[string]*bucket
	calls int
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(burst int, perSecond float64, now func() time.Time) *limiter {
	return &limiter{rate: perSecond, burst: float64(burst), now: now, m: map[string]*bucket{}}
}

// fill brings key's bucket up to now; the caller holds mu.
func (l *limiter) fill(key string) *bucket {
	now := l.now()
	b, ok := l.m[key]
	if !ok {
		b = &bucket{tokens: l.burst, at: now}
		l.m[key] = b
	}
	if d := now.Sub(b.at).Seconds(); d > 0 {
		b.tokens = math.Min(l.burst, b.tokens+d*l.rate)
		b.at = now
	}
	l.calls++
	if l.calls%4096 == 0 {
		l.sweep(now)
	}
	return b
}

// sweep forgets full buckets, which are the same as no bucket.
func (l *limiter) sweep(now time.Time) {
	for k, b := range l.m {
		if b.tokens+now.Sub(b.at).Seconds()*l.rate >= l.burst {
			delete(l.m, k)
		}
	}
}

func (l *limiter) wait(b *bucket) time.Duration {
	return time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// allow spends a token of key's bucket; when there is none it says how long
// to wait.
func (l *limiter) allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.fill(key)
	if b.tokens < 1 {
		return false, l.wait(b)
	}
	b.tokens--
	return true, 0
}

// blocked reports whether key's bucket is empty, without spending: sign-in
// buckets are spent only by failures.
func (l *limiter) blocked(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.fill(key)
	if b.tokens < 1 {
		return false, l.wait(b)
	}
	return true, 0
}

// take spends a token of key's bucket, if any is left.
func (l *limiter) take(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.fill(key)
	if b.tokens >= 1 {
		b.tokens--
	} else {
		b.tokens = 0
	}
}

func signInKey(ip, username string) string {
	return ip + "\x00" + strings.ToLower(strings.TrimSpace(username))
}

// checkSignIn checks both sign-in buckets before a sign-in is tried; when
// one is empty it says how long to wait, and which.
func (s *Server) checkSignIn(r *http.Request, username string) (bool, time.Duration, string) {
	ip := s.clientIP(r)
	if ok, retry := s.auth.signInIP.blocked("ip:" + ip); !ok {
		return false, retry, "too many failed sign-ins from this address"
	}
	if ok, retry := s.auth.signIn.blocked(signInKey(ip, username)); !ok {
		return false, retry, "too many failed sign-ins for this account from this address"
	}
	return true, 0, ""
}

// signInAllowed is checkSignIn for the API: it answers 429 itself.
func (s *Server) signInAllowed(w http.ResponseWriter, r *http.Request, username string) bool {
	ok, retry, what := s.checkSignIn(r, username)
	if !ok {
		s.tooMany(w, r, retry, what)
	}
	return ok
}

// signInFailed spends from both sign-in buckets.
func (s *Server) signInFailed(r *http.Request, username string) {
	ip := s.clientIP(r)
	s.auth.signInIP.take("ip:" + ip)
	s.auth.signIn.take(signInKey(ip, username))
}

// tooMany answers 429 with Retry-After (whole seconds, rounded up) and a
// problem+json body that says how long to wait.
func (s *Server) tooMany(w http.ResponseWriter, r *http.Request, retry time.Duration, what string) {
	secs := int(math.Ceil(retry.Seconds()))
	if secs < 1 {
		secs = 1
	}
	s.Log.Warn("rate limited", "what", what, "ip", s.clientIP(r), "path", r.URL.Path)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(http.StatusTooManyRequests)
	json.NewEncoder(w).Encode(Problem{Type: "about:blank", Title: http.StatusText(http.StatusTooManyRequests),
		Status: http.StatusTooManyRequests, Kind: "rate_limited",
		Detail: what + ": wait " + strconv.Itoa(secs) + " s and try again"})
}

// clientIP is the address a request comes from: the peer, or — when the
// peer is a trusted reverse proxy — the last address in X-Forwarded-For
// that is not itself a trusted proxy.
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !s.trusted(peer) {
		return host
	}
	xff := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(xff) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(xff[i]))
		if err != nil {
			break
		}
		if !s.trusted(a) {
			return a.String()
		}
	}
	return host
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.auth.cfg.TrustedProxies {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}
