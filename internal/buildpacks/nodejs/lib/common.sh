# Helpers shared by the nodejs buildpack's scripts (sourced, not executed).

header() { echo "-----> $*"; }
info() { echo "       $*"; }
warn() { echo "       WARNING: $*" >&2; }
fail() {
	echo "ERROR: $*" >&2
	exit 1
}

find_tool() {
	local t=$1 p
	if command -v "$t" >/dev/null 2>&1; then
		command -v "$t"
		return 0
	fi
	for p in /usr/local/bin/$t /usr/bin/$t /opt/node/bin/$t /usr/local/node/bin/$t; do
		if [ -x "$p" ]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

require_node() {
	NODE=$(find_tool node) || fail "node is not installed on the stack '${CF_STACK:-host}': the nodejs buildpack runs apps with the host's Node.js. Install Node.js on the DEA host."
	export PATH="$(dirname "$NODE"):$PATH"
}

# pkg_query <build-dir> <what> prints facts about package.json:
#   deps   the number of dependencies + optionalDependencies
#   start  "1" when scripts.start is set
#   main   the entry file: main, else server.js, else index.js (if present)
pkg_query() {
	"$NODE" - "$1" "$2" <<'JS'
const fs = require("fs"), path = require("path");
const [dir, what] = process.argv.slice(2);
let p;
try {
  p = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
} catch (e) {
  console.error("package.json is not valid JSON: " + e.message);
  process.exit(2);
}
if (p === null || typeof p !== "object") p = {};
const count = (o) => (o && typeof o === "object" ? Object.keys(o).length : 0);
switch (what) {
  case "deps":
    console.log(count(p.dependencies) + count(p.optionalDependencies));
    break;
  case "start":
    console.log(p.scripts && typeof p.scripts.start === "string" && p.scripts.start.trim() ? "1" : "");
    break;
  case "main": {
    const cands = [];
    if (typeof p.main === "string" && p.main) cands.push(p.main);
    cands.push("server.js", "index.js");
    for (const c of cands) {
      const f = path.normalize(c);
      if (f.startsWith("..") || path.isAbsolute(f)) continue;
      for (const g of [f, f + ".js"]) {
        try {
          if (fs.statSync(path.join(dir, g)).isFile()) { console.log(g); process.exit(0); }
        } catch (e) {}
      }
    }
    console.log("");
    break;
  }
}
JS
}
