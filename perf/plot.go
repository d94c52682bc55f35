package perf

import (
	"errors"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// PlotCDF draws the latency CDF of each named histogram into file; the extension (.svg,
// .png, .pdf) picks the format. The x axis is logarithmic because loopback latencies span
// tens of microseconds to hundreds of milliseconds.
func PlotCDF(file, title string, hists map[string]*Latency) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "latency (ms)"
	p.Y.Label.Text = "fraction of messages ≤ x"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Min, p.Y.Max = 0, 1
	p.Add(plotter.NewGrid())
	names := make([]string, 0, len(hists))
	for name, h := range hists {
		if h != nil && h.Count() > 0 {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return errors.New("perf: no latencies to plot")
	}
	slices.Sort(names)
	colors := []color.Color{color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
		color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}}
	for i, name := range names {
		cdf := hists[name].CDF()
		pts := make(plotter.XYs, len(cdf))
		for j, c := range cdf {
			pts[j].X, pts[j].Y = max(c.Millis, 0.001), c.Fraction
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		line.Color = colors[i%len(colors)]
		line.Width = vg.Points(1.5)
		p.Add(line)
		p.Legend.Add(name, line)
	}
	p.Legend.Top = false
	p.Legend.Left = false
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(file)), ".")
	if format == "" {
		format = "svg"
	}
	w, err := p.WriterTo(8*vg.Inch, 5*vg.Inch, format)
	if err != nil {
		return err
	}
	return writeFile(file, w)
}

// PlotSuite draws one CDF per suite scenario (<dir>/<scenario>.svg) from the last run
// against each target.
func PlotSuite(dir string, res *SuiteResult, logf func(string, ...any)) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, c := range res.Tables {
		hists := map[string]*Latency{}
		for name, runs := range c.Runs {
			if n := len(runs); n > 0 && runs[n-1].Hist() != nil && c.Ref[name] == "" {
				hists[name] = runs[n-1].Hist()
			}
		}
		if len(hists) == 0 {
			continue
		}
		file := filepath.Join(dir, c.Scenario+".svg")
		if err := PlotCDF(file, c.Scenario+": publish → receipt latency", hists); err != nil {
			return err
		}
		logf("suite: wrote %s", file)
	}
	return nil
}
