package httpcodec

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// result is everything a caller can observe of one Parse outcome, flattened
// so that two feeding modes compare with ==.
type result struct {
	status    int // 0 when accepted or still incomplete
	n         int // bytes of the request; 0 when incomplete or failed
	method    string
	target    string
	path      string
	query     string
	headers   string // "name: value\n" per field, as HeaderAt gives them
	host      string
	body      string
	minor     int
	keepAlive bool
	expect    bool
}

func (r result) String() string {
	return fmt.Sprintf("{status %d n %d %q %q minor %d ka %v body %q headers %q}",
		r.status, r.n, r.method, r.target, r.minor, r.keepAlive, r.body, r.headers)
}

func observe(p *Parser, n int, err error) result {
	if err != nil {
		return result{status: err.(*Error).Status}
	}
	if n == 0 {
		return result{}
	}
	r := p.Request()
	var h strings.Builder
	for i := 0; i < r.NumHeaders(); i++ {
		name, value := r.HeaderAt(i)
		fmt.Fprintf(&h, "%s: %s\n", name, value)
	}
	return result{
		n: n, method: string(r.Method()), target: string(r.Target()),
		path: string(r.Path()), query: string(r.Query()), headers: h.String(),
		host: string(r.Host()), body: string(r.Body()), minor: r.Minor(),
		keepAlive: r.KeepAlive(), expect: r.ExpectContinue(),
	}
}

// feed parses the requests in input as a connection would see them: the
// bytes arrive in pieces of the given sizes (the last piece takes the rest),
// each piece is appended to the carried buffer, and Parse runs on the carry
// until it needs more. Consumed requests are cut off the carry by copying
// the rest into a fresh buffer, as the engine may move it. It returns one
// result per request, ending with the failure or the incomplete tail if any.
func feed(lim Limits, input []byte, pieces []int) []result {
	p := NewParser(lim)
	var carry []byte
	var out []result
	rest := input
	for len(rest) > 0 || len(pieces) == 0 {
		k := len(rest)
		if len(pieces) > 0 {
			k = min(pieces[0], len(rest))
			pieces = pieces[1:]
		}
		carry = append(carry, rest[:k]...)
		rest = rest[k:]
		for len(carry) > 0 {
			n, err := p.Parse(carry)
			if err != nil {
				return append(out, observe(p, n, err))
			}
			if n == 0 {
				break
			}
			out = append(out, observe(p, n, nil))
			carry = append([]byte(nil), carry[n:]...)
		}
		if len(rest) == 0 {
			break
		}
	}
	if len(carry) > 0 {
		out = append(out, result{})
	}
	return out
}

// onePieces returns pieces of one byte each.
func onePieces(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = 1
	}
	return s
}

// randomPieces returns piece sizes that sum to n, drawn from r.
func randomPieces(r *rand.Rand, n int) []int {
	var s []int
	for n > 0 {
		k := 1 + r.IntN(min(n, 1+r.IntN(64)))
		s = append(s, k)
		n -= k
	}
	return s
}

func sameResults(a, b []result) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
