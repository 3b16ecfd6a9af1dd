// Package greeting is an in-module dependency of the test program, so that the cache key has more
// than one local package to hash.
package greeting

// Text is what hello prints.
const Text = "hello from gobuild"
