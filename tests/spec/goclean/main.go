// goclean prints Go's filepath.Clean of each JSON string read from stdin, one per line: the judge of
// vaultinject.spec.paths.clean in tests/spec/test_upstream_rules.py.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	for in.Scan() {
		var p string
		if err := json.Unmarshal(in.Bytes(), &p); err != nil {
			panic(err)
		}
		out, _ := json.Marshal(filepath.Clean(p))
		fmt.Println(string(out))
	}
}
