package auth

import (
	"errors"
	"fmt"
)

// ACL is the compiled --topic-acl templates, e.g. "user.{user}.*": a user may subscribe to every
// topic some template matches with {user} standing for that user's own id. The zero ACL, and a nil
// *ACL, allow nothing. Safe for concurrent use: nothing changes after ParseACL.
type ACL struct {
	templates []template
}

// template is one compiled --topic-acl template.
type template struct {
	pattern []byte // the template with each "{user}" replaced by userMark
	user    bool   // the template names {user}, so it never matches without a user
}

// maxTemplateBytes bounds a template; topic names this long are already unusual.
const maxTemplateBytes = 256

// placeholder is the only one a template knows.
const placeholder = "{user}"

// ParseACL compiles templates. Each is 1 to 256 printable ASCII bytes without spaces, where '*'
// matches any run of bytes and "{user}" stands for the subscriber's user id; no other '{' or '}'
// is allowed. The error names the first bad template and says why. nil or empty input gives an
// ACL that allows nothing.
func ParseACL(templates []string) (*ACL, error) {
	a := &ACL{templates: make([]template, 0, len(templates))}
	for _, text := range templates {
		t, err := compileTemplate(text)
		if err != nil {
			return nil, err
		}
		a.templates = append(a.templates, t)
	}
	return a, nil
}

// compileTemplate checks one template and replaces its placeholders by userMark.
func compileTemplate(text string) (template, error) {
	switch {
	case text == "":
		return template{}, errors.New(`empty template; give a topic pattern such as "user.{user}.*"`)
	case len(text) > maxTemplateBytes:
		return template{}, fmt.Errorf("template %.40q... is %d bytes; at most %d", text, len(text), maxTemplateBytes)
	}
	for i := 0; i < len(text); i++ {
		if b := text[i]; b <= ' ' || b > '~' {
			return template{}, fmt.Errorf("template %q has %s at byte %d; templates are printable ASCII without spaces",
				text, describeByte(b), i)
		}
	}
	t := template{pattern: make([]byte, 0, len(text))}
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '{':
			if len(text)-i < len(placeholder) || text[i:i+len(placeholder)] != placeholder {
				return template{}, fmt.Errorf(`template %q: the "{" at byte %d does not begin "{user}", the only placeholder`, text, i)
			}
			t.pattern = append(t.pattern, userMark)
			t.user = true
			i += len(placeholder) - 1
		case '}':
			return template{}, fmt.Errorf(`template %q: the "}" at byte %d closes no "{user}"`, text, i)
		default:
			t.pattern = append(t.pattern, text[i])
		}
	}
	return t, nil
}

// describeByte names a byte that a template may not hold.
func describeByte(b byte) string {
	switch b {
	case ' ':
		return "a space"
	case '\t':
		return "a tab"
	}
	return fmt.Sprintf("0x%02x", b)
}

// Allows reports whether some template matches topic, with {user} standing for exactly the bytes
// of user (never a wildcard: a user named "*" or "a.*" widens nothing) and '*' as in Match. A
// template naming {user} never matches when user is empty. It does not allocate.
func (a *ACL) Allows(user, topic []byte) bool {
	if a == nil {
		return false
	}
	for i := range a.templates {
		t := &a.templates[i]
		if t.user && len(user) == 0 {
			continue
		}
		if glob(t.pattern, topic, user, t.user) {
			return true
		}
	}
	return false
}

// Len returns the number of templates.
func (a *ACL) Len() int {
	if a == nil {
		return 0
	}
	return len(a.templates)
}
