#!/usr/bin/env bash
# Builds build/app.jar (an executable jar, Main-Class Main) with javac + jar.
# Push it with: ingot push -f manifest.yml  (the manifest's path is the jar)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
rm -rf build
mkdir -p build/classes
javac --release 11 -d build/classes src/Main.java
jar --create --file build/app.jar --main-class Main -C build/classes .
echo "built $(pwd)/build/app.jar"
