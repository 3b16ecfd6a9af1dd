package genai

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// DefaultConfigFile is where an image keeps the assistant's endpoint; genai-build writes it from
// the edition manifest's assistant: field or `genai-build iso --assistant-endpoint`.
const DefaultConfigFile = "/etc/genai/assistant.conf"

// ErrNoEndpoint is returned by Config.Check when no endpoint is set anywhere: the caller tells the
// user how to set one (the file, GENAI_ENDPOINT, or the build flag).
var ErrNoEndpoint = errors.New("no assistant endpoint configured")

// Config says which server and model to use.
type Config struct {
	Endpoint   string // base URL of the OpenAI-compatible API, e.g. http://localhost:11434/v1
	Model      string
	APIKey     string // sent as "Authorization: Bearer"; empty for local servers
	APIKeyFile string // where APIKey was read from, if from a file
}

// LoadConfig reads the key = value file at path (a missing file is no error), then lays the
// environment over it (GENAI_ENDPOINT, GENAI_MODEL, GENAI_API_KEY; getenv is os.Getenv in
// programs). Flags go over the result in the caller, then Resolve reads a key file set by a flag.
func LoadConfig(path string, getenv func(string) string) (Config, error) {
	var c Config
	if path != "" {
		if err := c.readFile(path); err != nil {
			return c, err
		}
	}
	if v := getenv("GENAI_ENDPOINT"); v != "" {
		c.Endpoint = v
	}
	if v := getenv("GENAI_MODEL"); v != "" {
		c.Model = v
	}
	if v := getenv("GENAI_API_KEY"); v != "" {
		c.APIKey, c.APIKeyFile = v, ""
	}
	return c, nil
}

func (c *Config) readFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("assistant config: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return fmt.Errorf("%s:%d: want key = value, got %q", path, n, line)
		}
		k, v = strings.TrimSpace(k), strings.Trim(strings.TrimSpace(v), `"`)
		switch k {
		case "endpoint":
			c.Endpoint = v
		case "model":
			c.Model = v
		case "api_key_file":
			c.APIKeyFile = v
		default:
			return fmt.Errorf("%s:%d: unknown key %q (known: endpoint, model, api_key_file)", path, n, k)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("assistant config: %w", err)
	}
	return nil
}

// Resolve reads the key from APIKeyFile when no key is set yet, and checks that an endpoint is
// set (ErrNoEndpoint otherwise).
func (c *Config) Resolve() error {
	if c.APIKey == "" && c.APIKeyFile != "" {
		b, err := os.ReadFile(c.APIKeyFile)
		if err != nil {
			return fmt.Errorf("api_key_file: %w", err)
		}
		c.APIKey = strings.TrimSpace(string(b))
	}
	if strings.TrimSpace(c.Endpoint) == "" {
		return ErrNoEndpoint
	}
	if !strings.HasPrefix(c.Endpoint, "http://") && !strings.HasPrefix(c.Endpoint, "https://") {
		return fmt.Errorf("endpoint %q: want an http:// or https:// URL (e.g. http://localhost:11434/v1)", c.Endpoint)
	}
	return nil
}

// FormatConfig is the file genai-build writes into an image: endpoint, model and, when given, the
// path of a key file (never a key).
func FormatConfig(source, endpoint, model, apiKeyFile string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by genai-build from %s.\n# GENAI_ENDPOINT, GENAI_MODEL and GENAI_API_KEY override these; see genai-assistant(1).\n", source)
	fmt.Fprintf(&b, "endpoint = %s\n", endpoint)
	if model != "" {
		fmt.Fprintf(&b, "model = %s\n", model)
	}
	if apiKeyFile != "" {
		fmt.Fprintf(&b, "api_key_file = %s\n", apiKeyFile)
	}
	return b.String()
}
