"""python-hello is ingot's Python sample app: it answers on $PORT."""
import http.server
import os
import signal
import sys

PORT = int(os.environ.get("PORT", "8080"))
INDEX = os.environ.get("CF_INSTANCE_INDEX", "")


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path in ("/", "/index.html"):
            body = ("Hello from ingot (python) instance %s\n" % INDEX).encode()
        elif self.path == "/index":
            body = INDEX.encode()
        else:
            self.send_response(404)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.end_headers()
            self.wfile.write(b"not found\n")
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stdout.write("%s %s\n" % (self.address_string(), fmt % args))


def main():
    server = http.server.ThreadingHTTPServer(("0.0.0.0", PORT), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("python-hello instance %s listening on port %d" % (INDEX, PORT), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
