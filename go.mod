module github.com/hookwatch/hookwatch

go 1.26.8

require (
	github.com/cilium/ebpf v0.22.0
	github.com/sirupsen/logrus v1.10.2
	golang.org/x/sys v0.50.0
	golang.org/x/term v0.48.0
	gopkg.in/yaml.v3 v3.0.1
)

require github.com/fsnotify/fsnotify v1.10.1 // indirect

tool github.com/cilium/ebpf/cmd/bpf2go
