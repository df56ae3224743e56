// Command pause is the sandbox ("pause") container of the local cluster's pods: no
// image can be pulled there, so containerd's sandbox_image is built from this. It
// holds the pod's namespaces open until SIGTERM or SIGINT and, being PID 1 of the
// pod when the PID namespace is shared, reaps the orphans reparented to it.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
