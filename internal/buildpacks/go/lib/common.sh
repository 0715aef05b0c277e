# Helpers shared by the go buildpack's scripts (sourced, not executed).

header() { echo "-----> $*"; }
info() { echo "       $*"; }
warn() { echo "       WARNING: $*" >&2; }
fail() {
	echo "ERROR: $*" >&2
	exit 1
}

# find_go prints the path of the host's go command.
find_go() {
	if command -v go >/dev/null 2>&1; then
		command -v go
		return 0
	fi
	local g
	for g in /usr/local/go/bin/go /usr/lib/go/bin/go /usr/lib/go-*/bin/go /opt/go/bin/go /snap/bin/go; do
		if [ -x "$g" ]; then
			echo "$g"
			return 0
		fi
	done
	return 1
}

require_go() {
	GO=$(find_go) || fail "go is not installed on the stack '${CF_STACK:-host}': the go buildpack builds with the host's Go toolchain. Install Go on the DEA host (https://go.dev/dl), or build the binary yourself and push it with -b binary_buildpack."
	export PATH="$(dirname "$GO"):$PATH"
}

# app_name prints the name of the binary to build: the last element of the
# main package path (GO_INSTALL_PACKAGE_SPEC) or of the module path, or
# "app"; reduced to a safe file name.
app_name() {
	local build=$1 mod="" n
	if [ -n "${GO_INSTALL_PACKAGE_SPEC:-}" ]; then
		mod=$GO_INSTALL_PACKAGE_SPEC
	else
		mod=$(sed -n 's/^[[:space:]]*module[[:space:]]\{1,\}"\{0,1\}\([^"[:space:]]*\)"\{0,1\}.*$/\1/p' "$build/go.mod" | head -n 1)
	fi
	mod=${mod%/}
	n=${mod##*/}
	# A major-version suffix (example.com/app/v2) names no binary.
	if [[ $n =~ ^v[0-9]+$ ]] && [[ $mod == */* ]]; then
		mod=${mod%/*}
		n=${mod##*/}
	fi
	n=$(printf '%s' "$n" | tr -c 'A-Za-z0-9._-' '_')
	case "$n" in "" | . | .. | ./ | _*) n=app ;; esac
	echo "$n"
}
