package egress_test

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/egress"
)

func TestPublicRefusesEveryInternalRange(t *testing.T) {
	for _, tc := range []struct {
		addr   string
		public bool
	}{
		{"127.0.0.1", false},
		{"127.8.9.10", false},
		{"::1", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"172.31.255.255", false},
		{"192.168.1.1", false},
		{"169.254.169.254", false}, // cloud metadata
		{"fe80::1", false},
		{"fc00::1", false},
		{"fd00:ec2::254", false}, // AWS metadata over IPv6
		{"0.0.0.0", false},
		{"::", false},
		{"224.0.0.1", false},
		{"ff02::1", false},
		{"255.255.255.255", false},
		{"100.64.0.1", false},
		{"::ffff:127.0.0.1", false},   // IPv4-mapped loopback
		{"::ffff:10.0.0.1", false},    // IPv4-mapped private
		{"64:ff9b::a9fe:a9fe", false}, // NAT64 of 169.254.169.254
		{"2002:7f00:1::1", false},     // 6to4 of 127.0.0.1
		{"8.8.8.8", true},
		{"172.32.0.1", true},
		{"2606:4700:4700::1111", true},
		{"64:ff9b::808:808", true}, // NAT64 of 8.8.8.8
		{"::ffff:1.1.1.1", true},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			if got := egress.Public(netip.MustParseAddr(tc.addr)); got != tc.public {
				t.Fatalf("Public(%s) = %v, want %v", tc.addr, got, tc.public)
			}
		})
	}
}

// TestClientRefusesPrivateAddressesAtDialTime reaches a server on
// 127.0.0.1 by IP and by a name that resolves to it: the address is
// checked after resolution, so no name can smuggle a private address past it.
func TestClientRefusesPrivateAddressesAtDialTime(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))

	guarded := egress.NewClient(egress.Options{})
	for _, u := range []string{srv.URL, "http://localhost:" + port, "http://[::ffff:127.0.0.1]:" + port} {
		resp, err := guarded.Get(u)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("GET %s was not refused", u)
		}
		if !errors.Is(err, egress.ErrPrivateAddress) {
			t.Fatalf("GET %s: %v, want ErrPrivateAddress", u, err)
		}
	}
	if hits != 0 {
		t.Fatalf("the private server was reached %d times", hits)
	}

	resp, err := egress.NewClient(egress.Options{AllowPrivate: true}).Get(srv.URL)
	if err != nil {
		t.Fatalf("with AllowPrivate: %v", err)
	}
	resp.Body.Close()
	if hits != 1 {
		t.Fatalf("with AllowPrivate the server saw %d requests", hits)
	}
}
