// Command hello is the program internal/gobuild's tests build.
package main

import (
	"fmt"

	"github.com/genai-os/genai-build/internal/gobuild/testdata/hello/greeting"
)

func main() {
	fmt.Println(greeting.Text)
}
