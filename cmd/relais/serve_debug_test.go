package main

import (
	"strings"
	"testing"
)

// Profiles show the server's memory: --debug-addr takes a loopback address
// only, and says why otherwise.
func TestDebugAddrLoopbackOnly(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:6060", "[::1]:6060", "localhost:6060", "127.0.0.2:0"} {
		if err := checkDebugAddr(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"0.0.0.0:6060", ":6060", "10.1.2.3:6060", "relais.chu.local:6060", "6060"} {
		err := checkDebugAddr(bad)
		if err == nil || !strings.Contains(err.Error(), "--debug-addr") {
			t.Errorf("%s: accepted or unclear: %v", bad, err)
		}
	}
}
