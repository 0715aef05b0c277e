# Helpers shared by the python buildpack's scripts (sourced, not executed).

header() { echo "-----> $*"; }
info() { echo "       $*"; }
warn() { echo "       WARNING: $*" >&2; }
fail() {
	echo "ERROR: $*" >&2
	exit 1
}

find_python() {
	local p
	for p in python3 python; do
		if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import sys; sys.exit(0 if sys.version_info[0] == 3 else 1)' 2>/dev/null; then
			command -v "$p"
			return 0
		fi
	done
	for p in /usr/local/bin/python3 /usr/bin/python3; do
		if [ -x "$p" ]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

require_python() {
	PYTHON=$(find_python) || fail "python3 is not installed on the stack '${CF_STACK:-host}': the python buildpack runs apps with the host's Python 3. Install python3 on the DEA host."
}
