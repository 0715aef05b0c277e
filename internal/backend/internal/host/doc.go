// Package host holds what the isolation backends (process and runc) do the
// same way on the host: safe tar extraction into and streaming out of a
// container's directory, /proc parsing, disk usage walks, the port pool,
// the container.json records and the monitor loop. Where the backends
// differ on purpose (runc chowns what it extracts to the container's user)
// the helpers take the difference as a parameter.
package host
