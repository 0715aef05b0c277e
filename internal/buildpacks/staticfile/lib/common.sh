# Helpers shared by the staticfile buildpack's scripts (sourced, not executed).

header() { echo "-----> $*"; }
info() { echo "       $*"; }
warn() { echo "       WARNING: $*" >&2; }
fail() {
	echo "ERROR: $*" >&2
	exit 1
}

find_go() {
	if command -v go >/dev/null 2>&1; then
		command -v go
		return 0
	fi
	local g
	for g in /usr/local/go/bin/go /usr/lib/go/bin/go /usr/lib/go-*/bin/go /opt/go/bin/go; do
		if [ -x "$g" ]; then
			echo "$g"
			return 0
		fi
	done
	return 1
}

# static_root <build-dir> prints the directory to serve, relative to the app
# ("." by default): the root: key of the Staticfile.
static_root() {
	local r
	r=$(sed -n 's/^root:[[:space:]]*//p' "$1/Staticfile" 2>/dev/null | head -n 1 | tr -d '\r')
	r=${r%%#*}
	r=$(printf '%s' "$r" | sed 's/[[:space:]]*$//')
	r=${r#\"}
	r=${r%\"}
	r=${r#\'}
	r=${r%\'}
	r=${r#./}
	r=${r%/}
	if [ -z "$r" ]; then
		r=.
	fi
	echo "$r"
}

# check_root <build-dir> <root> fails unless root is a directory inside the app.
check_root() {
	case "/$2/" in
	*/../*) fail "Staticfile root '$2' must stay inside the app" ;;
	esac
	case "$2" in
	/*) fail "Staticfile root '$2' must be a path relative to the app" ;;
	esac
	[ -d "$1/$2" ] || fail "Staticfile root '$2' is not a directory of the app"
}

yaml_quote() {
	local s=$1
	printf "'%s'" "${s//\'/\'\'}"
}
