package config

import (
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/webtrack/webtrack/shared/names"
)

// AllowLocalFileSink is the variable that lets a function store on its own
// disk, for a mounted NAS or EFS path.
const AllowLocalFileSink = "WEBTRACK_ALLOW_LOCAL_FILE_SINK"

// project reads a project name, refusing one that every request would answer
// with 404 ProjectNotExist.
func (r *reader) project(name string, dst *string) {
	r.string(name, dst)
	if !names.Project(*dst) {
		r.fail(name, *dst, "not a project name: 3-63 lowercase letters, digits and '-', starting and ending with a letter or digit")
	}
}

// domains reads a list of bare domain names, which a Host is matched against
// without its port: a scheme, port or path would never match.
func (r *reader) domains(name string, dst *[]string) {
	r.list(name, dst)
	for _, d := range *dst {
		if !validDomain(d) {
			r.fail(name, d, "not a domain: give a bare name such as track.example.com, without scheme, port or path")
		}
	}
}

func validDomain(d string) bool {
	for label := range strings.SplitSeq(d, ".") {
		if label == "" || strings.Trim(label, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
			return false
		}
	}
	return true
}

// listenAddr reads the local server's address: WEBTRACK_ADDR as host:port,
// else :$PORT, the container platforms' convention.
func (r *reader) listenAddr(dst *string) {
	if v := strings.TrimSpace(r.getenv("WEBTRACK_ADDR")); v != "" {
		if _, port, err := net.SplitHostPort(v); err != nil || !validPort(port) {
			r.fail("WEBTRACK_ADDR", v, "want host:port, such as 127.0.0.1:8080 or :8080")
		}
		*dst = v
	} else if v := strings.TrimSpace(r.getenv("PORT")); v != "" {
		if !validPort(v) {
			r.fail("PORT", v, "want a port number from 0 to 65535")
		}
		*dst = ":" + v
	}
}

func validPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 0 && n <= 65535
}

// homeInFileSink refuses a file sink under ~, which no shell expands inside
// a URL: file://~/data would store under a directory named ~.
func (r *reader) homeInFileSink(sinkURL string) {
	rest, ok := strings.CutPrefix(sinkURL, "file://~")
	if !ok {
		return
	}
	want := "file:///home/you/data"
	if home := r.getenv("HOME"); home != "" && (rest == "" || rest[0] == '/') {
		want = "file://" + home + rest
	}
	r.fail("WEBTRACK_SINK", sinkURL, "~ is not expanded in a URL, so this names a directory called ~ under the working directory: give an absolute path, such as "+want)
}

// The function platforms, as the platform method names them.
const (
	awsLambda       = "AWS Lambda"
	functionCompute = "Function Compute"
)

// platform names the function platform the process runs on, from the
// variables each sets in every function, or returns "" for none.
func (r *reader) platform() string {
	switch {
	case r.getenv("AWS_LAMBDA_FUNCTION_NAME") != "":
		return awsLambda
	case r.getenv("FC_FUNCTION_NAME") != "":
		return functionCompute
	}
	return ""
}

// fileSinkOnFunction refuses a file sink on a function platform, whose disk
// goes with the instance, unless AllowLocalFileSink says it is a mount.
func (r *reader) fileSinkOnFunction(sinkURL string) {
	platform := r.platform()
	var allow bool
	r.bool(AllowLocalFileSink, &allow)
	if u, err := url.Parse(sinkURL); platform == "" || allow || err != nil || u.Scheme != "file" {
		return
	}
	r.fail("WEBTRACK_SINK", sinkURL, "on "+platform+" a file sink answers 2xx for batches lost with the instance: "+
		"use an object store or queue, or set "+AllowLocalFileSink+"=true for a mounted NAS or EFS path")
}
