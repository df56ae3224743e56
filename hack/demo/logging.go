package main

import (
	"io"
	"log/slog"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// setLogger gives controller-runtime's client a logger before anything uses it.
// Without one, controller-runtime prints "log.SetLogger(...) was never called" with
// a goroutine stack trace in the middle of the demo's output. Its errors go to w as
// one line each; its informational messages are not the newcomer's concern and are
// dropped.
func setLogger(w io.Writer) {
	h := slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelError})
	ctrllog.SetLogger(logr.FromSlogHandler(h))
}
