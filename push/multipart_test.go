package push

import (
	"bufio"
	"bytes"
	"io"
	"mime/multipart"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// splitReader gives its bytes in two reads, split at k, as a socket might.
type splitReader struct {
	b []byte
	k int
}

func (r *splitReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := len(r.b)
	if r.k > 0 {
		n = r.k
	}
	n = copy(p, r.b[:n])
	r.b, r.k = r.b[n:], max(r.k-n, 0)
	return n, nil
}

// readParts reads a multipart stream with Go's mime/multipart and returns
// each part's body (decoded, as NextPart gives it) and Push-Id.
func readParts(t *testing.T, stream, boundary []byte) (bodies, ids []string) {
	t.Helper()
	return readPartsFrom(t, bytes.NewReader(stream), stream, boundary)
}

// readPartsSplit is readParts with the stream arriving one byte per read and
// split in two at every point: a reader must find the same parts however
// the bytes come.
func readPartsSplit(t *testing.T, stream, boundary []byte) (bodies, ids []string) {
	t.Helper()
	bodies, ids = readParts(t, stream, boundary)
	check := func(mode string, r io.Reader) {
		t.Helper()
		b, i := readPartsFrom(t, r, stream, boundary)
		if strings.Join(b, "\x00") != strings.Join(bodies, "\x00") || strings.Join(i, ",") != strings.Join(ids, ",") {
			t.Fatalf("%s: parts %q ids %q; want %q %q (as read whole)", mode, b, i, bodies, ids)
		}
	}
	check("one byte per read", iotest.OneByteReader(bytes.NewReader(stream)))
	for k := 1; k < len(stream); k++ {
		check("split at "+strconv.Itoa(k), &splitReader{stream, k})
	}
	return bodies, ids
}

func readPartsFrom(t *testing.T, src io.Reader, stream, boundary []byte) (bodies, ids []string) {
	t.Helper()
	r := multipart.NewReader(src, string(boundary))
	for {
		part, err := r.NextPart()
		if err == io.EOF {
			return bodies, ids
		}
		if err != nil {
			t.Fatalf("NextPart %d of %q: %v", len(bodies), stream, err)
		}
		b, err := io.ReadAll(part)
		if err != nil {
			t.Fatalf("reading part %d of %q: %v", len(bodies), stream, err)
		}
		bodies = append(bodies, string(b))
		ids = append(ids, part.Header.Get("Push-Id"))
	}
}

// partReader reads a whole multipart stream into its parts' bodies and ids.
type partReader func(t *testing.T, stream, boundary []byte) (bodies, ids []string)

// checkOnePart publishes body between two ordinary parts and checks that
// mime/multipart, reading as read does, finds exactly three parts, the
// middle one body.
func checkOnePart(t *testing.T, read partReader, boundary, body []byte) {
	t.Helper()
	ct := PartFields{ContentType: []byte("text/plain")}
	stream := AppendMultipartPart(nil, boundary, PartFields{ContentType: ct.ContentType, PushID: []byte("1")}, []byte("before"))
	stream = AppendMultipartPart(stream, boundary, PartFields{ContentType: ct.ContentType, PushID: []byte("2"), PushEvent: []byte("e")}, body)
	stream = AppendMultipartPart(stream, boundary, PartFields{ContentType: ct.ContentType, PushID: []byte("3")}, []byte("after"))
	stream = AppendMultipartClose(stream, boundary)
	bodies, ids := read(t, stream, boundary)
	if len(bodies) != 3 || bodies[0] != "before" || bodies[1] != string(body) || bodies[2] != "after" ||
		ids[0] != "1" || ids[1] != "2" || ids[2] != "3" {
		t.Fatalf("body %q: mime/multipart read parts %q with Push-Ids %q; want [before %q after], [1 2 3]", body, bodies, ids, body)
	}
}

// TestMultipartBodyCannotSplitPart: bodies holding the stream's delimiter,
// in every position and line-break shape, stay one part with their bytes.
func TestMultipartBodyCannotSplitPart(t *testing.T) {
	t.Parallel()
	for _, boundary := range []string{"pushwire-0123456789abcdef01234567", "b"} {
		d := "--" + boundary
		forged := "\r\n" + d + "\r\nContent-Type: application/json\r\nPush-Id: 666\r\n\r\n{\"forged\":true}"
		for _, body := range []string{
			"\r\n" + d, // the exact delimiter
			d, d + "\r\n", d + "--", d + "--\r\n", "\r\n" + d + "--\r\n",
			forged, "x" + forged + "\r\n" + d + "--",
			"a\n" + d + "\nb", "a\r" + d, "a " + d + " b",
			"= " + d + " =\r\n\t ", strings.Repeat("-", 100) + boundary,
			strings.Repeat("\xff=-\r\n ", 40) + d,
			strings.Repeat("x", 200) + "\r\n" + d + strings.Repeat("y", 200),
			// No delimiter: sent as is, and still one part.
			"", "-", "--", "\r\n--", boundary, "-" + boundary, "\r\n-" + boundary,
		} {
			checkOnePart(t, readPartsSplit, []byte(boundary), []byte(body))
		}
	}
}

// TestMultipartQuotedPrintableOnlyWhenNeeded: a body without the delimiter
// goes out byte for byte; one with it goes out encoded, in lines of at most
// 76 characters, and nowhere holds "--" (so no delimiter either).
func TestMultipartQuotedPrintableOnlyWhenNeeded(t *testing.T) {
	t.Parallel()
	boundary := []byte("pushwire-7f3a")
	plain := []byte("--pushwire-7f3 -pushwire-7f3a\r\n- -pushwire-7f3a")
	part := AppendMultipartPart(nil, boundary, PartFields{}, plain)
	if want := "--pushwire-7f3a\r\n\r\n" + string(plain) + "\r\n"; string(part) != want {
		t.Errorf("part = %q; want %q", part, want)
	}
	body := []byte(strings.Repeat("\r\n--pushwire-7f3a \t", 30))
	part = AppendMultipartPart(nil, boundary, PartFields{}, body)
	head := "--pushwire-7f3a\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
	if !bytes.HasPrefix(part, []byte(head)) || !bytes.HasSuffix(part, []byte("\r\n")) {
		t.Fatalf("part = %q; want the quoted-printable head %q", part, head)
	}
	encoded := part[len(head) : len(part)-2]
	if bytes.Contains(encoded, []byte("--")) {
		t.Errorf("encoded body %q holds \"--\"", encoded)
	}
	lines := bytes.Split(encoded, []byte("\r\n"))
	for i, line := range lines {
		if len(line) > 76 || i < len(lines)-1 && !bytes.HasSuffix(line, []byte("=")) {
			t.Errorf("line %d = %q (%d bytes); want at most 76, soft breaks only", i, line, len(line))
		}
	}
	if len(lines) < 2 {
		t.Errorf("encoded body of %d bytes is one line; want soft line breaks", len(encoded))
	}
	checkOnePart(t, readPartsSplit, boundary, body)
}

// FuzzMultipartPart: whatever the body, mime/multipart reads the stream as
// exactly the parts we wrote, with the bytes we wrote; and no line of it
// other than our own delimiters starts with "--boundary".
func FuzzMultipartPart(f *testing.F) {
	for _, seed := range []string{"", "x", "\r\n--b", "--b--", "a\n--b\r\nPush-Id: 9\r\n\r\nz", "\xff\x00=\r\n \t", "--b0undary-x"} {
		f.Add([]byte(seed), []byte("b"))
		f.Add([]byte(seed), []byte("b0undary"))
	}
	f.Fuzz(func(t *testing.T, body, boundary []byte) {
		if !validBoundary(boundary) {
			return
		}
		checkOnePart(t, readParts, boundary, body) // splits are TestMultipartBodyCannotSplitPart's
		stream := AppendMultipartPart(nil, boundary, PartFields{PushID: []byte("1")}, body)
		sc := bufio.NewScanner(bytes.NewReader(stream))
		sc.Buffer(nil, len(stream)+1)
		delim := append([]byte("--"), boundary...)
		for n := 0; sc.Scan(); n++ {
			if n > 0 && bytes.HasPrefix(sc.Bytes(), delim) {
				t.Fatalf("line %d of %q starts with the delimiter", n, stream)
			}
		}
	})
}

// validBoundary is RFC 2046's boundary syntax, without the space (a trailing
// one would be dropped by readers), 1 to 70 characters.
func validBoundary(b []byte) bool {
	if len(b) == 0 || len(b) > 70 {
		return false
	}
	for _, c := range b {
		ok := c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("'()+_,-./:=?", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}
