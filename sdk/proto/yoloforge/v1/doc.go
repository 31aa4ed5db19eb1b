// Package yoloforgev1 is the generated Go code of YOLOForge's plugin
// protocol, version 1: the Component gRPC service and the messages that
// carry sdk/ir graphs and sdk/plugin types. Plugin authors do not use it
// directly; sdk/plugin converts to and from these messages.
package yoloforgev1

//go:generate bash ../../gen.sh
