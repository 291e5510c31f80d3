// formatmap prints a JSON object of annotations the way the kubelet writes a downward-API
// annotations file (k8s.io/kubernetes/pkg/fieldpath.FormatMap): sorted keys, key=%q lines.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

func main() {
	var annotations map[string]string
	if err := json.NewDecoder(os.Stdin).Decode(&annotations); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	keys := make([]string, 0, len(annotations))
	for key := range annotations {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	var out strings.Builder
	for _, key := range keys {
		fmt.Fprintf(&out, "%v=%q\n", key, annotations[key])
	}
	fmt.Print(strings.TrimSuffix(out.String(), "\n"))
}
