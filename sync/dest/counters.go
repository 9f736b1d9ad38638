package dest

import "sync/atomic"

// fsyncs counts the fsync calls Save makes (file data and folder entries),
// for the benchmarks that keep local work per document small.
var fsyncs atomic.Int64

// Fsyncs returns how many fsync calls this process's Saves have made.
func Fsyncs() int64 { return fsyncs.Load() }
