package clientip_test

import (
	"net/http"
	"net/netip"
	"testing"

	"github.com/berth-registry/berth/internal/clientip"
)

func TestAddrBelievesForwardedForOnlyFromTrustedProxies(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	res := clientip.New(trusted)
	cases := []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"no proxy", "203.0.113.7:5000", nil, "203.0.113.7"},
		{"untrusted peer's header is ignored", "203.0.113.7:5000", []string{"1.2.3.4"}, "203.0.113.7"},
		{"trusted proxy names the client", "10.1.2.3:80", []string{"198.51.100.9"}, "198.51.100.9"},
		{"a forged entry left of the real one is ignored", "10.1.2.3:80", []string{"6.6.6.6, 198.51.100.9"}, "198.51.100.9"},
		{"chain of trusted proxies", "10.1.2.3:80", []string{"198.51.100.9, 10.9.9.9", "10.4.4.4"}, "198.51.100.9"},
		{"all trusted: the leftmost", "10.1.2.3:80", []string{"10.7.7.7, 10.8.8.8"}, "10.7.7.7"},
		{"garbage stops the walk", "10.1.2.3:80", []string{"198.51.100.9, nonsense"}, "10.1.2.3"},
		{"entries with ports", "10.1.2.3:80", []string{"198.51.100.9:4711"}, "198.51.100.9"},
		{"IPv6 peer and bracketed entry", "[::1]:80", []string{"[2001:db8::5]"}, "2001:db8::5"},
		{"IPv4-mapped peer", "[::ffff:10.0.0.1]:80", []string{"198.51.100.9"}, "198.51.100.9"},
		{"trusted proxy without header", "10.1.2.3:80", nil, "10.1.2.3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: c.remote, Header: http.Header{}}
			for _, v := range c.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := res.Addr(r); got != c.want {
				t.Errorf("Addr = %q, want %q", got, c.want)
			}
		})
	}
	// Nobody trusted: the header never counts.
	r := &http.Request{RemoteAddr: "127.0.0.1:1", Header: http.Header{"X-Forwarded-For": {"1.2.3.4"}}}
	if got := clientip.New(nil).Addr(r); got != "127.0.0.1" {
		t.Errorf("without trusted proxies Addr = %q", got)
	}
}
