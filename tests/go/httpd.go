// httpd: a Go HTTP server (net/http) for the seccomp path: listens on ADDR, prints
// "ready PORT", answers every GET with "hello from go\n".
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: httpd ADDR")
		os.Exit(2)
	}
	l, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "httpd:", err)
		os.Exit(1)
	}
	fmt.Printf("ready %d\n", l.Addr().(*net.TCPAddr).Port)
	err = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "hello from go\n")
	}))
	fmt.Fprintln(os.Stderr, "httpd:", err)
	os.Exit(1)
}
