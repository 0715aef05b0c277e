# Helpers shared by the java buildpack's scripts (sourced, not executed).

header() { echo "-----> $*"; }
info() { echo "       $*"; }
warn() { echo "       WARNING: $*" >&2; }
fail() {
	echo "ERROR: $*" >&2
	exit 1
}

find_java() {
	if command -v java >/dev/null 2>&1; then
		command -v java
		return 0
	fi
	local j
	for j in "${JAVA_HOME:-/nonexistent}/bin/java" /usr/lib/jvm/default-java/bin/java /usr/lib/jvm/*/bin/java /opt/java/bin/java; do
		if [ -x "$j" ]; then
			echo "$j"
			return 0
		fi
	done
	return 1
}

require_java() {
	JAVA=$(find_java) || fail "java is not installed on the stack '${CF_STACK:-host}': the java buildpack runs jars with the host's Java runtime. Install a JRE (for example openjdk-17-jre-headless) on the DEA host."
}

# manifest_attr <MANIFEST.MF> <name> prints a main attribute of a jar
# manifest (continuation lines joined, CRLF tolerated).
manifest_attr() {
	awk -v want="$2" '
		function flush() {
			if (key != "" && tolower(key) == tolower(want)) { print val; found = 1; exit }
		}
		{ sub(/\r$/, "") }
		/^$/ { flush(); exit }
		/^ / { val = val substr($0, 2); next }
		{
			flush()
			i = index($0, ":")
			if (i == 0) { key = ""; next }
			key = substr($0, 1, i - 1)
			val = substr($0, i + 1)
			sub(/^ /, "", val)
		}
		END { if (!found) flush() }
	' "$1"
}

# exploded_main <build-dir> prints the Main-Class of an exploded jar.
exploded_main() {
	local mf="$1/META-INF/MANIFEST.MF"
	[ -f "$mf" ] || return 0
	manifest_attr "$mf" Main-Class | tr -d '[:space:]'
}

# root_jar <build-dir> prints the first *.jar at the root.
root_jar() {
	local j
	for j in "$1"/*.jar; do
		if [ -f "$j" ]; then
			basename "$j"
			return 0
		fi
	done
}

yaml_quote() {
	local s=$1
	printf "'%s'" "${s//\'/\'\'}"
}
