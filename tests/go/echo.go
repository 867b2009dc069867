// echo: a TCP and UDP echo server and client in Go (net package), for the seccomp path.
//
//	echo serve tcp|udp ADDR   listen, print "ready PORT", echo every connection/datagram
//	echo client tcp|udp ADDR N SIZE   send N messages of SIZE bytes, check each echo
package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
)

func serveTCP(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Printf("ready %d\n", l.Addr().(*net.TCPAddr).Port)
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func(c net.Conn) {
			defer c.Close()
			io.Copy(c, c)
		}(c)
	}
}

func serveUDP(addr string) error {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return err
	}
	fmt.Printf("ready %d\n", pc.LocalAddr().(*net.UDPAddr).Port)
	buf := make([]byte, 65536)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return err
		}
		if _, err := pc.WriteTo(buf[:n], from); err != nil {
			return err
		}
	}
}

func client(network, addr string, count, size int) error {
	c, err := net.Dial(network, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	total := 0
	for i := 0; i < count; i++ {
		msg := bytes.Repeat([]byte{byte('a' + i%26)}, size)
		if _, err := c.Write(msg); err != nil {
			return err
		}
		got := make([]byte, size)
		if network == "tcp" {
			_, err = io.ReadFull(c, got)
		} else {
			var n int
			n, err = c.Read(got)
			got = got[:n]
		}
		if err != nil {
			return err
		}
		if !bytes.Equal(got, msg) {
			return fmt.Errorf("echo %d differs", i)
		}
		total += size
	}
	fmt.Printf("%s echoed %d bytes in %d messages\n", network, total, count)
	return nil
}

func main() {
	var err error
	switch {
	case len(os.Args) == 4 && os.Args[1] == "serve" && os.Args[2] == "tcp":
		err = serveTCP(os.Args[3])
	case len(os.Args) == 4 && os.Args[1] == "serve" && os.Args[2] == "udp":
		err = serveUDP(os.Args[3])
	case len(os.Args) == 6 && os.Args[1] == "client":
		n, _ := strconv.Atoi(os.Args[4])
		size, _ := strconv.Atoi(os.Args[5])
		err = client(os.Args[2], os.Args[3], n, size)
	default:
		err = fmt.Errorf("usage: echo serve tcp|udp ADDR | echo client tcp|udp ADDR N SIZE")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
}
