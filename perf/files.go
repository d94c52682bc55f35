package perf

import (
	"io"
	"os"
)

// writeFile writes w's output to name, reporting the close error (a full disk shows there).
func writeFile(name string, w io.WriterTo) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if _, err := w.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
