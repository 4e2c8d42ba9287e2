// Command standin takes the place, in boot tests, of the images that cannot
// be built here from Debian packages: Element Web, static-web-server, the
// Exim relay, and the bridges and bots. Each role reads the environment and
// mounts the bundle gives the real image and answers what the rest of the
// bundle asks of it, so that a boot shows whether the bundle wires them up
// right; what the real programs do beyond that is theirs to test.
//
// Usage: standin element-web | static-web-server | exim-relay | appservice ARG...
//
// Started under another name, it is what a bridge's image runs: as curl,
// python3 or node, the probe of a health check, which fetches the first
// URL in its arguments; as anything else (the bridge's own program), the
// appservice role with its arguments.
package main

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

func main() {
	log.SetFlags(0)
	var err error
	switch name := filepath.Base(os.Args[0]); name {
	case "standin":
		err = runRole(os.Args[1:])
	case "curl", "python3", "node":
		err = probe(os.Args[1:])
		if err == nil {
			return
		}
	default:
		err = serveAppservice(os.Args[1:])
	}
	log.Fatal(err)
}

func runRole(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: standin element-web | static-web-server | exim-relay | appservice ARG...")
	}
	switch args[0] {
	case "element-web":
		// The real image serves /app, where config.json is mounted, with
		// nginx on ELEMENT_WEB_PORT.
		return serveFiles(envOr("ELEMENT_WEB_PORT", "8080"), "/app", elementIndex)
	case "static-web-server":
		return serveFiles(envOr("SERVER_PORT", "80"), envOr("SERVER_ROOT", "/public"), "")
	case "exim-relay":
		return acceptMail(":8025")
	case "appservice":
		return serveAppservice(args[1:])
	}
	return fmt.Errorf("unknown role %q", args[0])
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

const elementIndex = "<!doctype html><title>Element</title><p>Element Web stand-in</p>\n"

// serveFiles serves root on port; index, when set, answers for "/".
func serveFiles(port, root, index string) error {
	files := http.FileServer(http.Dir(root))
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" && index != "" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, index)
			return
		}
		files.ServeHTTP(w, r)
	})
	log.Printf("serving %s on :%s", root, port)
	return http.ListenAndServe(":"+port, handler)
}

// acceptMail answers SMTP well enough for a client to hand over a message,
// which it logs and drops.
func acceptMail(address string) error {
	listener, err := net.Listen("tcp", address)
	if err != nil {
		return err
	}
	log.Printf("accepting mail on %s", address)
	for {
		conn, err := listener.Accept()
		if err != nil {
			return err
		}
		go smtpSession(conn)
	}
}

func smtpSession(conn net.Conn) {
	defer conn.Close()
	in := bufio.NewReader(conn)
	reply := func(s string) { fmt.Fprintf(conn, "%s\r\n", s) }
	reply("220 exim-relay stand-in ESMTP")
	inData := false
	for {
		line, err := in.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		if inData {
			if line == "." {
				inData = false
				log.Print("message accepted")
				reply("250 OK")
			}
			continue
		}
		switch verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0]); verb {
		case "EHLO", "HELO":
			reply("250 exim-relay stand-in")
		case "DATA":
			inData = true
			reply("354 go ahead")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("250 OK")
		}
	}
}

// A health check's URL, whichever language the probe is written in.
var probeURL = regexp.MustCompile(`https?://[^\s'"()]+`)

// probe fetches the first URL in args and fails unless the answer is 2xx.
func probe(args []string) error {
	url := probeURL.FindString(strings.Join(args, " "))
	if url == "" {
		return fmt.Errorf("no URL in %q", args)
	}
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

// Ports a config file names: its listeners' "port:" keys and the ports
// of URLs, the bridge's own address among them (the registration's url).
var (
	portKey = regexp.MustCompile(`(?m)\bport:\s*"?(\d+)`)
	urlPort = regexp.MustCompile(`://[A-Za-z0-9._-]+:(\d+)`)
)

// serveAppservice listens on every port the files among args name, and
// answers every request with an empty JSON object: what Synapse expects
// of an appservice (transactions, pings, queries) and what a health check
// asks. It logs each request, so that the unit's journal shows what
// Synapse sent.
func serveAppservice(args []string) error {
	ports := map[int]bool{}
	for _, arg := range args {
		data, err := os.ReadFile(arg)
		if err != nil {
			continue // not a file: an option or a value
		}
		for _, re := range []*regexp.Regexp{portKey, urlPort} {
			for _, m := range re.FindAllSubmatch(data, -1) {
				// Below 1024 needs a capability the container does not have.
				if n, _ := strconv.Atoi(string(m[1])); n >= 1024 && n < 65536 {
					ports[n] = true
				}
			}
		}
	}
	if len(ports) == 0 {
		return fmt.Errorf("no port named in the files among %q", args)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		log.Printf("%s %s", r.Method, r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, "{}")
	})
	failed := make(chan error)
	listening := 0
	for port := range ports {
		listener, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
		if err != nil {
			log.Printf("not listening on %d: %v", port, err)
			continue
		}
		listening++
		log.Printf("appservice stand-in listening on :%d", port)
		go func() { failed <- http.Serve(listener, handler) }()
	}
	if listening == 0 {
		return fmt.Errorf("could listen on none of the ports %v", ports)
	}
	return <-failed
}
