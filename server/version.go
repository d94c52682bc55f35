package server

// version is the release this binary was built as, set by the linker:
//
//	go build -ldflags "-X github.com/pushwire/pushwire/server.version=1.4.0" ./cmd/pushwire
//
// Nothing else writes it; a plain go build or go run says "dev".
var version = "dev"

// Version is the release this binary was built as ("dev" unless set at build time).
func Version() string { return version }
