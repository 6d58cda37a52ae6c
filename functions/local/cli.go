package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/webtrack/webtrack/shared/config"
)

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1 // the command failed
	exitUsage = 2 // the command line is wrong
)

// command is one of webtrack's sub-commands. Each parses its own flags with
// the standard flag package, through cli, which handles -h and mistakes the
// same way for all. None takes positional arguments.
type command struct {
	name    string
	summary string
	// setup declares the command's flags on fs and returns what runs the
	// command once they are parsed, writing its output to stdout.
	setup func(fs *flag.FlagSet, stdout io.Writer) func() error
}

// commands are webtrack's sub-commands; the first runs when none is named.
var commands = []command{
	{
		name:    "serve",
		summary: "serve the web-tracking API on WEBTRACK_ADDR until SIGTERM or Ctrl-C (the default)",
		setup:   func(*flag.FlagSet, io.Writer) func() error { return serve },
	},
	{
		name:    "token",
		summary: "print credentials for signed writes, as STS's AssumeRole answers, made with the first of WEBTRACK_TOKEN_SECRETS",
		setup:   tokenCommand,
	},
}

// cli runs the command line args (without the program name) and returns the
// exit status. Help goes to stdout; errors and usage mistakes to stderr.
func cli(args []string, stdout, stderr io.Writer) int {
	global := flag.NewFlagSet("webtrack", flag.ContinueOnError)
	showVersion := global.Bool("version", false, "print the version and exit")
	if code, ok := parse(global, args, stdout, stderr, usage); !ok {
		return code
	}
	rest := global.Args()
	switch {
	case *showVersion && len(rest) > 0:
		return mistake(stderr, "webtrack", fmt.Errorf("--version takes no argument, not %q", rest[0]))
	case *showVersion:
		fmt.Fprintln(stdout, version())
		return exitOK
	case len(rest) == 0:
		rest = []string{commands[0].name}
	case rest[0] == "help" && len(rest) == 1:
		usage(stdout, global)
		return exitOK
	case rest[0] == "help" && len(rest) == 2: // webtrack help serve
		rest = []string{rest[1], "--help"}
	case rest[0] == "help":
		return mistake(stderr, "webtrack help", fmt.Errorf("unexpected argument %q", rest[2]))
	}
	i := slices.IndexFunc(commands, func(c command) bool { return c.name == rest[0] })
	if i < 0 {
		return mistake(stderr, "webtrack", fmt.Errorf("unknown command %q", rest[0]))
	}
	cmd, rest := commands[i], rest[1:]
	fs := flag.NewFlagSet("webtrack "+cmd.name, flag.ContinueOnError)
	run := cmd.setup(fs, stdout)
	if code, ok := parse(fs, rest, stdout, stderr, cmd.usage); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return mistake(stderr, fs.Name(), fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	if err := run(); err != nil {
		if u := (usageError{}); errors.As(err, &u) {
			return mistake(stderr, fs.Name(), err)
		}
		fmt.Fprintln(stderr, "webtrack:", err)
		return exitError
	}
	return exitOK
}

// usageError is a command's finding that its command line is wrong, such as
// a required flag left out.
type usageError struct{ error }

// parse parses args into fs. It returns ok to go on; otherwise the exit
// status, having printed the help that -h asked for, or the mistake.
func parse(fs *flag.FlagSet, args []string, stdout, stderr io.Writer, help func(io.Writer, *flag.FlagSet)) (code int, ok bool) {
	fs.SetOutput(io.Discard) // cli prints the errors itself, once
	fs.Usage = func() {}
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		help(stdout, fs)
		return exitOK, false
	case err != nil:
		return mistake(stderr, fs.Name(), err), false
	}
	return exitOK, true
}

// mistake reports a wrong command line and returns its exit status.
func mistake(stderr io.Writer, name string, err error) int {
	fmt.Fprintf(stderr, "%s: %v\nRun 'webtrack --help' for usage.\n", name, err)
	return exitUsage
}

// usage prints the help for webtrack: what it does, its commands and flags,
// and the environment variables it reads.
func usage(w io.Writer, global *flag.FlagSet) {
	fmt.Fprint(w, `webtrack serves the Log Service web-tracking write API (PutWebTracking) over
HTTP and stores every batch in a sink: a directory, S3, OSS, SQS or Kafka.

Usage:
  webtrack [flags] [command] [command flags]

Commands:
`)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	tw.Flush()
	fmt.Fprint(w, "\nFlags:\n")
	printFlags(w, global)
	fmt.Fprint(w, "\nSettings are environment variables, read once at start (README.md, Configuration):\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range config.Settings() {
		fmt.Fprintf(tw, "  %s\t%s\n", s.Name, s.Help)
	}
	tw.Flush()
}

// usage prints the help for the command c.
func (c command) usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: webtrack %s", c.name)
	hasFlags := false
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprint(w, " [flags]")
	}
	fmt.Fprintf(w, "\n\n%s%s.\n\nFlags:\n", strings.ToUpper(c.summary[:1]), c.summary[1:])
	printFlags(w, fs)
	fmt.Fprint(w, "\nSettings are environment variables: see webtrack --help.\n")
}

// printFlags lists fs's flags, one a line, as --name, and -h.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		name, help := flag.UnquoteUsage(f)
		if name != "" {
			name = " " + name
		}
		fmt.Fprintf(tw, "  --%s%s\t%s\n", f.Name, name, help)
	})
	fmt.Fprint(tw, "  -h, --help\tprint this help\n")
	tw.Flush()
}

// version describes the build: the module version and the VCS revision it
// was built from, with its time and whether the tree was modified.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "webtrack (no build information) " + runtime.Version()
	}
	vcs := map[string]string{}
	for _, s := range info.Settings {
		vcs[s.Key] = s.Value
	}
	rev := "revision unknown"
	if r := vcs["vcs.revision"]; r != "" {
		rev = "revision " + r
		if t := vcs["vcs.time"]; t != "" {
			rev += ", " + t
		}
		if vcs["vcs.modified"] == "true" {
			rev += ", modified"
		}
	}
	return fmt.Sprintf("webtrack %s (%s) %s %s/%s", info.Main.Version, rev, info.GoVersion, runtime.GOOS, runtime.GOARCH)
}
