package server

import "github.com/pushwire/pushwire/edge"

// Config holds every setting of a node (edge/config.go): the loops read it,
// so it lives below them; the assembly and cmd/pushwire name it here.
type Config = edge.Config

// DefaultConfig is edge.DefaultConfig: every setting at its default.
func DefaultConfig() Config { return edge.DefaultConfig() }
