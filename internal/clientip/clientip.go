// Package clientip works out which address a request comes from. Behind a
// reverse proxy the direct peer is the proxy; the proxy names the client
// in X-Forwarded-For, which any client can also write. So the header is
// believed only hop by hop from the right, and only while the hop that
// wrote it is a proxy the operator listed as trusted.
package clientip

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// maxHops bounds how many X-Forwarded-For entries are looked at: real
// chains are a few proxies long.
const maxHops = 32

// Resolver finds client addresses, trusting the proxies in its networks.
// The zero value trusts nobody: the direct peer is the client.
type Resolver struct {
	trusted []netip.Prefix
}

// New returns a Resolver that believes X-Forwarded-For written by peers in
// trusted.
func New(trusted []netip.Prefix) *Resolver {
	return &Resolver{trusted: trusted}
}

// Addr returns the client address of r: the direct peer, or, when the
// peer is a trusted proxy, the rightmost X-Forwarded-For entry that is not
// itself a trusted proxy (the leftmost when all are). An unparsable entry
// ends the walk at the last address known to be real.
func (res *Resolver) Addr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	cur := peer.Unmap()
	if res == nil || len(res.trusted) == 0 || !res.trusts(cur) {
		return cur.String()
	}
	hops := forwarded(r.Header.Values("X-Forwarded-For"))
	for i := len(hops) - 1; i >= 0 && res.trusts(cur); i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			break
		}
		cur = a
	}
	return cur.String()
}

func (res *Resolver) trusts(a netip.Addr) bool {
	for _, p := range res.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwarded returns the last maxHops entries of the header's values, in order.
func forwarded(values []string) []string {
	var hops []string
	for _, v := range values {
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				hops = append(hops, h)
			}
		}
	}
	if len(hops) > maxHops {
		hops = hops[len(hops)-maxHops:]
	}
	return hops
}

// parseHop reads one entry: an address, possibly with a port, IPv6
// possibly in brackets.
func parseHop(h string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(h); err == nil {
		return ap.Addr().Unmap(), true
	}
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")); err == nil {
		return a.Unmap(), true
	}
	return netip.Addr{}, false
}
