"""The staticfile buildpack's fallback file server (used when the stack has
no Go toolchain to build server.go): python3 server.py <root>, listening on
$PORT. Same rules as server.go: index.html for a directory, 404 for anything
missing, no directory listings, never a hidden file, the Staticfile, a
manifest or a Procfile."""
import http.server
import os
import posixpath
import sys
import urllib.parse

HIDDEN = {"staticfile", "staticfile.auth", "manifest.yml", "manifest.yaml", "procfile"}


class Handler(http.server.SimpleHTTPRequestHandler):
    def _hidden(self):
        p = urllib.parse.urlsplit(self.path).path
        p = posixpath.normpath(urllib.parse.unquote(p))
        for el in p.split("/"):
            if el.startswith(".") and el not in ("", ".") or el.lower() in HIDDEN:
                return True
            if el == "..":
                return True
        return False

    def send_head(self):
        if self._hidden():
            self.send_error(404, "File not found")
            return None
        path = self.translate_path(self.path)
        real = os.path.realpath(path)
        base = os.path.realpath(self.directory)
        if real != base and not real.startswith(base + os.sep):
            self.send_error(404, "File not found")
            return None
        return super().send_head()

    def list_directory(self, path):
        self.send_error(404, "File not found")
        return None

    def log_message(self, fmt, *args):
        pass


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    port = int(os.environ.get("PORT", "8080"))

    def handler(*a, **kw):
        return Handler(*a, directory=root, **kw)

    srv = http.server.ThreadingHTTPServer(("0.0.0.0", port), handler)
    print("staticfile: serving %s on port %d (python fallback)" % (root, port), flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


main()
