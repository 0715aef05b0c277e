package router

import (
	"errors"
	"io"
	"os"
	"strconv"
	"time"
)

// Response body copies for the server loop. The client's writer is
// flushed whenever the backend has nothing buffered, just before a read
// that may block: small responses go out in one write with their head,
// streams as they arrive.

// maxChunkLine bounds a chunk-size or trailer line from a backend.
const maxChunkLine = 4 << 10

// fill flushes the client, then waits for backend bytes. The deadline set
// for the response head only starts the client watcher and is lifted when
// it passes mid-body: bodies may take long (as on the net/http path).
func (lc *loopConn) fill(bc *backendConn) error {
	if err := lc.bw.Flush(); err != nil {
		return err
	}
	for {
		_, err := bc.br.Peek(1)
		if err == nil {
			return nil
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) || lc.isGone() {
			if lc.isGone() {
				return errClientGone
			}
			return err
		}
		lc.watch()
		if err := lc.setBackendDeadline(bc, time.Time{}); err != nil {
			return err
		}
	}
}

// copyBody copies exactly n body bytes.
func (lc *loopConn) copyBody(st *reqState, bc *backendConn, n int64) error {
	for n > 0 {
		if bc.br.Buffered() == 0 {
			if n > backendBufSize {
				if err := lc.copyLarge(st, bc, n); err != nil {
					return err
				}
				return nil
			}
			if err := lc.fill(bc); err != nil {
				return err
			}
		}
		k := int(min(int64(bc.br.Buffered()), n))
		b, _ := bc.br.Peek(k)
		if _, err := lc.bw.Write(b); err != nil {
			return err
		}
		_, _ = bc.br.Discard(k)
		n -= int64(k)
		st.rw.bytes += int64(k)
	}
	return nil
}

// copyLarge copies n bytes with a pooled 32 KiB buffer, bypassing the
// backend reader's small one.
func (lc *loopConn) copyLarge(st *reqState, bc *backendConn, n int64) error {
	bufp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bufp)
	buf := *bufp
	for n > 0 {
		if err := lc.bw.Flush(); err != nil {
			return err
		}
		m, err := bc.c.Read(buf[:min(int64(len(buf)), n)])
		if m > 0 {
			if _, werr := lc.bw.Write(buf[:m]); werr != nil {
				return werr
			}
			n -= int64(m)
			st.rw.bytes += int64(m)
		}
		if err != nil && n > 0 {
			if errors.Is(err, os.ErrDeadlineExceeded) && !lc.isGone() {
				lc.watch()
				if err := lc.setBackendDeadline(bc, time.Time{}); err != nil {
					return err
				}
				continue
			}
			if err == io.EOF {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// passLine reads one CRLF line (a chunk size or a trailer) of at most
// maxChunkLine bytes into lc.rhead and writes it to the client as is.
func (lc *loopConn) passLine(bc *backendConn) ([]byte, error) {
	lc.rhead = lc.rhead[:0]
	for {
		if bc.br.Buffered() == 0 {
			if err := lc.fill(bc); err != nil {
				return nil, err
			}
		}
		b, _ := bc.br.Peek(bc.br.Buffered())
		i := 0
		for i < len(b) && b[i] != '\n' {
			i++
		}
		if i < len(b) {
			i++
		}
		lc.rhead = append(lc.rhead, b[:i]...)
		_, _ = bc.br.Discard(i)
		if len(lc.rhead) > maxChunkLine {
			return nil, errors.New("chunk line too long")
		}
		if n := len(lc.rhead); n > 0 && lc.rhead[n-1] == '\n' {
			if n < 2 || lc.rhead[n-2] != '\r' {
				return nil, errors.New("malformed chunked encoding")
			}
			if _, err := lc.bw.Write(lc.rhead); err != nil {
				return nil, err
			}
			return lc.rhead[:n-2], nil
		}
	}
}

// copyChunked passes a chunked body through as sent (chunk extensions and
// trailers included), checking its framing.
func (lc *loopConn) copyChunked(st *reqState, bc *backendConn) error {
	for {
		line, err := lc.passLine(bc)
		if err != nil {
			return err
		}
		size := line
		for i, c := range size {
			if c == ';' || c == ' ' || c == '\t' {
				size = size[:i]
				break
			}
		}
		if len(size) == 0 || len(size) > 15 {
			return errors.New("malformed chunk size")
		}
		n, err := strconv.ParseInt(unsafeString(size), 16, 64)
		if err != nil || n < 0 {
			return errors.New("malformed chunk size")
		}
		if n == 0 {
			for { // trailers, up to the empty line
				t, err := lc.passLine(bc)
				if err != nil {
					return err
				}
				if len(t) == 0 {
					return nil
				}
			}
		}
		if err := lc.copyBody(st, bc, n); err != nil {
			return err
		}
		crlf, err := lc.passLine(bc)
		if err != nil {
			return err
		}
		if len(crlf) != 0 {
			return errors.New("malformed chunked encoding")
		}
	}
}

// copyUntilClose re-chunks a body delimited by the backend closing the
// connection, so the client's connection can stay open.
func (lc *loopConn) copyUntilClose(st *reqState, bc *backendConn) error {
	var hex [20]byte
	for {
		if bc.br.Buffered() == 0 {
			if err := lc.fill(bc); err != nil {
				if err == io.EOF {
					_, werr := lc.bw.WriteString("0\r\n\r\n")
					return werr
				}
				return err
			}
		}
		b, _ := bc.br.Peek(bc.br.Buffered())
		_, _ = lc.bw.Write(strconv.AppendInt(hex[:0], int64(len(b)), 16))
		_, _ = lc.bw.WriteString("\r\n")
		_, _ = lc.bw.Write(b)
		if _, err := lc.bw.WriteString("\r\n"); err != nil {
			return err
		}
		st.rw.bytes += int64(len(b))
		_, _ = bc.br.Discard(len(b))
	}
}
