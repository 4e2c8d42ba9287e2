// Command standin takes the place, in boot tests, of the images that cannot
// be built here from Debian packages: Element Web, static-web-server and the
// Exim relay. Each role reads the environment and mounts the bundle gives the
// real image and answers what the rest of the bundle asks of it, so that a
// boot shows whether the bundle wires them up right; what the real programs
// do beyond that is theirs to test.
//
// Usage: standin element-web | static-web-server | exim-relay
package main

import (
	"bufio"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
)

func main() {
	log.SetFlags(0)
	if len(os.Args) != 2 {
		log.Fatal("usage: standin element-web | static-web-server | exim-relay")
	}
	var err error
	switch os.Args[1] {
	case "element-web":
		// The real image serves /app, where config.json is mounted, with
		// nginx on ELEMENT_WEB_PORT.
		err = serveFiles(envOr("ELEMENT_WEB_PORT", "8080"), "/app", elementIndex)
	case "static-web-server":
		err = serveFiles(envOr("SERVER_PORT", "80"), envOr("SERVER_ROOT", "/public"), "")
	case "exim-relay":
		err = acceptMail(":8025")
	default:
		err = fmt.Errorf("unknown role %q", os.Args[1])
	}
	log.Fatal(err)
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
