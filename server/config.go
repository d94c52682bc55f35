package server

import (
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/mesh"
)

// Config holds every setting of a node (edge/config.go): the loops read it,
// so it lives below them; the assembly and cmd/pushwire name it here.
type Config = edge.Config

// DefaultConfig is edge.DefaultConfig: every setting at its default.
func DefaultConfig() Config { return edge.DefaultConfig() }

// WithoutUserinfo hides the user info of a URL for logs and printed
// settings (mesh.WithoutUserinfo): "redis://u:secret@h:6379/0" becomes
// "redis://***@h:6379/0".
func WithoutUserinfo(u string) string { return mesh.WithoutUserinfo(u) }
