// Command pushwire runs one node of the pushwire push server: flags and
// PUSHWIRE_* environment variables and --config become a server.Config, SIGTERM/SIGINT drain it, nothing else.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/pushwire/pushwire/server"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	cfg := server.DefaultConfig()
	fs := flag.NewFlagSet("pushwire", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "pushwire: HTTP long-connection push server.\n\nUsage: pushwire [flags]\n\nEvery setting, with its default:\n")
		fs.PrintDefaults()
	}
	registerFlags(fs, &cfg)
	fs.String("config", "", "file of settings, one \"name value\" a line; PUSHWIRE_<NAME> environment variables win over it, flags over both")
	upgradeTimeout := registerUpgradeFlags(fs) // upgrade.go
	printOnly := fs.Bool("print-config", false, "print the effective settings in the --config format (secrets masked) and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "pushwire: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	sources, err := loadSettings(fs, os.LookupEnv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pushwire:", err)
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		from := sources["log-level"]
		if from == "" {
			from = "default"
		}
		fmt.Fprintf(os.Stderr, "pushwire: log-level %q from %s: want debug, info, warn or error\n", cfg.LogLevel, from)
		return 2
	}
	if *printOnly {
		printConfig(os.Stdout, fs)
		return 0
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	cfg.Logger = log

	// Signals are caught before the listeners open, so a SIGTERM that comes
	// right after start drains instead of killing the process.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	hups := make(chan os.Signal, 1)
	signal.Notify(hups, syscall.SIGHUP) // caught from the start: the default would kill the node
	srv, err := server.New(cfg)
	if err != nil {
		log.Error("bad settings", "err", withSources(err, fs, sources))
		return 2
	}
	upg, err := startOrTakeOver(srv, log, *upgradeTimeout, args) // upgrade.go: SIGUSR2
	if err != nil {
		log.Error("cannot start", "err", withSources(err, fs, sources))
		return 1
	}
	go reloadOnHUP(srv, hups, log)
	sig := <-sigs
	upg.settle() // a drain must not shut down sockets being handed over
	log.Info("draining", "signal", sig.String(), "drain", cfg.Drain)
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Drain)
	go func() { // a second signal ends the drain at once
		<-sigs
		cancel()
	}()
	if err := srv.Drain(ctx); err != nil {
		log.Warn("drain cut short", "err", err)
	}
	cancel()
	srv.Close()
	log.Info("stopped")
	return 0
}

// reloadOnHUP reloads the TLS certificate and key on every SIGHUP; a failed reload is logged
// and the pair in use stays.
func reloadOnHUP(srv *server.Server, hups <-chan os.Signal, log *slog.Logger) {
	for range hups {
		if err := srv.ReloadTLS(); err != nil {
			log.Error("SIGHUP: TLS certificate not reloaded; the old pair stays", "err", err)
			continue
		}
		log.Info("SIGHUP: TLS certificate reloaded")
	}
}
