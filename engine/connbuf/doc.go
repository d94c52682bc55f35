// Package connbuf holds a loop's connection buffers, which a connection owns only while bytes
// are pending (an idle connection owns none): the outbound queue of each connection that has
// output waiting (OutQueue: segments by reference or in pooled 4 KiB chunks, written with one
// write or writev of at most MaxIovecs segments), the write arena that copies small writes
// for one iteration (AppendArena, Rewind), and the inbound carry of bytes OnData left
// unconsumed (InPool, Carry).
//
// Queues and carries are named by int32 index+1 (0 = none), which the engine keeps in its
// pointer-free connection slot. A pool belongs to one loop and only that loop's goroutine
// touches it: nothing here locks. In steady state nothing here allocates: chunks, queues,
// carries and arena blocks are reused, and each pool sheds half its spare buffers above a low
// mark on every Trim (the loop's tick), so a burst's memory goes back within a few idle ticks.
//
// Only the engine imports it.
package connbuf
