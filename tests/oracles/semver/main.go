// semver-oracle answers, for each line "hex(A) hex(B)" on stdin (hex, so any string fits on one line), Go's own verdict from golang.org/x/mod/semver
// (the rules the Go toolchain applies to module versions): "<valid A> <valid B> <compare A B>", e.g. "1 1 -1".
// Tests compare gatewayd-plugin-actions' semver module against it.
package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"golang.org/x/mod/semver"
)

func valid(v string) int {
	if semver.IsValid(v) {
		return 1
	}
	return 0
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		hexA, hexB, _ := strings.Cut(in.Text(), " ")
		rawA, errA := hex.DecodeString(hexA)
		rawB, errB := hex.DecodeString(hexB)
		if errA != nil || errB != nil {
			fmt.Fprintln(os.Stderr, "semver-oracle: expected two hex strings per line")
			os.Exit(2)
		}
		a, b := string(rawA), string(rawB)
		fmt.Fprintf(out, "%d %d %d\n", valid(a), valid(b), semver.Compare(a, b))
		out.Flush() // one answer per question: the test talks to one long-lived process
	}
}
